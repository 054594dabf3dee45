import json
import logging

from bridge.logs import JsonFormatter


def _format(**extra) -> dict:
    record = logging.LogRecord("jembatan.x", logging.INFO, __file__, 1, "stored", None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return json.loads(JsonFormatter().format(record))


def test_only_allow_listed_fields_are_logged():
    entry = _format(transaction="t1", channel="c", payload="PID|||3174031002890009", client_secret="s3cret")
    assert entry["transaction"] == "t1" and entry["channel"] == "c"
    assert "payload" not in entry and "client_secret" not in entry


def test_exceptions_log_their_type_not_their_message():
    try:
        raise ValueError("NIK 3174031002890009 invalid")
    except ValueError:
        import sys

        record = logging.LogRecord("jembatan.x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = JsonFormatter().format(record)
    assert "3174031002890009" not in line
    assert json.loads(line)["error"] == "ValueError"

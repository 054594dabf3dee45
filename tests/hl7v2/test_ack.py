from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.hl7v2.ack import Header, _esc, build_ack, header_of, sniff_header
from adapters.hl7v2.codec import Hl7v2Codec, V2Message
from adapters.hl7v2.escape import escape
from bridge.errors import DecodeError

RAW = b"MSH|^~\\&|SIMRS|RSUD|GW|KEMKES|20240101083000||ADT^A04^ADT_A01|C123|P|2.5\rPID|1||RM001^^^RSUD^MR\r"
NOW = datetime(2024, 1, 1, 1, 0, tzinfo=UTC)


def parsed() -> V2Message:
    msg = Hl7v2Codec().parse(RAW)
    assert isinstance(msg, V2Message)
    return msg


def test_aa_echoes_control_id_and_swaps_sender() -> None:
    ack = Hl7v2Codec().parse(build_ack(header_of(parsed()), now=NOW, control_id="A1"))
    assert isinstance(ack, V2Message)
    assert ack.get("MSA-1") == "AA" and ack.get("MSA-2") == "C123"
    assert ack.get("MSH-3") == "GW" and ack.get("MSH-5") == "SIMRS" and ack.get("MSH-9") == "ACK"
    assert ack.get("MSH-9.2") == "A04" and ack.get("MSH-10") == "A1" and ack.get("MSH-12") == "2.5"
    assert [str(s[0]) for s in ack.message] == ["MSH", "MSA"]


def test_ae_has_err_with_location_and_code() -> None:
    raw = build_ack(header_of(parsed()), "AE", text="code X|Y unmapped", error_code="GW-2201", location="PID-8")
    ack = Hl7v2Codec().parse(raw)
    assert isinstance(ack, V2Message)
    assert ack.get("MSA-1") == "AE" and ack.get("MSA-3") == "code X|Y unmapped"
    assert ack.get("ERR-2.1") == "PID" and ack.get("ERR-2.3") == "8"
    assert ack.get("ERR-3.1") == "207" and ack.get("ERR-4") == "E"


def test_ar_from_unparseable_message_still_echoes_msh10() -> None:
    bad = b"MSH|^~\\&|LIS|LAB|GW|RS|2024||ORU^R01|X99|P|3.1\rOBX|1\r"
    with pytest.raises(DecodeError) as info:
        Hl7v2Codec().parse(bad)
    exc = info.value
    raw = build_ack(sniff_header(bad), "AR", text=exc.message, error_code=exc.code, location=exc.location)
    ack = Hl7v2Codec().parse(raw)
    assert isinstance(ack, V2Message)
    assert ack.get("MSA-1") == "AR" and ack.get("MSA-2") == "X99"
    assert ack.get("ERR-3.1") == "203" and ack.get("ERR-2.3") == "12"


def test_pre_25_uses_err1() -> None:
    header = sniff_header(b"MSH|^~\\&|A|B|C|D|1993||ADT^A01|M1|P|2.2\r")
    raw = build_ack(header, "AR", error_code="GW-1307", location="PID-3")
    assert raw.split(b"\r")[2] == b"ERR|PID^1^3^101&Required field missing"


def test_sniff_header_of_garbage_gives_defaults() -> None:
    assert sniff_header(b"\x00\x01garbage").control_id == ""
    assert b"MSA|AR\r" in build_ack(sniff_header(b"nothing"), "AR")


@pytest.mark.parametrize("encoding", ["^~\\&", "^~#$", "*!+%"])
@pytest.mark.parametrize(
    "text", ["", "plain text", "kode \u00e9\u4e2d", *"|^~\\&#$*!+%", "a\nb", "a\rb", "\x01", "\x7f", "\x85"]
)
def test_ack_text_is_escaped_exactly_as_escape_does(text, encoding):
    header = Header(field_sep="|", encoding=encoding, control_id="1")
    seps = "\r|" + encoding[1] + encoding[0] + encoding[3]
    assert _esc(f"x{text}y", header) == escape(f"x{text}y", esc=encoding[2], separators=seps)

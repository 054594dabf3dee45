import json

import pytest

from adapters.bpjs.crypto import Credentials, encrypt_response
from adapters.bpjs.envelope import build_envelope, is_html, parse_envelope
from bridge.errors import DecodeError

CREDS = Credentials("12345", "s3cr3tKey", "uk")
TS = "1732400000"


def _body(obj):
    return json.dumps(obj).encode()


def test_vclaim_string_code_and_encrypted_response():
    token = encrypt_response('{"rujukan": {"noKunjungan": "0301R0010321B000012"}}', CREDS, TS)
    env = parse_envelope(_body(build_envelope("200", "OK", token)), credentials=CREDS, timestamp=TS)
    assert env.ok and env.code == 200 and env.message == "OK"
    assert env.response == {"rujukan": {"noKunjungan": "0301R0010321B000012"}}


def test_lowercase_metadata_and_numeric_code():
    env = parse_envelope(_body({"metadata": {"code": 200, "message": "Ok"}, "response": {"list": []}}))
    assert env.code == 200 and env.wrapper_key == "metadata" and env.response == {"list": []}


def test_code_with_spaces_and_null_response():
    env = parse_envelope(_body({"metaData": {"code": " 201 ", "message": "Data tidak ditemukan"}, "response": None}))
    assert env.code == 201 and not env.ok and env.response is None


def test_empty_string_response_is_none_and_not_decrypted():
    env = parse_envelope(_body(build_envelope("200", "OK", "")), credentials=CREDS, timestamp=TS)
    assert env.response is None


def test_error_code_response_is_not_decrypted():
    env = parse_envelope(_body(build_envelope("201", "Peserta tidak ditemukan", "xx")), credentials=CREDS, timestamp=TS)
    assert env.code == 201 and env.response == "xx"


def test_unquoted_referral_number_in_update_answer():
    body = b'{"metaData":{"code":"200","message":"OK"},"response":0301R0010321B000012}'
    assert parse_envelope(body).response == "0301R0010321B000012"


def test_encrypted_bare_referral_number_stays_a_string():
    token = encrypt_response("0301R0010321B000012", CREDS, TS)
    env = parse_envelope(_body(build_envelope("200", "OK", token)), credentials=CREDS, timestamp=TS)
    assert env.response == "0301R0010321B000012"


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (
            b"<html><head><title>Runtime Error</title></head><body>Server Error</body></html>",
            None,
        ),
        (b"  <!DOCTYPE html><html><body><h1>404 - File or directory not found.</h1></body></html>", None),
        (b"Not Found", "text/html; charset=utf-8"),
    ],
)
def test_html_page_is_refused_without_decrypt(body, ctype, monkeypatch):
    import adapters.bpjs.envelope as envelope

    def boom(*args, **kwargs):
        raise AssertionError("decrypt must not be attempted")

    monkeypatch.setattr(envelope, "decrypt_response", boom)
    with pytest.raises(DecodeError) as err:
        parse_envelope(body, content_type=ctype, credentials=CREDS, timestamp=TS)
    assert err.value.code == "GW-1401"
    assert "HTML" in err.value.message


def test_html_summary_uses_title():
    with pytest.raises(DecodeError, match="Runtime Error"):
        parse_envelope(b"<html><title>Runtime Error</title></html>")


def test_is_html_false_for_json():
    assert not is_html(b'{"metaData": {}}', "application/json")


def test_missing_wrapper():
    with pytest.raises(DecodeError) as err:
        parse_envelope(b'{"response": null}')
    assert err.value.code == "GW-1403"


def test_non_numeric_code():
    with pytest.raises(DecodeError) as err:
        parse_envelope(b'{"metaData": {"code": "OK", "message": ""}}')
    assert err.value.code == "GW-1404" and err.value.location == "metaData.code"


def test_not_json():
    with pytest.raises(DecodeError) as err:
        parse_envelope(b'{"metaData": ')
    assert err.value.code == "GW-1402"


def test_too_large():
    with pytest.raises(DecodeError) as err:
        parse_envelope(b"{}" * 100, max_bytes=10)
    assert err.value.code == "GW-1408"


def test_decrypt_needs_timestamp():
    with pytest.raises(DecodeError) as err:
        parse_envelope(_body(build_envelope("200", "OK", "abcd")), credentials=CREDS)
    assert err.value.code == "GW-1410"


def test_wrong_key_in_envelope_names_cause():
    token = encrypt_response('{"x": "y"}', CREDS, TS)
    with pytest.raises(DecodeError, match="wrong key"):
        parse_envelope(_body(build_envelope("200", "OK", token)), credentials=Credentials("12345", "bad"), timestamp=TS)

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.bpjs.crypto import (
    Credentials,
    decrypt_response,
    derive_key,
    encrypt_response,
    hmac_sha256_b64,
    make_headers,
    signature,
    timestamp_now,
)
from bridge.errors import DecodeError

CREDS = Credentials("12345", "s3cr3tKey", "uk-vclaim")
TS = "1732400000"


def test_signature_matches_bpjs_test_vector():
    assert hmac_sha256_b64("aaa", "bbb") == "20BKS3PWnD3XU4JbSSZvVlGi2WWnDa8Sv9uHJ+wsELA="


def test_signature_signs_consid_ampersand_timestamp():
    assert signature("12345", "s3cr3tKey", TS) == hmac_sha256_b64("12345&1732400000", "s3cr3tKey")


def test_headers_carry_the_four_fields():
    headers = make_headers(CREDS, TS)
    assert headers == {
        "X-cons-id": "12345",
        "X-timestamp": TS,
        "X-signature": signature("12345", "s3cr3tKey", TS),
        "user_key": "uk-vclaim",
    }


def test_timestamp_is_utc_epoch_seconds():
    assert timestamp_now(lambda: 1732400000.987) == "1732400000"


def test_key_is_sha256_of_consid_secret_timestamp():
    import hashlib

    assert derive_key("1", "2", "3") == hashlib.sha256(b"123").digest()
    assert len(derive_key("1", "2", "3")) == 32


def test_credentials_repr_hides_secret():
    assert "s3cr3tKey" not in repr(CREDS)


@given(st.text(alphabet=st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), max_size=300))
def test_encrypt_decrypt_round_trip(text):
    if not text or not all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return
    assert decrypt_response(encrypt_response(text, CREDS, TS), CREDS, TS) == text


def test_wrong_timestamp_names_the_key_as_cause():
    token = encrypt_response('{"rujukan": {"noKunjungan": "x"}}', CREDS, TS)
    with pytest.raises(DecodeError) as err:
        decrypt_response(token, CREDS, "1732400001")
    assert err.value.code in ("GW-1413", "GW-1414")
    assert "wrong key" in err.value.message and "X-timestamp" in err.value.message


def test_wrong_secret_fails_with_key_message():
    token = encrypt_response('{"a": "b"}' * 20, CREDS, TS)
    other = Credentials("12345", "another", "uk")
    with pytest.raises(DecodeError, match="wrong key"):
        decrypt_response(token, other, TS)


def test_plain_text_is_not_base64():
    with pytest.raises(DecodeError) as err:
        decrypt_response("Peserta tidak ditemukan!", CREDS, TS)
    assert err.value.code == "GW-1411"


def test_truncated_ciphertext_reports_block_size():
    token = base64.b64encode(b"0123456789").decode()
    with pytest.raises(DecodeError) as err:
        decrypt_response(token, CREDS, TS)
    assert err.value.code == "GW-1412"


def test_missing_lz_step_is_reported():
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = derive_key(CREDS.cons_id, CREDS.secret, TS)
    padder = padding.PKCS7(128).padder()
    data = padder.update(b'{"plain": "json without lz"}') + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    token = base64.b64encode(enc.update(data) + enc.finalize()).decode()
    with pytest.raises(DecodeError) as err:
        decrypt_response(token, CREDS, TS)
    assert err.value.code == "GW-1414"


def test_characters_outside_the_bmp_use_utf16_units_like_javascript():
    from adapters.bpjs.crypto import from_utf16_units, to_utf16_units

    text = '{"nama": "Ani \U0001f600"}'
    units = to_utf16_units(text)
    assert len(units) == len(text) + 1 and "\ud83d\ude00" in units
    assert from_utf16_units(units) == text
    assert decrypt_response(encrypt_response(text, CREDS, TS), CREDS, TS) == text


def test_known_lz_string_vector():
    import lzstring

    # lz-string's compressToEncodedURIComponent of "hello" (same in the JS original)
    assert lzstring.LZString().compressToEncodedURIComponent("hello") == "BYUwNmD2Q"

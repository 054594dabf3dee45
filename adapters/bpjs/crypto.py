"""BPJS bridging transport security: the request signature and the response cipher.

Every BPJS service of the VClaim family (VClaim, PCare v4, Antrean, Apotek, Aplicares …) signs
requests the same way and encrypts the ``response`` field of its answers:

* ``X-signature = base64(HMAC-SHA256(key=consumer secret, message=consId + "&" + X-timestamp))``
* ``key = SHA-256(consId + secret + X-timestamp)`` (raw 32 bytes), ``iv = key[:16]``,
  AES-256-CBC with PKCS#7 padding over the base64-decoded ``response``, and the plaintext is an
  LZ-string ``compressToEncodedURIComponent`` text of the JSON.

The decryption key depends on the *exact* ``X-timestamp`` string sent with that request: keep it.
Functions here do no I/O; failures raise :class:`bridge.errors.DecodeError` (GW-14xx) naming the
likely cause.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

import lzstring
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bridge.errors import DecodeError

__all__ = [
    "Credentials",
    "decrypt_response",
    "derive_key",
    "encrypt_response",
    "hmac_sha256_b64",
    "make_headers",
    "signature",
    "timestamp_now",
]

_LZ = lzstring.LZString()
KEY_HINT = (
    "key = SHA-256(consId + secret + X-timestamp of this request), IV = first 16 bytes of that key; "
    "check the consumer secret, the order of the parts and that the timestamp is the one sent"
)


@dataclass(frozen=True)
class Credentials:
    """One facility's consumer pair plus the per-service ``user_key``."""

    cons_id: str
    secret: str
    user_key: str = ""

    def __repr__(self) -> str:  # never print the secret
        return f"Credentials(cons_id={self.cons_id!r}, secret='***', user_key='***')"


def hmac_sha256_b64(message: str, key: str) -> str:
    """Standard base64 of the raw HMAC-SHA256 digest (``aaa``/``bbb`` → ``20BKS3PW…ELA=``)."""
    digest = hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature(cons_id: str, secret: str, timestamp: str) -> str:
    return hmac_sha256_b64(f"{cons_id}&{timestamp}", secret)


def timestamp_now(clock: Callable[[], float] = time.time) -> str:
    """UTC epoch seconds as a decimal string (``time.time`` is already UTC-based)."""
    return str(int(clock()))


def make_headers(creds: Credentials, timestamp: str | None = None) -> dict[str, str]:
    """The four BPJS headers; ``timestamp`` defaults to now and must be kept for decryption."""
    ts = timestamp if timestamp is not None else timestamp_now()
    headers = {
        "X-cons-id": creds.cons_id,
        "X-timestamp": ts,
        "X-signature": signature(creds.cons_id, creds.secret, ts),
    }
    if creds.user_key:
        headers["user_key"] = creds.user_key
    return headers


def derive_key(cons_id: str, secret: str, timestamp: str) -> bytes:
    return hashlib.sha256(f"{cons_id}{secret}{timestamp}".encode()).digest()


def _cipher(key: bytes) -> Cipher[modes.CBC]:
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def encrypt_response(payload: str, creds: Credentials, timestamp: str) -> str:
    """What BPJS does to a JSON text before putting it in ``response`` (used by the simulator)."""
    compressed = _LZ.compressToEncodedURIComponent(to_utf16_units(payload)).encode("utf-8")
    padder = padding.PKCS7(128).padder()
    padded = padder.update(compressed) + padder.finalize()
    encryptor = _cipher(derive_key(creds.cons_id, creds.secret, timestamp)).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecodeError(
            "GW-1411",
            "response is not base64: it was probably never encrypted (plain text or HTML)",
            location="response",
        ) from exc
    if not raw or len(raw) % 16:
        raise DecodeError(
            "GW-1412",
            f"encrypted response has {len(raw)} bytes, not a multiple of the AES block (16)",
            location="response",
        )
    return raw


def _aes_decrypt(raw: bytes, key: bytes) -> bytes:
    decryptor = _cipher(key).decryptor()
    padded = decryptor.update(raw) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise DecodeError(
            "GW-1413",
            f"decryption failed (bad PKCS#7 padding): wrong key or IV — {KEY_HINT}",
            location="response",
        ) from exc


def _lz_decompress(plain: bytes) -> str:
    try:
        text = _LZ.decompressFromEncodedURIComponent(plain.decode("ascii"))
    except (UnicodeDecodeError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise DecodeError(
            "GW-1414",
            f"decrypted bytes are not LZ-string text: wrong key or IV — {KEY_HINT}",
            location="response",
        ) from exc
    if not text or not _mostly_text(text):
        raise DecodeError(
            "GW-1414",
            f"LZ-string decompression gave no readable text: wrong key or IV — {KEY_HINT}",
            location="response",
        )
    return from_utf16_units(str(text))


def to_utf16_units(text: str) -> str:
    """Characters outside the BMP as two surrogate code units, as JavaScript/Java/PHP LZ-string see them."""
    if text.isascii() or all(ord(ch) <= 0xFFFF for ch in text):
        return text
    raw = text.encode("utf-16-le", "surrogatepass")
    return "".join(chr(int.from_bytes(raw[i : i + 2], "little")) for i in range(0, len(raw), 2))


def from_utf16_units(text: str) -> str:
    """Join surrogate pairs produced by a UTF-16 based LZ-string back into characters."""
    if not any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", errors="replace")


def _mostly_text(text: str) -> bool:
    """Readable text: printable characters, line breaks, tabs and (still paired) surrogates."""
    return all(ch.isprintable() or ch in "\r\n\t" or 0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def decrypt_response(ciphertext: str, creds: Credentials, timestamp: str) -> str:
    """The decrypted, decompressed ``response`` text (usually JSON).

    Raises DecodeError GW-1411 (not base64), GW-1412 (not whole AES blocks), GW-1413 (padding:
    wrong key), GW-1414 (not LZ-string: wrong key, or the LZ step was skipped upstream).
    """
    raw = _b64decode(ciphertext)
    plain = _aes_decrypt(raw, derive_key(creds.cons_id, creds.secret, timestamp))
    return _lz_decompress(plain)

"""Normalise every BPJS answer envelope variant into one :class:`Envelope`.

Variants handled (bpjs.md §1, §6):

* wrapper key ``metaData`` (VClaim, PCare, Apotek) or ``metadata`` (Aplicares, Antrean), any casing;
* ``code`` as a string (``"200"``) or a number (``200``), with stray spaces;
* ``response`` ``null``, ``""``, an encrypted string, or plain JSON (unencrypted services);
* catalogue answers whose ``response`` is an unquoted referral number (not valid JSON);
* HTML error pages (IIS "Runtime Error", 404/500 from a wrong service name) → DecodeError
  GW-1401 with the page title, and never a decryption attempt.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

from adapters.bpjs.crypto import Credentials, decrypt_response
from bridge.errors import DecodeError

__all__ = [
    "MAX_BODY",
    "Envelope",
    "build_envelope",
    "html_summary",
    "is_html",
    "load_json_body",
    "parse_envelope",
]

MAX_BODY = 10 * 1024 * 1024
_UNQUOTED_RESPONSE = re.compile(r'("response"\s*:\s*)([A-Za-z0-9][A-Za-z0-9./-]*)(\s*[,}])')
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Envelope:
    """A normalised answer: integer ``code``, ``message`` and the decoded ``response`` (or None)."""

    code: int
    message: str
    response: Any = None
    wrapper_key: str = "metaData"

    @property
    def ok(self) -> bool:
        return self.code == 200


def is_html(body: bytes, content_type: str | None = None) -> bool:
    if content_type and "html" in content_type.lower():
        return True
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
    return head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body", b"<"))


def html_summary(body: bytes, limit: int = 200) -> str:
    text = body[:65536].decode("utf-8", errors="replace")
    title = _TITLE.search(text)
    found = title.group(1) if title else _TAGS.sub(" ", text)
    return " ".join(html.unescape(found).split())[:limit] or "(empty page)"


def _repair(text: str) -> str:
    """Quote a bare ``"response": 0301R0010321B000012`` (catalogue samples for update/delete)."""
    return _UNQUOTED_RESPONSE.sub(lambda m: f'{m.group(1)}"{m.group(2)}"{m.group(3)}', text)


def load_json_body(body: bytes, *, max_bytes: int = MAX_BODY) -> Any:
    """UTF-8 JSON with a size limit and the unquoted-response repair; DecodeError GW-1402/GW-1408."""
    return _load(body, max_bytes)[0]


def _load(body: bytes, max_bytes: int) -> tuple[Any, bool]:
    """(document, whether the unquoted-response repair was needed)."""
    if len(body) > max_bytes:
        raise DecodeError("GW-1408", f"BPJS body of {len(body)} bytes exceeds the limit of {max_bytes}")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DecodeError("GW-1402", f"BPJS body is not UTF-8 (byte {exc.start})") from exc
    try:
        return json.loads(text), False
    except json.JSONDecodeError:
        pass
    try:
        return json.loads(_repair(text)), True
    except json.JSONDecodeError as exc:
        raise DecodeError(
            "GW-1402", f"BPJS body is not JSON: {exc.msg}", location=f"line {exc.lineno}, col {exc.colno}"
        ) from exc


def _meta(doc: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    for key, value in doc.items():
        if key.lower() == "metadata" and isinstance(value, dict):
            return key, value
    raise DecodeError("GW-1403", "BPJS answer has no metaData/metadata object", location="metaData")


def _code(meta: dict[str, Any], key: str) -> int:
    raw = meta.get("code")
    if isinstance(raw, bool):
        raw = None
    try:
        return int(str(raw).strip())
    except ValueError:
        raise DecodeError("GW-1404", f"metaData code {raw!r} is not a number", location=f"{key}.code") from None


def _decode_response(raw: Any, creds: Credentials | None, timestamp: str | None) -> Any:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str) or creds is None:
        return raw
    if timestamp is None:
        raise DecodeError("GW-1410", "cannot decrypt: the X-timestamp sent with the request is needed")
    text = decrypt_response(raw, creds, timestamp)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # update/delete answer with the bare referral number


def parse_envelope(
    body: bytes,
    *,
    content_type: str | None = None,
    credentials: Credentials | None = None,
    timestamp: str | None = None,
    max_bytes: int = MAX_BODY,
    decrypt_codes: tuple[int, ...] = (200,),
) -> Envelope:
    """Decode one BPJS answer. With ``credentials`` a string ``response`` is decrypted.

    Only the string response of an answer whose code is in ``decrypt_codes`` is decrypted
    (VClaim: 200; PCare also encrypts 201 CREATED and 412 field lists); other codes keep
    whatever (usually null) they carry. HTML is refused before anything else.
    """
    if is_html(body, content_type):
        raise DecodeError("GW-1401", f"BPJS answered an HTML page, not JSON: {html_summary(body)}")
    doc, repaired = _load(body, max_bytes)
    if not isinstance(doc, dict):
        raise DecodeError("GW-1403", "BPJS answer is not a JSON object")
    key, meta = _meta(doc)
    code = _code(meta, key)
    message = str(meta.get("message") or "").strip()
    raw = doc.get("response")
    decrypt = code in decrypt_codes and not repaired  # a bare unquoted token was never encrypted
    response = _decode_response(raw, credentials if decrypt else None, timestamp)
    return Envelope(code, message, response, key)


def build_envelope(
    code: int | str, message: str, response: Any = None, *, wrapper_key: str = "metaData"
) -> dict[str, Any]:
    """The JSON object of an answer (used by the simulator and tests)."""
    return {wrapper_key: {"code": code, "message": message}, "response": response}

"""ACK builder (original acknowledgment mode): AA accepted, AE error, AR rejected.

MSA-2 always echoes the original MSH-10. When the message could not be parsed at all, the header
fields are read best-effort from the raw bytes (:func:`sniff_header`), so even an AR for a broken
message carries the sender's control id whenever one is present. Errors go into an ERR segment:
ERR-1 (ELD) for versions before 2.5, ERR-2 (ERL location), ERR-3 (HL7 table 0357 code), ERR-4
severity and ERR-8 (user message) from 2.5 on.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from adapters.hl7v2.codec import V2Message, first_segment
from adapters.hl7v2.escape import escape
from bridge.errors import ConfigError

ACK_CODES = ("AA", "AE", "AR", "CA", "CE", "CR")
LOCATION = re.compile(r"^([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?-(\d+)(?:\.(\d+))?")
# HL7 table 0357 (message error condition codes) by our GW code
ERROR_CONDITION = {
    "GW-1304": ("100", "Segment sequence error"),
    "GW-1305": ("102", "Data type error"),
    "GW-1306": ("100", "Segment sequence error"),
    "GW-1307": ("101", "Required field missing"),
    "GW-1308": ("203", "Unsupported version id"),
    "GW-1312": ("200", "Unsupported message type"),
}
DEFAULT_CONDITION = ("207", "Application internal error")


@dataclass(frozen=True)
class Header:
    """The MSH fields an ACK needs."""

    field_sep: str = "|"
    encoding: str = "^~\\&"
    sending_app: str = ""
    sending_facility: str = ""
    receiving_app: str = ""
    receiving_facility: str = ""
    trigger: str = ""
    control_id: str = ""
    processing_id: str = "P"
    version: str = "2.5"


def header_of(message: V2Message) -> Header:
    msh = first_segment(message.message, "MSH")
    fields = [str(f) for f in msh] if msh is not None else []
    raw = lambda f: fields[f] if f < len(fields) else ""  # noqa: E731
    return Header(
        field_sep=raw(1),
        encoding=raw(2),
        sending_app=raw(3),
        sending_facility=raw(4),
        receiving_app=raw(5),
        receiving_facility=raw(6),
        trigger=message.get("MSH-9.2"),
        control_id=raw(10),
        processing_id=raw(11) or "P",
        version=message.get("MSH-12.1") or "2.5",
    )


def sniff_header(raw: bytes) -> Header:
    """Best-effort MSH fields from bytes that may not parse; defaults where unreadable."""
    text = raw.decode("utf-8", "replace").lstrip("\ufeff\x0b\r\n ")
    start = text.find("MSH")
    if start < 0 or len(text) < start + 8:
        return Header()
    line = re.split(r"[\r\n]", text[start:], maxsplit=1)[0]
    sep = line[3]
    if sep.isalnum() or sep.isspace():
        return Header()
    fields = ["MSH", sep, *line[4:].split(sep)]
    get = lambda i: fields[i] if i < len(fields) else ""  # noqa: E731
    comp = get(2)[:1] or "^"
    version = get(12).split(comp)[0]
    return Header(
        sep, get(2) or "^~\\&", get(3), get(4), get(5), get(6),
        (get(9).split(comp) + [""])[1], get(10), get(11) or "P", version if re.match(r"^2\.\d", version) else "2.5",
    )  # fmt: skip


def build_ack(
    header: Header,
    code: str = "AA",
    *,
    text: str = "",
    error_code: str | None = None,
    location: str | None = None,
    now: datetime | None = None,
    control_id: str | None = None,
    timezone: str = "Asia/Jakarta",
) -> bytes:
    """Encode an ACK for the message described by ``header`` (CR-terminated segments, UTF-8)."""
    if code not in ACK_CODES:
        raise ConfigError("GW-1390", f"unknown acknowledgment code {code!r}")
    sep, enc = header.field_sep, header.encoding
    stamp = (now or datetime.now(ZoneInfo(timezone))).strftime("%Y%m%d%H%M%S%z")
    comp = enc[:1] or "^"
    msh = sep.join([
        "MSH", enc, header.receiving_app, header.receiving_facility, header.sending_app, header.sending_facility,
        stamp, "", comp.join(["ACK", header.trigger, "ACK"]) if header.trigger else "ACK",
        control_id or uuid.uuid4().hex[:20], header.processing_id, header.version,
    ])  # fmt: skip
    esc_text = _esc(text, header)
    segments = [msh, sep.join(["MSA", code, header.control_id, esc_text]).rstrip(sep)]
    if code not in ("AA", "CA"):
        segments.append(error_segment(header, error_code, location, esc_text))
    return ("\r".join(segments) + "\r").encode("utf-8")


def error_segment(header: Header, error_code: str | None, location: str | None, esc_text: str) -> str:
    sep, comp = header.field_sep, header.encoding[:1] or "^"
    condition, condition_text = ERROR_CONDITION.get(error_code or "", DEFAULT_CONDITION)
    erl = _erl(location, comp)
    if _version_tuple(header.version) < (2, 5):
        eld = comp.join([*(erl.split(comp) if erl else ["", "", ""])[:3], condition + "&" + condition_text])
        return sep.join(["ERR", eld])
    cwe = comp.join([condition, condition_text, "HL70357"])
    user = esc_text if not error_code else f"{error_code}: {esc_text}"
    return sep.join(["ERR", "", erl, cwe, "E", "", "", "", user])


def _erl(location: str | None, comp: str) -> str:
    match = LOCATION.match(location or "")
    if not match:
        return ""
    seg, seq, fld, cmp = match.groups()
    parts = [seg, seq or "1", fld] + ([cmp] if cmp else [])
    return comp.join(parts)


def _esc(text: str, header: Header) -> str:
    enc = header.encoding
    seps = "\r" + header.field_sep + (enc[1:2] or "~") + (enc[:1] or "^") + (enc[3:4] or "&")
    esc = enc[2:3] or "\\"
    if text.isprintable() and not any(ch in text for ch in seps + esc):
        return text  # nothing to escape (no delimiter, line break or control character): skip the per-character walk
    return escape(text, esc=esc, separators=seps)


def _version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split(".")[:2])
    except ValueError:
        return (2, 5)

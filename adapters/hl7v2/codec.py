"""HL7 v2 ER7 ("pipe") codec on python-hl7, tolerant of real SIMRS traffic.

``parse`` accepts one message or a batch/file (FHS/BHS … BTS/FTS, or simply several MSH in a
row), with CR, LF or CRLF segment ends, a UTF-8 BOM, MLLP framing left on, comment lines in
sample files, Z-segments, unusual encoding characters and versions 2.1–2.8. What it cannot read
it rejects with :class:`~bridge.errors.DecodeError` and one of these codes:

========  ==============================================================
GW-1301   payload larger than the configured maximum
GW-1302   bytes not decodable in the declared (MSH-18) or default charset
GW-1303   empty payload
GW-1304   first segment is not MSH, BHS or FHS
GW-1305   encoding characters (MSH-1/MSH-2) unusable
GW-1306   a line is not a segment (bad segment id)
GW-1307   required MSH field missing (MSH-9 type, MSH-10 control id, MSH-12 version)
GW-1308   unsupported HL7 version (supported: 2.1 – 2.8.x)
GW-1309   batch/file structure broken (a header without messages)
========  ==============================================================

Tolerated oddities are recorded as warnings on the parsed model (``V2Message.warnings``) and
become information issues when mapped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import hl7

from bridge.errors import DecodeError

MEDIA_TYPE = "x-application/hl7-v2+er7"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")
COMMENT = re.compile(r"^\s*(//|/\*|\*|\*/|#)")
VERSION = re.compile(r"^2\.[1-8](\.\d+)?$")
HEADER_IDS = ("MSH", "BHS", "FHS")
WRAPPER_IDS = ("FHS", "BHS", "BTS", "FTS")
CHARSETS = {
    "": "utf-8",
    "ASCII": "ascii",
    "UNICODE UTF-8": "utf-8",
    "UNICODE": "utf-8",
    "UTF-8": "utf-8",
    "8859/1": "latin-1",
    "8859/15": "iso8859-15",
    "CP1252": "cp1252",
}


@dataclass
class V2Message:
    """One parsed message: python-hl7's tree plus what the tolerant reader had to fix."""

    message: hl7.Message
    warnings: list[str] = field(default_factory=list)

    def get(self, path: str) -> str:
        """Text at ``SEG-f[.c[.s]]`` of the first such segment ('' when absent), unescaped."""
        return get_value(self.message, path)

    @property
    def control_id(self) -> str:
        return self.get("MSH-10")

    @property
    def message_type(self) -> tuple[str, str, str]:
        return (self.get("MSH-9.1"), self.get("MSH-9.2"), self.get("MSH-9.3"))

    @property
    def version(self) -> str:
        return self.get("MSH-12.1")


@dataclass
class V2Batch:
    """A batch or file: the FHS/BHS header segments (may be empty) and the messages inside."""

    headers: list[hl7.Segment]
    messages: list[V2Message]
    trailers: list[hl7.Segment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


V2Document = V2Message | V2Batch


# ---------------------------------------------------------------- field access


def get_value(message: hl7.Message, path: str, segment: hl7.Segment | None = None) -> str:
    """Value at ``SEG-f[.c[.s]]`` (first repetition), unescaped; '' when absent."""
    seg_id, _, rest = path.partition("-")
    seg = segment if segment is not None else first_segment(message, seg_id)
    if seg is None:
        return ""
    parts = [int(p) for p in rest.split(".")]
    return field_value(seg, *parts, esc_source=message)


def first_segment(message: hl7.Message, seg_id: str) -> hl7.Segment | None:
    for seg in message:
        if str(seg[0]) == seg_id:
            return seg
    return None


def field_value(seg: hl7.Segment, f: int, c: int = 1, s: int = 1, *, rep: int = 1, esc_source: object = None) -> str:
    """Unescaped text at field ``f``, repetition ``rep``, component ``c``, sub-component ``s``.

    python-hl7 keeps MSH-1 at index 1, so ``seg[f]`` is field ``f`` for every segment.
    """
    if f < 1 or f >= len(seg):
        return ""
    if f <= 2 and str(seg[0]) in HEADER_IDS:
        return str(seg[f])
    value = _descend(seg[f], rep, c, s)
    source = esc_source if esc_source is not None else seg
    return unescape_text(value, getattr(source, "esc", "\\"), getattr(source, "separators", "\r|~^&"))


def repetitions(seg: hl7.Segment, f: int) -> list[object]:
    """The repetitions of field ``f`` (each a python-hl7 node), [] when empty."""
    if f < 1 or f >= len(seg):
        return []
    fld = list.__getitem__(seg, f)  # python-hl7's own __getitem__ only adds slice handling
    if isinstance(fld, str):
        return [fld] if fld else []
    if fld and isinstance(list.__getitem__(fld, 0), hl7.Repetition):
        return list(fld)
    return [fld] if _flatten(fld) else []


def component(node: object, c: int, s: int = 1) -> str:
    """Raw (still escaped) text of component ``c`` / sub-component ``s`` of one repetition node."""
    if isinstance(node, str):
        return node if c == 1 and s == 1 else ""
    if isinstance(node, hl7.Field):
        return _flatten(node) if c == 1 and s == 1 else ""
    comps = node if isinstance(node, list) else list(node)  # type: ignore[call-overload]
    if c > len(comps):
        return ""
    comp = list.__getitem__(comps, c - 1)
    if isinstance(comp, str):
        return comp if s == 1 else ""
    if s > len(comp):
        return ""
    return _flatten(list.__getitem__(comp, s - 1) if isinstance(comp, list) else comp[s - 1])


def _descend(fld: object, rep: int, c: int, s: int) -> str:
    reps = repetitions_of(fld)
    if rep > len(reps):
        return ""
    return component(reps[rep - 1], c, s)


def repetitions_of(fld: object) -> list[object]:
    if isinstance(fld, str):
        return [fld]
    if fld and isinstance(fld, list) and isinstance(fld[0], hl7.Repetition):
        return list(fld)
    return [fld]


def _flatten(node: object) -> str:
    while isinstance(node, list):
        if not node:
            return ""
        node = list.__getitem__(node, 0)
    return node if type(node) is str else str(node)


def unescape_text(value: str, esc: str, separators: str) -> str:
    """Decode ``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\Xhh\\ \\.br\\`` (highlighting is dropped)."""
    if esc not in value:
        return value
    from adapters.hl7v2.escape import unescape

    return unescape(value, esc=esc, separators=separators)


# ---------------------------------------------------------------- decoding


def decode_text(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Bytes → text with CR segment ends: BOM, MLLP framing and the charset handled."""
    if len(data) > max_bytes:
        raise DecodeError("GW-1301", f"message of {len(data)} bytes exceeds the maximum of {max_bytes}")
    data = data.strip(b"\x0b\x1c\r\n \t")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise DecodeError("GW-1303", "empty HL7 v2 payload")
    text = _decode_charset(data)
    return text.replace("\r\n", "\r").replace("\n", "\r")


def _decode_charset(data: bytes) -> str:
    declared = _declared_charset(data)
    codec = CHARSETS.get(declared.upper(), None) if declared else "utf-8"
    if codec is None:
        raise DecodeError("GW-1302", f"unsupported character set {declared!r} in MSH-18", location="MSH-18")
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        where = f"MSH-18 declares {declared!r}" if declared else "no MSH-18, UTF-8 assumed"
        raise DecodeError(
            "GW-1302", f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not valid {codec} ({where})"
        ) from exc


def _declared_charset(data: bytes) -> str:
    """MSH-18 read from the raw bytes (ASCII-compatible), '' when absent."""
    start = data.find(b"MSH")
    if start < 0 or len(data) < start + 4:
        return ""
    line = re.split(rb"[\r\n]", data[start:], maxsplit=1)[0]
    sep = line[3:4]
    fields = line.split(sep)
    if len(fields) <= 17:
        return ""
    return fields[17].split(b"~")[0].decode("ascii", "replace").strip()


def clean_lines(text: str, warnings: list[str]) -> list[str]:
    """Segment lines without blanks and comment lines; other non-segment lines raise ``GW-1306``."""
    lines: list[str] = []
    for number, line in enumerate(text.split("\r"), start=1):
        if not line.strip():
            continue
        if COMMENT.match(line):
            warnings.append(f"line {number}: comment line ignored")
            continue
        seg_id = line[:3]
        if not SEGMENT_ID.match(seg_id) or (len(line) > 3 and seg_id not in HEADER_IDS and not _sep_follows(line)):
            raise DecodeError(
                "GW-1306", f"line {number} is not an HL7 segment: {line[:20]!r}", location=f"line {number}"
            )
        lines.append(line)
    return lines


def _sep_follows(line: str) -> bool:
    return not line[3].isalnum()


# ---------------------------------------------------------------- structure


def split_groups(lines: list[str]) -> tuple[list[str], list[list[str]], list[str]]:
    """(wrapper header lines, per-message line groups, wrapper trailer lines)."""
    headers: list[str] = []
    trailers: list[str] = []
    groups: list[list[str]] = []
    for line in lines:
        seg_id = line[:3]
        if seg_id in ("FHS", "BHS"):
            headers.append(line)
        elif seg_id in ("BTS", "FTS"):
            trailers.append(line)
        elif seg_id == "MSH":
            groups.append([line])
        elif not groups:
            raise DecodeError("GW-1304", f"first segment is {seg_id}, expected MSH, BHS or FHS", location=seg_id)
        else:
            groups[-1].append(line)
    return headers, groups, trailers


def check_encoding_chars(msh: str, warnings: list[str]) -> str:
    """Validate MSH-1/MSH-2 and return the line with usable encoding characters.

    A duplicated escape character (``^~\\\\&``, seen from some LIS) is reduced to one; field,
    component, repetition and sub-component separators must be distinct and not alphanumeric.
    """
    if len(msh) < 8:
        raise DecodeError("GW-1305", "MSH too short to hold MSH-1 and MSH-2", location="MSH-2")
    sep = msh[3]
    if sep.isalnum() or sep.isspace():
        raise DecodeError("GW-1305", f"field separator {sep!r} is not usable", location="MSH-1")
    end = msh.find(sep, 4)
    enc = msh[4:] if end < 0 else msh[4:end]
    fixed = "".join(dict.fromkeys(enc))
    if fixed != enc:
        warnings.append(f"MSH-2 {enc!r} has repeated characters; read as {fixed!r}")
    if not 1 <= len(fixed) <= 5 or any(ch.isalnum() or ch.isspace() or ch == sep for ch in fixed):
        raise DecodeError("GW-1305", f"encoding characters {enc!r} are not usable", location="MSH-2")
    if fixed != "^~\\&":
        warnings.append(f"non-standard encoding characters {enc!r}")
    rest = "" if end < 0 else msh[end:]
    return msh[:4] + fixed + rest


def build_message(group: list[str], warnings: list[str]) -> V2Message:
    group = [check_encoding_chars(group[0], warnings), *group[1:]]
    try:
        message = hl7.parse("\r".join(group))
    except (hl7.ParseException, IndexError, ValueError) as exc:  # pragma: no cover - guarded above
        raise DecodeError("GW-1306", f"python-hl7 could not split the message: {exc}") from exc
    parsed = V2Message(message, warnings)
    check_header(parsed)
    return parsed


def check_header(msg: V2Message) -> None:
    for path, what in (("MSH-9.1", "message type"), ("MSH-10", "message control id"), ("MSH-12.1", "version")):
        if not msg.get(path).strip():
            raise DecodeError("GW-1307", f"{path} ({what}) is empty", location=path.split(".")[0])
    version = msg.version.strip()
    if not VERSION.match(version):
        raise DecodeError("GW-1308", f"HL7 version {version!r} is not supported (2.1 to 2.8.x)", location="MSH-12")


def parse_header_segment(line: str, warnings: list[str]) -> hl7.Segment:
    line = check_encoding_chars(line, warnings)
    segment = hl7.parse("MSH" + line[3:])[0]
    segment[0][0] = line[:3]  # keep BHS/FHS for serialisation; field access honours header numbering
    return segment


def parse_document(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> V2Document:
    warnings: list[str] = []
    lines = clean_lines(decode_text(data, max_bytes), warnings)
    if not lines:
        raise DecodeError("GW-1303", "no HL7 segments in the payload")
    if lines[0][:3] not in HEADER_IDS:
        raise DecodeError("GW-1304", f"first segment is {lines[0][:3]}, expected MSH, BHS or FHS", location="line 1")
    headers, groups, trailers = split_groups(lines)
    if not headers and len(groups) == 1:
        return build_message(groups[0], warnings)
    if not groups:
        raise DecodeError("GW-1309", "batch/file header without any MSH message", location=lines[0][:3])
    messages = [_build_numbered(index, group) for index, group in enumerate(groups, start=1)]
    header_segments = [parse_header_segment(line, warnings) for line in headers]
    return V2Batch(header_segments, messages, [_plain_segment(t) for t in trailers], warnings)


def _build_numbered(index: int, group: list[str]) -> V2Message:
    try:
        return build_message(group, [])
    except DecodeError as exc:
        where = f"message {index}" + (f" {exc.location}" if exc.location else "")
        raise DecodeError(exc.code, f"message {index} of the batch: {exc.message}", location=where) from exc


def _plain_segment(line: str) -> hl7.Segment:
    return hl7.parse("MSH|^~\\&\r" + line)[1]


def iter_messages(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[bytes]:
    """Split a sample/archive file into per-message byte strings (comments and wrappers dropped)."""
    warnings: list[str] = []
    text = decode_text(data, max_bytes)
    kept = [line for line in text.split("\r") if line.strip() and not COMMENT.match(line)]
    current: list[str] = []
    for line in kept:
        if line[:3] in WRAPPER_IDS:
            continue
        if line.startswith("MSH") and current:
            yield ("\r".join(current) + "\r").encode("utf-8")
            current = []
        current.append(line)
    if current:
        yield ("\r".join(current) + "\r").encode("utf-8")
    del warnings


# ---------------------------------------------------------------- codec


class Hl7v2Codec:
    """bytes ↔ :class:`V2Message` / :class:`V2Batch` (ER7, UTF-8 out, CR after every segment)."""

    format_id = "hl7v2"
    media_type = MEDIA_TYPE

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes

    def parse(self, data: bytes) -> V2Document:
        if not isinstance(data, bytes | bytearray):
            raise DecodeError("GW-1303", "HL7 v2 payload must be bytes")
        return parse_document(bytes(data), self.max_bytes)

    def serialize(self, model: V2Document | hl7.Message) -> bytes:
        return to_text(model).encode("utf-8")


def to_text(model: V2Document | hl7.Message) -> str:
    if isinstance(model, V2Message):
        return str(model.message)
    if isinstance(model, V2Batch):
        parts = [str(s) + "\r" for s in model.headers]
        parts += [str(m.message) for m in model.messages]
        parts += [str(s) + "\r" for s in model.trailers]
        return "".join(parts)
    return str(model)


def idempotency_key(model: V2Document) -> str | None:
    """``MSH-3|MSH-4|MSH-10`` (namespace ids), or the batch header's sender and control id."""
    if isinstance(model, V2Message):
        return "|".join((model.get("MSH-3.1"), model.get("MSH-4.1"), model.get("MSH-10")))
    if model.headers:
        head = model.headers[-1]
        return "|".join((field_value(head, 3), field_value(head, 4), field_value(head, 11)))
    return idempotency_key(model.messages[0]) if model.messages else None

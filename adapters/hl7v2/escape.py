"""HL7 v2 escape sequences (v2.5 §2.7): ``escape`` and ``unescape`` are inverse on any text.

``separators`` uses python-hl7's order: segment, field, repetition, component, sub-component
(``"\\r|~^&"``). Line breaks become ``\\.br\\``, other control characters ``\\Xhh\\``.
Unknown sequences (``\\Zxx\\``, ``\\.in\\`` …) are left as they are when unescaping; highlighting
(``\\H\\``, ``\\N\\``) is dropped because FHIR strings carry no formatting.
"""

from __future__ import annotations

DEFAULT_SEPARATORS = "\r|~^&"


def _letters(esc: str, separators: str) -> dict[str, str]:
    field, rep, comp = separators[1], separators[2], separators[3]
    sub = separators[4] if len(separators) > 4 else "&"
    return {field: "F", comp: "S", sub: "T", rep: "R", esc: "E"}


def escape(text: str, *, esc: str = "\\", separators: str = DEFAULT_SEPARATORS) -> str:
    """Escape the delimiter characters, line breaks and control characters in ``text``."""
    letters = _letters(esc, separators)
    out: list[str] = []
    for ch in text:
        if ch in letters:
            out.append(f"{esc}{letters[ch]}{esc}")
        elif ch == "\n":
            out.append(f"{esc}.br{esc}")
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"{esc}X{ord(ch):02X}{esc}")
        else:
            out.append(ch)
    return "".join(out)


def unescape(text: str, *, esc: str = "\\", separators: str = DEFAULT_SEPARATORS) -> str:
    """Decode escape sequences; anything not a known, closed sequence is kept verbatim."""
    chars = {v: k for k, v in _letters(esc, separators).items()}
    out: list[str] = []
    pos = 0
    while pos < len(text):
        start = text.find(esc, pos)
        end = text.find(esc, start + 1) if start >= 0 else -1
        if start < 0 or end < 0:
            out.append(text[pos:])
            break
        out.append(text[pos:start])
        decoded = _decode(text[start + 1 : end], chars)
        if decoded is None:
            out.append(text[start:end])
            pos = end  # the closing escape may open the next sequence
        else:
            out.append(decoded)
            pos = end + 1
    return "".join(out)


def _decode(body: str, chars: dict[str, str]) -> str | None:
    if body in chars:
        return chars[body]
    if body in ("H", "N"):
        return ""
    if body in (".br", ".sp"):
        return "\n"
    if body.startswith("X") and len(body) > 1 and len(body) % 2 == 1:
        try:
            raw = bytes.fromhex(body[1:])
        except ValueError:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    return None

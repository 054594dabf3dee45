from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adapters.hl7v2.escape import escape, unescape


def test_known_sequences() -> None:
    assert unescape(r"A\T\E \F\ \S\ \R\ \E\ \X41\ x\.br\y\H\b\N\ \Zq\ ") == "A&E | ^ ~ \\ A x\nyb \\Zq\\ "
    assert escape("a|b^c&d~e\\f\ng") == r"a\F\b\S\c\T\d\R\e\E\f\.br\g"


def test_unclosed_escape_is_kept() -> None:
    assert unescape("100\\") == "100\\"
    assert unescape("\\X4\\") == "\\X4\\"


@given(st.text())
def test_unescape_inverts_escape(text: str) -> None:
    assert unescape(escape(text)) == text


@given(st.text(), st.sampled_from(["\\", "}", "!"]))
def test_inverse_with_other_escape_char(text: str, esc: str) -> None:
    assert unescape(escape(text, esc=esc), esc=esc) == text

"""``split_message`` builds exactly the tree ``hl7.parse`` builds: node classes, contents and attributes."""

from __future__ import annotations

from typing import Any

import hl7
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.hl7v2.codec import decode_text, iter_messages, split_message
from tests.hl7v2.conftest import corpus_files


def shape(node: Any) -> Any:
    """Everything python-hl7 puts on a node, recursively (a str stays a str)."""
    if isinstance(node, str):
        return node
    attrs = (type(node).__name__, node.separator, node.esc, node.separators, node.factory)
    return (attrs, [shape(child) for child in node])


def corpus_texts() -> list[str]:
    return [decode_text(raw) for path in corpus_files() for raw in iter_messages(path.read_bytes())]


@pytest.mark.usefixtures("samples_dir")
def test_every_corpus_message_splits_like_python_hl7() -> None:
    texts = corpus_texts()
    assert len(texts) >= 64
    for text in texts:
        assert shape(split_message(text)) == shape(hl7.parse(text)), text[:60]


SEPARATORS = st.sampled_from(["|", "#", "!"])
ENCODING = st.sampled_from(["^~\\&", "^~\\", "^~", "^", "$%@*!", "^~\\&#", "~^\\&"])
PIECE = st.text(alphabet="AB1 ^~\\&|#!$%@*", max_size=12)


@given(SEPARATORS, ENCODING, st.lists(st.lists(PIECE, max_size=8), min_size=1, max_size=5), st.booleans())
def test_generated_messages_split_like_python_hl7(sep: str, enc: str, rows: list[list[str]], bare_msh: bool) -> None:
    msh = f"MSH{sep}{enc}" + ("" if bare_msh else f"{sep}APP{sep}FAC{sep}{sep}{sep}20240101{sep}{sep}ADT^A01{sep}C1")
    lines = [msh] + [sep.join(["PID", *row]) for row in rows[1:]] + [sep.join(["ZZZ", *rows[0]]), "NTE", "MSH"]
    text = "\r".join(lines)
    try:
        expected = shape(hl7.parse(text))
    except Exception as exc:  # noqa: BLE001 - what python-hl7 refuses, the splitter refuses alike
        with pytest.raises(type(exc)):
            split_message(text)
        return
    assert shape(split_message(text)) == expected


def test_a_segment_without_separators_is_kept_whole() -> None:
    message = split_message("MSH|^~\\&|A\rNTE\r")
    assert message[1] == ["NTE"] and type(message[1]) is hl7.Segment

from __future__ import annotations

import pytest

from adapters.hl7v2.mllp import FrameReader, frame, unframe
from bridge.errors import DecodeError

MSG = b"MSH|^~\\&|A|B|C|D|20200101||ADT^A01|1|P|2.5\rPID|1\r"


def test_frame_unframe_round_trip() -> None:
    assert frame(MSG) == b"\x0b" + MSG + b"\x1c\r"
    assert unframe(frame(MSG)) == MSG


@pytest.mark.parametrize("block", [MSG, b"\x0b" + MSG, b"\x0b" + MSG + b"\x1c", b"\x0bA\x0bB\x1c\r"])
def test_unframe_rejects_bad_framing(block: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        unframe(block)
    assert info.value.code == "GW-1310"


def test_reader_byte_by_byte_and_noise() -> None:
    reader = FrameReader()
    stream = b"\r\nnoise" + frame(MSG) + frame(b"second") + b"\n"
    out: list[bytes] = []
    for i in range(len(stream)):
        out += reader.feed(stream[i : i + 1])
    assert out == [MSG, b"second"]
    assert reader.skipped_bytes == len(b"\r\nnoise") + 1
    assert reader.pending == 0


def test_reader_many_in_one_chunk() -> None:
    assert FrameReader().feed(frame(b"a") + frame(b"b") + frame(b"c")) == [b"a", b"b", b"c"]


def test_reader_restarts_on_new_start_block() -> None:
    assert FrameReader().feed(b"\x0bbroken\x0bgood\x1c\r") == [b"good"]


def test_reader_enforces_max_size_then_resynchronises() -> None:
    reader = FrameReader(max_message_bytes=10)
    with pytest.raises(DecodeError) as info:
        reader.feed(b"\x0b" + b"x" * 11)
    assert info.value.code == "GW-1311"
    assert reader.pending == 0
    assert reader.feed(b"yyyy\x1c\r") == []  # rest of the oversized block is dropped
    assert reader.feed(frame(b"ok")) == [b"ok"]

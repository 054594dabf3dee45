"""MLLP framing (``<VT> message <FS><CR>``), kept apart from parsing.

Pure functions and a push-style :class:`FrameReader` with no I/O of its own, so the same code
serves the asyncio listener, a threaded server and the tests. A frame larger than the configured
maximum raises :class:`~bridge.errors.DecodeError` ``GW-1311`` *before* the bytes are buffered
further, so a client streaming garbage cannot grow memory without bound.
"""

from __future__ import annotations

from bridge.errors import DecodeError

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c"
CARRIAGE_RETURN = b"\x0d"
TRAILER = END_BLOCK + CARRIAGE_RETURN
DEFAULT_MAX_MESSAGE_BYTES = 10 * 1024 * 1024


def frame(message: bytes) -> bytes:
    """Wrap one message in an MLLP block."""
    return START_BLOCK + message + TRAILER


def unframe(block: bytes) -> bytes:
    """The message inside one complete MLLP block; raises ``GW-1310`` when the framing is wrong."""
    if not block.startswith(START_BLOCK):
        raise DecodeError("GW-1310", "MLLP block does not start with <VT> (0x0b)", location="byte 0")
    if not block.endswith(TRAILER):
        raise DecodeError("GW-1310", "MLLP block does not end with <FS><CR> (0x1c 0x0d)", location=f"byte {len(block)}")
    body = block[1:-2]
    if START_BLOCK in body or END_BLOCK in body:
        raise DecodeError("GW-1310", "MLLP block contains a stray <VT> or <FS> inside the message")
    return body


class FrameReader:
    """Incremental MLLP de-framer: ``feed(data)`` returns the complete messages found so far.

    Bytes outside a block (line noise, keep-alive newlines) are discarded and counted in
    ``skipped_bytes``. A block exceeding ``max_message_bytes`` raises ``GW-1311``; the reader then
    drops that block's bytes and resynchronises on the next ``<VT>``.
    """

    def __init__(self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes
        self._buffer = bytearray()
        self._in_block = False
        self._discarding = False
        self._expect_cr = False  # the <CR> of <FS><CR> may arrive in the next chunk
        self.skipped_bytes = 0

    @property
    def pending(self) -> int:
        """Bytes of an incomplete block held in the buffer."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        messages: list[bytes] = []
        view = memoryview(data)
        pos = 0
        while pos < len(view):
            pos += self._step(bytes(view[pos:]), messages)
        return messages

    def _step(self, chunk: bytes, messages: list[bytes]) -> int:
        if not self._in_block:
            if self._expect_cr and chunk[:1] == CARRIAGE_RETURN:
                self._expect_cr = False
                return 1
            self._expect_cr = False
            start = chunk.find(START_BLOCK)
            if start < 0:
                self.skipped_bytes += len(chunk)
                return len(chunk)
            self.skipped_bytes += start
            self._in_block, self._discarding = True, False
            self._buffer.clear()
            return start + 1
        end = chunk.find(END_BLOCK)
        take = chunk if end < 0 else chunk[:end]
        self._append(take)
        if end < 0:
            return len(chunk)
        return self._close_block(chunk, end, messages)

    def _append(self, data: bytes) -> None:
        if self._discarding:
            return
        if START_BLOCK in data:  # a new block began before this one ended: restart from it
            self.skipped_bytes += len(self._buffer) + data.rfind(START_BLOCK) + 1
            self._buffer.clear()
            data = data[data.rfind(START_BLOCK) + 1 :]
        if len(self._buffer) + len(data) > self.max_message_bytes:
            self._discarding = True
            self.skipped_bytes += len(self._buffer) + len(data)
            self._buffer.clear()
            raise DecodeError(
                "GW-1311",
                f"MLLP message exceeds the maximum size of {self.max_message_bytes} bytes",
            )
        self._buffer += data

    def _close_block(self, chunk: bytes, end: int, messages: list[bytes]) -> int:
        after = end + 1
        if after < len(chunk) and chunk[after : after + 1] == CARRIAGE_RETURN:
            after += 1
        else:
            self._expect_cr = after >= len(chunk)
        if not self._discarding:
            messages.append(bytes(self._buffer))
        self._buffer.clear()
        self._in_block = self._discarding = False
        return after

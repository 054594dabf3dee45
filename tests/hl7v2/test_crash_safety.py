"""SIGKILL the MLLP server mid-stream: every AA'd message is stored exactly once, retries accepted once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from adapters.hl7v2.codec import Hl7v2Codec, V2Message
from adapters.hl7v2.mllp import FrameReader, frame

ROOT = Path(__file__).resolve().parents[2]
TOTAL = 120


def message(n: int) -> bytes:
    return (
        f"MSH|^~\\&|SIMRS|RSUD|GW|KEMKES|20240101083000||ADT^A04^ADT_A01|CRASH{n:04d}|P|2.5\r"
        f"PID|1||RM{n:04d}^^^RSUD^MR||PASIEN^{n}||19800101|F\rPV1|1|O\r"
    ).encode()


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port_file = data_dir / f"port-{time.monotonic_ns()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hl7v2.serve_mllp", str(data_dir), str(port_file)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("MLLP server process did not start")
        time.sleep(0.05)
    return proc, int(port_file.read_text())


def send_until_failure(port: int, numbers: list[int], acked: set[int]) -> None:
    """Send each message and wait for its ACK; stop at the first connection failure."""
    reader = FrameReader()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            for n in numbers:
                sock.sendall(frame(message(n)))
                got: list[bytes] = []
                while not got:
                    data = sock.recv(65536)
                    if not data:
                        return
                    got = reader.feed(data)
                ack = Hl7v2Codec().parse(got[0])
                assert isinstance(ack, V2Message) and ack.get("MSA-2") == f"CRASH{n:04d}"
                if ack.get("MSA-1") == "AA":
                    acked.add(n)
    except OSError:
        return


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_during_stream(tmp_path: Path) -> None:
    proc, port = start_server(tmp_path)
    acked: set[int] = set()
    sender = threading.Thread(target=send_until_failure, args=(port, list(range(TOTAL)), acked))
    sender.start()
    while len(acked) < TOTAL // 3 and sender.is_alive():
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    sender.join(timeout=30)
    acked_before_kill = set(acked)
    assert 0 < len(acked_before_kill) < TOTAL, "the kill must land mid-stream"

    proc, port = start_server(tmp_path)
    try:
        send_until_failure(port, list(range(TOTAL)), acked)  # the client retransmits everything
    finally:
        proc.kill()
        proc.wait()
    assert acked == set(range(TOTAL))

    engine = create_engine(f"sqlite:///{tmp_path / 'app.sqlite3'}")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT idempotency_key, COUNT(*), MAX(duplicate_count) FROM transactions "
                                 "GROUP BY idempotency_key")).all()  # fmt: skip
    counts = {key: count for key, count, _ in rows}
    assert len(counts) == TOTAL and set(counts.values()) == {1}
    dups = {key: dup for key, _, dup in rows}
    assert all(dups[f"SIMRS|RSUD|CRASH{n:04d}"] >= 1 for n in acked_before_kill)  # retransmissions were replays

"""MLLP end-to-end benchmark: N concurrent clients send the sample corpus for a fixed time.

Starts the listener in its own process on a fresh SQLite database (durable write per message:
the transaction row is committed before the ACK), then measures messages/s and ACK latency
p50/p99. In the same run it measures the baseline of bare python-hl7 ``parse`` + ``create_ack``
on the same messages, and prints the ratio.

    python benchmarks/mllp.py [--clients 4] [--seconds 10] [--corpus /work/shared/hl7v2-samples]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import hl7

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.hl7v2.codec import Hl7v2Codec, iter_messages  # noqa: E402
from adapters.hl7v2.mllp import FrameReader, frame  # noqa: E402
from bridge.errors import DecodeError  # noqa: E402


def corpus(root: Path) -> list[bytes]:
    out = []
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".hl7", ".txt") and p.is_file()):
        for raw in iter_messages(path.read_bytes()):
            try:
                Hl7v2Codec().parse(raw)
            except DecodeError:
                continue
            out.append(raw)
    return out


def with_control_id(raw: bytes, control: str) -> bytes:
    text = raw.decode("utf-8")
    first, _, rest = text.partition("\r")
    sep = first[3]
    fields = first.split(sep)
    fields[9] = control
    return (sep.join(fields) + "\r" + rest).encode("utf-8")


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port_file = data_dir / "port"
    command = [sys.executable, "-m", "tests.hl7v2.serve_mllp", str(data_dir), str(port_file)]
    proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL)
    while not port_file.exists():
        if proc.poll() is not None:
            raise SystemExit("server did not start")
        time.sleep(0.05)
    return proc, int(port_file.read_text())


def client(port: int, index: int, messages: list[bytes], stop: float, latencies: list[float]) -> None:
    reader = FrameReader()
    seq = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        while time.perf_counter() < stop:
            raw = with_control_id(messages[seq % len(messages)], f"B{index}-{seq}")
            seq += 1
            started = time.perf_counter()
            sock.sendall(frame(raw))
            got: list[bytes] = []
            while not got:
                data = sock.recv(65536)
                if not data:
                    return
                got = reader.feed(data)
            latencies.append(time.perf_counter() - started)


def end_to_end(port: int, messages: list[bytes], clients: int, seconds: float) -> tuple[float, list[float]]:
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    threads = [threading.Thread(target=client, args=(port, i, messages, stop, latencies)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / (time.perf_counter() - started), latencies


def baseline(messages: list[bytes], seconds: float) -> float:
    """Bare python-hl7: parse (BOM stripped, CR segments) and create_ack, one core."""
    texts = [m.decode("utf-8").lstrip("\ufeff") for m in messages]
    count, stop = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < stop:
        str(hl7.parse(texts[count % len(texts)]).create_ack())
        count += 1
    return count / (time.perf_counter() - started)


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 2 else (values[0] if values else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--corpus", type=Path, default=Path("/work/shared/hl7v2-samples"))
    args = parser.parse_args()
    messages = corpus(args.corpus)
    size = sum(map(len, messages)) / len(messages)
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_server(Path(tmp))
        try:
            rate, latencies = end_to_end(port, messages, args.clients, args.seconds)
        finally:
            proc.kill()
            proc.wait()
    base = baseline(messages, min(args.seconds, 5.0))
    ms = [x * 1000 for x in latencies]
    print(f"corpus: {len(messages)} messages, average {size:.0f} bytes; {args.clients} clients, {args.seconds:.0f} s")
    print(f"end-to-end (MLLP + decode + v2->FHIR + durable SQLite write + ACK): {rate:.1f} messages/s")
    print(f"ACK latency: p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms, max {max(ms):.1f} ms")
    print(f"baseline (bare python-hl7 parse + create_ack, one core): {base:.1f} messages/s")
    print(f"ratio end-to-end / baseline: {rate / base:.2f}")


if __name__ == "__main__":
    main()

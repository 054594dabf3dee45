"""MLLP end-to-end benchmark: N concurrent clients send the sample corpus for a fixed time.

Starts the listener in its own process on a fresh SQLite database in a temporary directory
(``synchronous=FULL``: every message is committed — fsync'd — before its ACK; the listener's
group commit lets one fsync cover the messages of several connections), then measures messages/s,
the ACK codes and ACK latency p50/p99, and the server process's CPU time per message. In the same
run it measures the baseline of bare python-hl7 ``parse`` + ``create_ack`` on the same messages
(one core), and prints the ratio. ``--repeat`` runs the end-to-end part several times (the machine
may be shared: look at the range).

The sample corpus mixes messages the bench channel accepts (AA) with unsupported types (AR, cheap:
nothing is mapped) and messages with unmapped codes (AE, mapped, stored, not encoded), so latency
is also given per ACK code; ``--only AA`` keeps just the messages the channel accepts (found by
sending each one once to a fresh server first).

    python benchmarks/mllp.py [--clients 4] [--seconds 10] [--workers 0] [--repeat 1] [--only AA]
                              [--corpus ../shared/hl7v2-samples]
"""

from __future__ import annotations

import argparse
import os
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


CHANNEL = """
[[channel]]
name = "hl7v2-bench"
source = "hl7v2"
target = "fhir+json"
destination = "none"
[channel.settings]
timezone = "Asia/Jakarta"
"""


def serve(data_dir: Path, port_file: Path, workers: int, wait_ms: float) -> None:
    """The server process: the real app, migrated SQLite file, the MLLP listener on a free port."""
    from bridge import create_app
    from bridge.db import get_db, upgrade
    from bridge.mllp import start_mllp_server

    channels = data_dir / "channels"
    channels.mkdir(parents=True, exist_ok=True)
    (channels / "hl7v2-bench.toml").write_text(CHANNEL, encoding="utf-8")
    app = create_app({
        "DATA_DIR": str(data_dir), "DATABASE_URL": f"sqlite:///{data_dir / 'bench.sqlite3'}",
        "LOAD_BUNDLED_TERMINOLOGY": False, "CHANNEL_PATHS": [str(channels)], "MLLP_CHANNEL": "hl7v2-bench",
        "MLLP_WORKERS": workers, "MLLP_GROUP_COMMIT_WAIT_MS": wait_ms,
    })  # fmt: skip
    upgrade(get_db(app).engine)
    handle = start_mllp_server(app, "127.0.0.1", 0)
    port_file.with_suffix(".tmp").write_text(str(handle.port), encoding="utf-8")
    port_file.with_suffix(".tmp").replace(port_file)
    while True:
        time.sleep(3600)


def start_server(data_dir: Path, workers: int = 0, wait_ms: float = 0.0) -> tuple[subprocess.Popen[bytes], int]:
    port_file = data_dir / "port"
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(data_dir), str(port_file),
               "--workers", str(workers), "--group-wait-ms", str(wait_ms)]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("server did not start")
        time.sleep(0.05)
    return proc, int(port_file.read_text())


def cpu_seconds(pids: list[int]) -> float:
    """user + system CPU time of processes (Linux /proc; 0 elsewhere)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def server_pids(pid: int) -> list[int]:
    """The server and its worker processes."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    extra = [int(p) for p in children.read_text().split()] if children.exists() else []
    return [pid, *extra]


def ack_code(ack: bytes) -> str:
    at = ack.find(b"\rMSA")
    return ack[at + 5 : at + 7].decode("ascii", "replace") if at >= 0 else "??"


def client(port: int, index: int, messages: list[bytes], stop: float, results: list[tuple[float, str]]) -> None:
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
            results.append((time.perf_counter() - started, ack_code(got[0])))


def end_to_end(port: int, messages: list[bytes], clients: int, seconds: float) -> tuple[float, list[tuple[float, str]]]:
    """messages/s, and (ACK latency in seconds, ACK code) of every message answered."""
    results: list[tuple[float, str]] = []
    stop = time.perf_counter() + seconds
    threads = [threading.Thread(target=client, args=(port, i, messages, stop, results)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(results) / (time.perf_counter() - started), results


def answered_with(messages: list[bytes], codes: set[str], args: argparse.Namespace) -> list[bytes]:
    """The messages a fresh server answers with one of ``codes`` (each sent once, fresh control ids)."""
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_server(Path(tmp), args.workers, args.group_wait_ms)
        try:
            acks = send_all(port, [with_control_id(m, f"F{i}") for i, m in enumerate(messages)])
        finally:
            proc.kill()
            proc.wait()
    return [m for m, ack in zip(messages, acks, strict=True) if ack_code(ack) in codes]


def send_all(port: int, messages: list[bytes]) -> list[bytes]:
    reader = FrameReader()
    acks: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        for raw in messages:
            sock.sendall(frame(raw))
            got: list[bytes] = []
            while not got:
                got = reader.feed(sock.recv(65536))
            acks += got
    return acks


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


def spread(ms: list[float]) -> str:
    return f"p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms"


def one_run(messages: list[bytes], args: argparse.Namespace) -> tuple[float, float]:
    """One end-to-end run, then the bare baseline right after it (same machine load); returns both rates."""
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_server(Path(tmp), args.workers, args.group_wait_ms)
        try:
            end_to_end(port, messages, args.clients, args.warmup)  # not measured: caches, lazy imports
            pids = server_pids(proc.pid)
            listener_before, cpu_before = cpu_seconds(pids[:1]), cpu_seconds(pids)
            rate, results = end_to_end(port, messages, args.clients, args.seconds)
            cpu = cpu_seconds(pids) - cpu_before
            listener = cpu_seconds(pids[:1]) - listener_before
        finally:
            proc.kill()
            proc.wait()
    base = baseline(messages, min(args.seconds, 3.0))
    ms = [x * 1000 for x, _ in results]
    codes = sorted({code for _, code in results})
    by_code = {code: [x * 1000 for x, c in results if c == code] for code in codes}
    counts = ", ".join(f"{code} {len(by_code[code])}" for code in codes)
    print(f"end-to-end (MLLP + decode + v2->FHIR + durable SQLite write + ACK): {rate:.1f} messages/s ({counts})")
    per = 1000 / max(len(ms), 1)
    print(f"  ACK latency: {spread(ms)}, max {max(ms, default=0):.1f} ms;"
          f" server CPU {cpu * per:.1f} ms/message (listener process {listener * per:.1f})")  # fmt: skip
    print("  by ACK code: " + "; ".join(f"{code} {spread(v)}" for code, v in by_code.items()))
    print(f"  baseline right after (bare python-hl7 parse + create_ack, one core): {base:.1f} messages/s;"
          f" ratio {rate / base:.2f}; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    return rate, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=0, help="MLLP_WORKERS: forked processes for decode+pipeline")
    parser.add_argument("--group-wait-ms", type=float, default=0.0, help="MLLP_GROUP_COMMIT_WAIT_MS")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured traffic first")
    parser.add_argument("--only", default="", help="comma-separated ACK codes: send only corpus messages answered so")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "hl7v2-samples")
    parser.add_argument("--serve", nargs=2, type=Path, metavar=("DATA_DIR", "PORT_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], args.workers, args.group_wait_ms)
        return
    messages = corpus(args.corpus)
    if args.only:
        messages = answered_with(messages, set(args.only.split(",")), args)
        if not messages:
            raise SystemExit(f"no corpus message is answered with {args.only}")
    size = sum(map(len, messages)) / len(messages)
    load = os.getloadavg()[0]
    print(f"corpus: {len(messages)} messages, average {size:.0f} bytes; {args.clients} clients, {args.seconds:.0f} s;"
          f" {args.workers} worker processes; load average {load:.2f} on {os.cpu_count()} CPUs")  # fmt: skip
    runs = [one_run(messages, args) for _ in range(max(1, args.repeat))]
    rates, ratios = [r for r, _ in runs], [r / b for r, b in runs]
    print(f"summary over {len(runs)} runs: {min(rates):.1f}–{max(rates):.1f} messages/s;"
          f" ratio to the bare baseline {min(ratios):.2f}–{max(ratios):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()

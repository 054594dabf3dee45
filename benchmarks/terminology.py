"""Terminology server benchmark against the served API (2 waitress worker processes).

Loads full ICD-10 (WHO 2019, ~12.5k concepts) into a fresh database, starts two server
processes (one port each; the client spreads requests over both), then measures for each
scenario the requests/s and p50/p95 latency with several client threads over keep-alive
connections:

- ``$lookup`` of random ICD-10 codes,
- ``CodeSystem/$validate-code`` of random ICD-10 codes,
- ``ValueSet/$expand?filter=<word>&count=20`` on the implicit ICD-10 value set.

Usage: ``python benchmarks/terminology.py [--seconds 10] [--clients 8] [--db-url URL]``.
The client runs on the same 2-core machine, so figures are a lower bound. ``BENCH_SERVER_THREADS``
(default 4) sets the waitress threads per server process.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

# this file is called terminology.py: keep its folder off sys.path so ``import terminology`` finds the package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ICD10 = "http://hl7.org/fhir/sid/icd-10"
WORDS = [
    "cholera",
    "tuberculosis",
    "fracture",
    "diabetes",
    "pneumonia",
    "malignant",
    "hypertension",
    "infection",
    "acute",
    "chronic",
    "injury",
    "poisoning",
    "dengue",
    "fever",
    "neoplasm",
    "heart",
]


def config(db_url: str, data_dir: str) -> dict[str, Any]:
    return {"DATABASE_URL": db_url, "DATA_DIR": data_dir, "LOAD_BUNDLED_TERMINOLOGY": False, "LOG_LEVEL": "WARNING"}


def prepare(db_url: str, data_dir: str) -> tuple[str, list[str]]:
    """Migrate, load ICD-10, create an API key; returns the key and the loaded codes."""
    from bridge import create_app
    from bridge.auth import create_key
    from bridge.db import get_db, upgrade
    from terminology import loaders

    app = create_app(config(db_url, data_dir))
    database = get_db(app)
    upgrade(database.engine)
    started = time.perf_counter()
    result = loaders.load_icd10(database)
    print(f"ICD-10 load: {result} in {time.perf_counter() - started:.1f} s")
    again = time.perf_counter()
    print(f"ICD-10 reload (idempotent): {loaders.load_icd10(database)} in {time.perf_counter() - again:.1f} s")
    with database.session() as session:
        _, key = create_key(session, "benchmark", None)
    resource = loaders.icd10_resource()
    codes: list[str] = []
    stack = list(resource["concept"])
    while stack:
        item = stack.pop()
        codes.append(item["code"])
        stack.extend(item.get("concept", []))
    return key, codes


def serve(db_url: str, data_dir: str, port: int) -> None:
    from bridge import create_app
    from bridge.server import make_wsgi_server

    app = create_app(config(db_url, data_dir))
    make_wsgi_server(app, "127.0.0.1", port, threads=int(os.environ.get("BENCH_SERVER_THREADS", "4"))).run()


def wait_ready(port: int, key: str) -> None:
    deadline = time.monotonic() + 180
    last = ""
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/fhir/metadata", headers={"Authorization": f"Bearer {key}"})
            response = conn.getresponse()
            if response.status == 200:
                return
            last = f"HTTP {response.status}: {response.read()[:200]!r}"
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not start ({last})")


def warm_up(port: int, key: str, path: str) -> None:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
    response = conn.getresponse()
    response.read()
    print(f"warm-up on port {port}: HTTP {response.status} in {time.perf_counter() - started:.2f} s")


def run(
    name: str, ports: list[int], key: str, make_path: Callable[[random.Random], str], seconds: float, clients: int
) -> None:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker(index: int) -> None:
        rng = random.Random(index)
        conn = http.client.HTTPConnection("127.0.0.1", ports[index % len(ports)], timeout=30)
        mine: list[float] = []
        bad = 0
        while time.perf_counter() < stop:
            path = make_path(rng)
            began = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"Bearer {key}", "Connection": "keep-alive"})
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - began)
            bad += response.status != 200
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000
    print(
        f"{name:28s} {len(latencies) / elapsed:8.0f} req/s   p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   "
        f"({len(latencies)} requests, {errors[0]} non-200)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--db-url")
    parser.add_argument("--port", type=int, default=18480)
    parser.add_argument("--serve", nargs=3, metavar=("PORT", "DB_URL", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[1], args.serve[2], int(args.serve[0]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        db_url = args.db_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        key, codes = prepare(db_url, tmp)
        categories = [c for c in codes if "." in c]
        ports = [args.port, args.port + 1]
        workers = [subprocess.Popen([sys.executable, __file__, "--serve", str(port), db_url, tmp]) for port in ports]
        try:
            for port in ports:
                wait_ready(port, key)
            quote = urllib.parse.quote
            vs = quote(f"{ICD10}?fhir_vs", safe="")
            for port in ports:  # parse ICD-10 and build its word index once per process, outside the timing
                warm_up(port, key, f"/fhir/ValueSet/$expand?url={vs}&filter=cholera&count=20")
            print(f"2 worker processes, {args.clients} client threads, {args.seconds:.0f} s per scenario")
            run(
                "$lookup",
                ports,
                key,
                lambda r: f"/fhir/CodeSystem/$lookup?system={ICD10}&code={quote(r.choice(categories))}",
                args.seconds,
                args.clients,
            )
            run(
                "CodeSystem/$validate-code",
                ports,
                key,
                lambda r: f"/fhir/CodeSystem/$validate-code?url={ICD10}&code={quote(r.choice(categories))}",
                args.seconds,
                args.clients,
            )
            run(
                "$expand filter count=20",
                ports,
                key,
                lambda r: f"/fhir/ValueSet/$expand?url={vs}&filter={r.choice(WORDS)}&count=20",
                args.seconds,
                args.clients,
            )
        finally:
            for proc in workers:
                proc.terminate()
                proc.wait(10)


if __name__ == "__main__":
    main()

"""``jembatan demo``: the whole gateway on one machine, against the in-repo simulators.

Starts the SATUSEHAT, BPJS and DHIS2 simulators (ports 8081–8083), points the demo destinations at
them, prepares the database and bundled data, creates a demo API key, starts the MLLP listener and
the delivery worker, and serves the HTTP API. With ``--once`` it sends the bundled demo messages
through the channels, prints what happened to each, and exits (non-zero if any was not accepted).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from flask import Flask

from bridge.auth import create_key
from bridge.db import get_db
from bridge.server import make_wsgi_server, prepare, start_mllp
from bridge.simulators import available, create_simulator

DEMO_DATA = Path(__file__).resolve().parent / "demo_data"


@dataclass
class Running:
    servers: list[Any]
    threads: list[threading.Thread]
    stop: threading.Event

    def close(self) -> None:
        self.stop.set()
        for server in self.servers:
            server.close()


def start_simulators(host: str, ports: dict[str, int], stop: threading.Event) -> Running:
    running = Running([], [], stop)
    for name in available():
        server = make_wsgi_server(create_simulator(name), host, ports[name], threads=4)
        thread = threading.Thread(target=server.run, name=f"sim-{name}", daemon=True)
        thread.start()
        running.servers.append(server)
        running.threads.append(thread)
        click.echo(f"  {name} simulator   http://{host}:{ports[name]}/")
    return running


def start_worker(app: Flask, stop: threading.Event) -> threading.Thread:
    """Run the delivery worker in a thread until ``stop`` is set."""
    from bridge.outbox import run_worker

    kwargs = {"interval": 0.5, "stop": stop}
    thread = threading.Thread(target=run_worker, args=(app,), kwargs=kwargs, name="worker", daemon=True)
    thread.start()
    return thread


def demo_key(app: Flask) -> str:
    with get_db(app).session() as sess:
        _, plaintext = create_key(sess, f"demo-{int(time.time())}")
    return plaintext


def send_demo_messages(app: Flask, key: str) -> list[tuple[str, str, int, str]]:
    """POST every file in ``demo_data/<channel>/`` to that channel; returns (channel, file, status, state)."""
    client = app.test_client()
    results = []
    gateway_channels = set(app.extensions["jembatan"].runnable_channels())
    for folder in sorted(p for p in DEMO_DATA.iterdir() if p.is_dir()):
        if folder.name not in gateway_channels:
            continue
        for file in sorted(folder.iterdir()):
            resp = client.post(
                f"/channels/{folder.name}/messages",
                data=file.read_bytes(),
                content_type="application/octet-stream",
                headers={"Authorization": f"Bearer {key}"},
            )
            results.append((folder.name, file.name, resp.status_code, (resp.json or {}).get("status", "?")))
    return results


def run_demo(app: Flask, *, host: str, http_port: int, mllp_port: int, once: bool) -> None:
    click.echo("Jembatan demo")
    prepare(app)
    stop = threading.Event()
    sims = start_simulators(host, dict(app.config["SIMULATOR_PORTS"]), stop)
    worker = start_worker(app, stop)
    key = demo_key(app)
    try:
        if once:
            _run_once(app, key, worker is not None)
            return
        handle = start_mllp(app, host, mllp_port)
        click.echo(f"  gateway HTTP        http://{host}:{http_port}/  (MLLP {host}:{mllp_port})")
        click.echo(f"  demo API key        {key}")
        server = make_wsgi_server(app, host, http_port)
        try:
            server.run()
        finally:
            server.close()
            if handle is not None:
                handle.close()
    finally:
        sims.close()


def _run_once(app: Flask, key: str, has_worker: bool) -> None:
    results = send_demo_messages(app, key)
    for channel, name, status, state in results:
        click.echo(f"  {channel:22} {name:36} HTTP {status} {state}")
    if has_worker:
        time.sleep(2)  # let the worker deliver what was queued
    failed = [r for r in results if r[2] >= 400]
    click.echo(f"{len(results) - len(failed)} of {len(results)} demo messages accepted")
    if failed or not results:
        raise click.exceptions.Exit(1)

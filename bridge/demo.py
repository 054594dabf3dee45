"""``jembatan demo``: the whole gateway on one machine, against the in-repo simulators.

Starts the SATUSEHAT, BPJS and DHIS2 simulators (``SIMULATOR_PORTS``, default 8081–8083), moves the
destinations configured at a simulator's default local address (the default ``DESTINATIONS``) to
the ports actually used, prepares the database and bundled data, creates a demo API key, starts the MLLP
listener (feeding ``hl7v2-satusehat`` unless ``MLLP_CHANNEL`` was changed) and the delivery worker,
and serves the HTTP API until Ctrl-C.

With ``--once`` it sends every file of ``demo_data/<channel>/`` to its channel — HL7 v2 (``*.hl7``)
over real MLLP to the listener, everything else over HTTP to ``/channels/<channel>/messages`` — waits
(bounded) until the worker has delivered or given up on each outbox entry, prints one line per
message, checks that the SATUSEHAT simulator holds what was delivered, and exits 1 if anything failed.
"""

from __future__ import annotations

import hashlib
import json
import socketserver
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import click
import httpx
from flask import Flask
from sqlalchemy import delete, select

from bridge.auth import create_key
from bridge.db import get_db
from bridge.models import IdMap, OutboxEntry, Transaction, decompress
from bridge.server import DEFAULT_SIM_PORTS, make_wsgi_server, prepare, start_mllp
from bridge.simulators import available, create_simulator

DEMO_DATA = Path(__file__).resolve().parent / "demo_data"
DEMO_MLLP_CHANNEL = "hl7v2-satusehat"
FINAL_STATES = ("delivered", "dead")
DELIVERY_WAIT_S = 30.0


@dataclass
class Running:
    """Background servers and threads of the demo; ``close()`` stops them."""

    servers: list[Any] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    simulators: dict[str, Flask] = field(default_factory=dict)

    def close(self) -> None:
        self.stop.set()
        for server in self.servers:
            server.close()


@dataclass
class Sent:
    """One demo message and what happened to it."""

    channel: str
    name: str
    via: str  # "MLLP" or "HTTP"
    answer: str  # ACK code (AA/AE/AR) or HTTP status
    transaction_id: str | None = None
    status: str = "?"
    outbox: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        accepted = self.answer in ("AA", "200", "201", "202")
        return accepted and not self.error and all(state == "delivered" for state in self.outbox)


# ------------------------------------------------------------------------------------------ setup


def client_host(host: str) -> str:
    """Where local clients reach a server bound to ``host`` (a wildcard bind is reached on loopback)."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def point_destinations_at_simulators(app: Flask, host: str, ports: Mapping[str, int]) -> list[str]:
    """Destinations whose URLs are a simulator's default local address (``http://127.0.0.1:8081`` …, as the
    default ``DESTINATIONS``) are moved to that simulator's port in ``ports``; returns their names.
    A destination configured with any other URL (a real upstream) is left alone."""
    moves = {f"http://{local}:{DEFAULT_SIM_PORTS[name]}": f"http://{client_host(host)}:{port}"
             for name, port in ports.items() if name in DEFAULT_SIM_PORTS
             for local in ("127.0.0.1", "localhost")}  # fmt: skip
    destinations, moved = {}, []
    for name, settings in (app.config.get("DESTINATIONS") or {}).items():
        destinations[name] = _retarget(settings, moves)
        if _urls(settings) and all(_follows(url, moves) for url in _urls(settings)):
            moved.append(name)
    app.config["DESTINATIONS"] = destinations
    app.extensions.pop("jembatan.destinations", None)  # rebuilt from the new URLs on first use
    return moved


def _follows(url: str, moves: Mapping[str, str]) -> bool:
    return any(url == old or url.startswith(old + "/") for old in moves)


def _retarget(settings: Mapping[str, Any], moves: Mapping[str, str]) -> dict[str, Any]:
    out = dict(settings)
    if isinstance(out.get("base_url"), str):
        out["base_url"] = _moved(out["base_url"], moves)
    if isinstance(out.get("base_urls"), Mapping):
        out["base_urls"] = {k: _moved(v, moves) if isinstance(v, str) else v for k, v in out["base_urls"].items()}
    return out


def _moved(url: str, moves: Mapping[str, str]) -> str:
    old = next((old for old in moves if url == old or url.startswith(old + "/")), None)
    return moves[old] + url[len(old) :] if old else url


def _urls(settings: Mapping[str, Any]) -> list[str]:
    urls = [settings["base_url"]] if isinstance(settings.get("base_url"), str) else []
    if isinstance(settings.get("base_urls"), Mapping):
        urls += [u for u in settings["base_urls"].values() if isinstance(u, str)]
    return urls


def forget_simulator_ids(app: Flask, names: list[str]) -> int:
    """The simulators keep their resources in memory and start empty: ids learned from an earlier run's
    simulators (the id map of the destinations that follow one) are stale, so they are dropped."""
    if not names:
        return 0
    with get_db(app).session() as sess:
        result = sess.execute(delete(IdMap).where(IdMap.upstream.in_(names)))
        return int(getattr(result, "rowcount", 0) or 0)


def start_simulators(host: str, ports: Mapping[str, int], running: Running) -> None:
    for name in available():
        sim = create_simulator(name)
        server = simulator_server(name, sim, host, int(ports[name]))
        _serve_in_thread(server, f"sim-{name}", running)
        running.simulators[name] = sim
        click.echo(f"  {name:9} simulator  http://{client_host(host)}:{ports[name]}/")


class _ThreadingWsgiServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return


class _PlainServer:
    """A threaded ``wsgiref`` server with the ``run()``/``close()`` of a waitress server."""

    def __init__(self, app: Flask, host: str, port: int) -> None:
        self.server = make_server(host, port, app, server_class=_ThreadingWsgiServer, handler_class=_QuietHandler)

    def run(self) -> None:
        self.server.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def simulator_server(name: str, sim: Flask, host: str, port: int) -> Any:
    """waitress, except for BPJS: its protocol puts ``user_key`` in a header with an underscore, which
    waitress (like Werkzeug's server) drops as a spoofing guard; ``wsgiref`` passes it on."""
    if name == "bpjs":
        return _PlainServer(sim, host, port)
    return make_wsgi_server(sim, host, port, threads=4)


def _serve_in_thread(server: Any, name: str, running: Running) -> None:
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    running.servers.append(server)
    running.threads.append(thread)


def start_worker(app: Flask, running: Running) -> None:
    """Run the delivery worker in a thread until the demo stops."""
    from bridge.outbox import run_worker

    kwargs = {"interval": 0.2, "stop": running.stop}
    thread = threading.Thread(target=run_worker, args=(app,), kwargs=kwargs, name="worker", daemon=True)
    thread.start()
    running.threads.append(thread)


def demo_key(app: Flask) -> str:
    with get_db(app).session() as sess:
        _, plaintext = create_key(sess, f"demo-{int(time.time())}")
    return plaintext


def start_gateway(app: Flask, host: str, ports: Mapping[str, int]) -> tuple[Running, str]:
    """Database, simulators, worker and an API key: everything but the listeners."""
    prepare(app)
    if app.config.get("MLLP_CHANNEL") in (None, "", "hl7v2-demo"):
        app.config["MLLP_CHANNEL"] = DEMO_MLLP_CHANNEL
    forget_simulator_ids(app, point_destinations_at_simulators(app, host, ports))
    running = Running()
    start_simulators(host, ports, running)
    start_worker(app, running)
    return running, demo_key(app)


def run_demo(app: Flask, *, host: str, http_port: int, mllp_port: int, once: bool) -> None:
    click.echo("Jembatan demo")
    ports = {name: int(port) for name, port in dict(app.config["SIMULATOR_PORTS"]).items()}
    running, key = start_gateway(app, host, ports)
    try:
        if once:
            _run_once(app, host, key, running)
        else:
            _serve(app, host, http_port, mllp_port, key)
    finally:
        running.close()


def _serve(app: Flask, host: str, http_port: int, mllp_port: int, key: str) -> None:
    handle = start_mllp(app, host, mllp_port)
    click.echo(f"  gateway HTTP        http://{client_host(host)}:{http_port}/")
    if handle is not None:
        click.echo(f"  gateway MLLP        {client_host(host)}:{handle.port} -> channel {app.config['MLLP_CHANNEL']}")
    click.echo(f"  demo API key        {key}")
    click.echo("  Ctrl-C stops.  Messages: MLLP as above, or HTTP POST /channels/<name>/messages")
    server = make_wsgi_server(app, host, http_port)
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.close()
        if handle is not None:
            handle.close()


# ------------------------------------------------------------------------------------------ --once


def _run_once(app: Flask, host: str, key: str, running: Running) -> None:
    """Send the demo messages through real listeners on free ports, wait for delivery, report, exit."""
    from bridge.mllp import start_mllp_server

    handle = start_mllp_server(app, host, 0, max_message_bytes=app.config["MLLP_MAX_MESSAGE_BYTES"])
    http = make_wsgi_server(app, host, 0)
    _serve_in_thread(http, "gateway-http", running)
    try:
        base = f"http://{client_host(host)}:{http.effective_port}"
        results = send_demo_messages(app, key, base, handle.port, client_host(host))
        wait_for_delivery(app, results)
        problems = check_simulators(app, running.simulators, results)
    finally:
        handle.close()
    print_summary(results, problems)
    if problems or not results or not all(r.ok for r in results):
        raise click.exceptions.Exit(1)


def demo_files(channels: Iterable[str]) -> list[tuple[str, Path]]:
    """``(channel, file)`` for every demo file of a runnable channel, in name order."""
    wanted = set(channels)
    out: list[tuple[str, Path]] = []
    for folder in sorted(p for p in DEMO_DATA.iterdir() if p.is_dir() and p.name in wanted):
        out.extend((folder.name, f) for f in sorted(folder.iterdir()) if f.is_file() and not f.name.startswith("."))
    return out


def stamp_control_id(message: bytes, stamp: str) -> bytes:
    """Append ``-<stamp>`` to MSH-10, so a new demo run is a new message, not a retransmission of the
    last run's (which the gateway would acknowledge again without delivering it anew)."""
    first, sep, rest = message.partition(b"\r")
    fields = first.split(b"|")
    if not first.startswith(b"MSH") or len(fields) < 10:
        return message
    fields[9] = fields[9][: 19 - len(stamp)] + b"-" + stamp.encode("ascii")  # MSH-10 is at most 20 characters
    return b"|".join(fields) + sep + rest


def send_demo_messages(app: Flask, key: str, base_url: str, mllp_port: int | None,
                       mllp_host: str = "127.0.0.1", stamp: str | None = None) -> list[Sent]:  # fmt: skip
    """HL7 v2 of the MLLP channel over MLLP, the rest over HTTP; each result knows its transaction."""
    gateway = app.extensions["jembatan"]
    stamp = stamp or f"{int(time.time()) % 10**6:06d}"
    results = []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        for channel, file in demo_files(gateway.runnable_channels()):
            body = file.read_bytes()
            if file.suffix == ".hl7":
                body = stamp_control_id(body, stamp)
            if file.suffix == ".hl7" and mllp_port and channel == app.config.get("MLLP_CHANNEL"):
                sent = _send_mllp(mllp_host, mllp_port, channel, file.name, body)
                sent.transaction_id = _transaction_of(app, channel, body)
            else:
                sent = _send_http(http, channel, file.name, body)
            results.append(sent)
    return results


def _send_mllp(host: str, port: int, channel: str, name: str, body: bytes) -> Sent:
    from bridge.mllp import send_messages

    acks = send_messages(host, port, [body])
    if not acks:
        return Sent(channel, name, "MLLP", "none", error="no ACK")
    msa = next((s for s in acks[0].replace(b"\n", b"\r").split(b"\r") if s.startswith(b"MSA")), b"")
    code = msa.split(b"|")[1].decode("ascii", "replace") if msa.count(b"|") >= 1 else "?"
    return Sent(channel, name, "MLLP", code)


def _send_http(http: httpx.Client, channel: str, name: str, body: bytes) -> Sent:
    media = "application/fhir+json" if name.endswith(".json") else "application/octet-stream"
    resp = http.post(f"/channels/{channel}/messages", content=body, headers={"Content-Type": media})
    try:
        data = resp.json()
    except ValueError:
        data = {}
    tx = data.get("transactionId") or data.get("id") if isinstance(data, dict) else None
    return Sent(channel, name, "HTTP", str(resp.status_code), transaction_id=tx)


def _transaction_of(app: Flask, channel: str, body: bytes) -> str | None:
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    with get_db(app).session() as sess:
        query = select(Transaction.id).where(Transaction.channel == channel, Transaction.content_hash == digest)
        return sess.scalars(query.order_by(Transaction.created_at)).first()


def wait_for_delivery(app: Flask, results: list[Sent], timeout: float = DELIVERY_WAIT_S) -> None:
    """Poll the outbox until every entry of the demo transactions is delivered or dead (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        _refresh(app, results)
        pending = [r for r in results for state in r.outbox if state not in FINAL_STATES]
        if not pending or time.monotonic() > deadline:
            return
        time.sleep(0.2)


def _refresh(app: Flask, results: list[Sent]) -> None:
    with get_db(app).session() as sess:
        for sent in results:
            if sent.transaction_id is None:
                continue
            tx = sess.get(Transaction, sent.transaction_id)
            sent.status = tx.status if tx is not None else "?"
            query = select(OutboxEntry).where(OutboxEntry.transaction_id == sent.transaction_id)
            entries = sess.scalars(query.order_by(OutboxEntry.created_at)).all()
            sent.outbox = [e.state for e in entries]
            dead = [e.last_error for e in entries if e.state == "dead" and e.last_error]
            if dead:
                sent.error = f"{dead[0].get('code')}: {dead[0].get('message')}"[:200]
            elif tx is not None and tx.status == "rejected":
                sent.error = first_error(tx.outcome)


def first_error(operation_outcome: Any) -> str:
    """The first error of a stored OperationOutcome, with where it is, for one summary line."""
    issues = (operation_outcome or {}).get("issue") or [] if isinstance(operation_outcome, dict) else []
    for issue in issues:
        if isinstance(issue, dict) and issue.get("severity") in ("error", "fatal"):
            where = ", ".join([*(issue.get("expression") or []), *(issue.get("location") or [])])
            text = (issue.get("details") or {}).get("text") or issue.get("diagnostics") or issue.get("code")
            return f"{text} at {where}"[:200] if where else str(text)[:200]
    return "rejected"


def check_simulators(app: Flask, simulators: Mapping[str, Flask], results: list[Sent]) -> list[str]:
    """What delivered payloads sent must now be held by the simulators; returns what is missing."""
    delivered = [r.transaction_id for r in results if r.ok]
    problems = []
    if "satusehat" in simulators:
        problems += check_satusehat(app, simulators["satusehat"], delivered)
    if "bpjs" in simulators:
        problems += check_bpjs(app, simulators["bpjs"], delivered)
    return problems


def check_bpjs(app: Flask, sim: Flask, transaction_ids: list[str | None]) -> list[str]:
    """Each delivered Rujukan insert must be an outgoing referral of its SEP to its PPK in the simulator."""
    outgoing = list(sim.extensions["bpjs_simulator"].outgoing.values())
    problems = []
    for payload in _delivered_payloads(app, transaction_ids, "bpjs"):
        t = (json.loads(payload or b"{}").get("request") or {}).get("t_rujukan") or {}
        found = [o for o in outgoing if o.get("noSep") == t.get("noSep") and o.get("ppkDirujuk") == t.get("ppkDirujuk")]
        if not found:
            problems.append(f"BPJS simulator has no referral of SEP {t.get('noSep')} to {t.get('ppkDirujuk')}")
    if outgoing:
        numbers = ", ".join(f"{o['noRujukan']} -> {o['ppkDirujuk']}" for o in outgoing)
        click.echo(f"  BPJS simulator holds: rujukan {numbers}")
    return problems


def check_satusehat(app: Flask, sim: Flask, transaction_ids: list[str | None]) -> list[str]:
    """Every resource a delivered SATUSEHAT payload created must now be in the simulator, found by its
    business identifier (Patients by NIK); returns what is missing, and prints what it holds."""
    state = sim.extensions["satusehat_sim"]
    expected = sorted(set(_delivered_identifiers(app, transaction_ids)))
    missing = [f"SATUSEHAT simulator lacks {rtype} {system}|{value}" for rtype, system, value in expected
               if state.find(rtype, system, value) is None]  # fmt: skip
    if expected:
        counts = sorted({rtype for rtype, _, _ in expected})
        held = ", ".join(f"{rtype} {len(state.resources.get(rtype, {}))}" for rtype in counts)
        click.echo(f"  SATUSEHAT simulator holds: {held}")
    return missing


def _delivered_payloads(app: Flask, transaction_ids: list[str | None], kind: str) -> list[bytes | None]:
    """Payloads of the delivered outbox entries of these transactions to destinations of type ``kind``."""
    names = {name for name, d in (app.config.get("DESTINATIONS") or {}).items() if d.get("type") == kind}
    with get_db(app).session() as sess:
        query = select(OutboxEntry).where(OutboxEntry.transaction_id.in_([t for t in transaction_ids if t]),
                                          OutboxEntry.state == "delivered")  # fmt: skip
        return [decompress(e.payload_z) for e in sess.scalars(query) if e.destination in names]


def _delivered_identifiers(app: Flask, transaction_ids: list[str | None]) -> Iterable[tuple[str, str, str]]:
    """(type, system, value) of what delivered SATUSEHAT Bundles sent (lookups by GET excluded)."""
    for payload in _delivered_payloads(app, transaction_ids, "satusehat"):
        doc = json.loads(payload or b"{}")
        for entry in doc.get("entry") or [] if doc.get("resourceType") == "Bundle" else [{"resource": doc}]:
            if str((entry.get("request") or {}).get("method", "POST")).upper() == "GET":
                continue
            yield from _identifiers(entry.get("resource") or {})


def _identifiers(resource: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    idents = resource.get("identifier")
    idents = [idents] if isinstance(idents, Mapping) else idents or []
    for ident in idents[:1]:  # the business identifier the destination keys on
        if isinstance(ident, Mapping) and ident.get("system") and ident.get("value"):
            yield str(resource.get("resourceType")), str(ident["system"]), str(ident["value"])


def print_summary(results: list[Sent], problems: list[str]) -> None:
    click.echo("")
    click.echo(f"  {'channel':18} {'message':30} {'via':4} {'answer':6} {'transaction':12} delivery")
    for r in results:
        delivery = ", ".join(r.outbox) if r.outbox else "-"
        line = f"  {r.channel:18} {r.name:30} {r.via:4} {r.answer:6} {r.status:12} {delivery}"
        click.echo(line + (f"  [{r.error}]" if r.error else ""))
    for problem in problems:
        click.echo(f"  problem: {problem}")
    good = sum(1 for r in results if r.ok)
    click.echo(f"{good} of {len(results)} demo messages accepted and delivered")

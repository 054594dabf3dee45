"""MLLP listener: one ACK per framed message, in order, only after the message is stored durably.

Threaded (one thread per connection), so a slow or garbage-sending client never stalls others.
For each message the connection's thread runs the pipeline of the channel named by
``MLLP_CHANNEL`` (:func:`bridge.ingest.prepare`), then hands the result to the listener's single
writer thread (:class:`bridge.ingest.GroupCommitter`), which stores the messages of all
connections waiting at that moment in one transaction — one commit, one fsync — and only after
that commit is each ACK written. (With an explicit ``ingest`` function, e.g. in tests, each message
goes through that function instead, which must likewise store before it returns.) A
retransmission (same MSH-3|MSH-4|MSH-10 and same bytes) gets the stored ACK again. The ACK code:

* **AA** – accepted and stored;
* **AE** – stored, but mapping or validation failed (ERR says where);
* **AR** – unacceptable: the message could not be decoded (bad MSH, unsupported version…), its
  type is not accepted on the channel (GW-1312), or its control id was already used for different
  content (GW-6301).

When storage itself fails the connection is closed without an ACK, so the sender retransmits
(at-least-once; the idempotency key makes the retry safe). A block larger than
``max_message_bytes`` or a stream of non-MLLP bytes of that size also closes the connection.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from flask import Flask

from adapters.hl7v2.ack import Header, build_ack, header_of, sniff_header
from adapters.hl7v2.codec import V2Batch, V2Message
from adapters.hl7v2.mllp import DEFAULT_MAX_MESSAGE_BYTES, FrameReader, frame
from bridge.errors import ConfigError, DecodeError
from bridge.ingest import GroupCommitter, Prepared, prepare
from conformance.outcome import Issue

log = logging.getLogger("jembatan.mllp")
IDLE_TIMEOUT_S = 300.0
RECV_BYTES = 65536
REJECT = frozenset({"GW-1312"})  # issues that make a decodable message unacceptable (AR), e.g. unsupported type

Ingest = Callable[..., Any]


def init_app(app: Flask) -> None:
    """Nothing to register: ``jembatan serve`` starts the listener through :func:`start_mllp_server`."""
    app.extensions.setdefault("jembatan.mllp", {"servers": []})


# ---------------------------------------------------------------- ACK decision


def first_error(issues: list[Issue]) -> Issue | None:
    return next((i for i in issues if i.is_error), None)


def ack_for(raw: bytes, run: Any, status: str, timezone: str = "Asia/Jakarta") -> bytes:
    """The ACK for one ingested message (``run`` is the pipeline's RunResult)."""
    header = _header(raw, getattr(run, "source_model", None))
    issues = list(getattr(getattr(run, "outcome", None), "issues", []) or [])
    error = first_error(issues)
    if status == "conflict":
        return build_ack(header, "AR", text="message control id already used for different content",
                         error_code="GW-6301", timezone=timezone)  # fmt: skip
    if status == "accepted" and error is None:
        return build_ack(header, "AA", timezone=timezone)
    unacceptable = getattr(run, "failed_step", None) == "decode" or (error is not None and error.message_id in REJECT)
    code = "AR" if unacceptable else "AE"
    text = error.message if error else f"processing failed at step {getattr(run, 'failed_step', '?')}"
    where = (error.location or error.expression or (None,))[0] if error else None
    return build_ack(header, code, text=text, error_code=error.message_id if error else None, location=where,
                     timezone=timezone)  # fmt: skip


def _header(raw: bytes, model: Any) -> Header:
    if isinstance(model, Header):  # prepared in a worker process: the header stands in for the model
        return model
    if isinstance(model, V2Message):
        return header_of(model)
    if isinstance(model, V2Batch) and model.messages:
        return header_of(model.messages[0])
    return sniff_header(raw)


# ---------------------------------------------------------------- worker processes (MLLP_WORKERS)

_WORKER_APP: Flask | None = None  # set in the parent before forking; the workers inherit it


def _worker_init() -> None:
    """In a fresh worker: never reuse the parent's database connections (workers do no I/O), and exit
    when the listener process dies (even by SIGKILL) instead of lingering as an orphan."""
    if _WORKER_APP is not None:
        from bridge.db import get_db

        get_db(_WORKER_APP).engine.dispose(close=False)
    parent = os.getppid()
    threading.Thread(target=_exit_with_parent, args=(parent,), name="mllp-worker-watchdog", daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _prepare_in_worker(channel: str, raw: bytes) -> Prepared:
    """:func:`bridge.ingest.prepare` in a worker; heavy models are replaced by the ACK header so it pickles small."""
    assert _WORKER_APP is not None
    with _WORKER_APP.app_context():
        prepared = prepare(channel, raw)
    header = _header(raw, prepared.run.source_model)
    for run in (prepared.run, prepared.decoded):
        run.source_model, run.fhir, run.output_model, run.pivot_dump = header, None, None, None
    return prepared


def _start_workers(app: Flask, count: int) -> ProcessPoolExecutor | None:
    """A pool of forked workers for the CPU part (decode + pipeline); None where fork is unavailable."""
    global _WORKER_APP
    if count <= 0 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    _WORKER_APP = app
    pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("fork"), initializer=_worker_init)
    pool.submit(int).result()  # fork every worker now, before the listener's threads exist
    return pool


# ---------------------------------------------------------------- server


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def setup(self) -> None:
        self.broken = False
        self.request.settimeout(self.server.idle_timeout)
        if self.server.ssl_context is not None:
            try:
                self.request = self.server.ssl_context.wrap_socket(self.request, server_side=True)
            except (OSError, ssl.SSLError) as exc:
                log.warning("MLLP TLS handshake with %s failed: %s", self.client_address, exc)
                self.broken = True

    def finish(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):  # the wrapped socket owns the descriptor now
            try:
                self.request.close()
            except OSError:
                pass

    def handle(self) -> None:
        if self.broken:
            return
        reader = FrameReader(self.server.max_message_bytes)
        peer = self.client_address
        while True:
            try:
                data = self.request.recv(RECV_BYTES)
            except (TimeoutError, OSError, ssl.SSLError):
                return
            if not data:
                return
            try:
                messages = reader.feed(data)
            except DecodeError as exc:
                log.warning("closing MLLP connection %s: %s", peer, exc)
                return
            if reader.skipped_bytes > self.server.max_message_bytes:
                log.warning("closing MLLP connection %s: %d bytes outside MLLP blocks", peer, reader.skipped_bytes)
                return
            for message in messages:
                ack = self.server.process(message)
                if ack is None:
                    return  # storage failed: no ACK, the sender retransmits
                try:
                    self.request.sendall(frame(ack))
                except OSError:
                    return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        app: Flask,
        *,
        max_message_bytes: int,
        ssl_context: ssl.SSLContext | None,
        ingest: Ingest | None,
        idle_timeout: float,
    ) -> None:
        self.app = app
        self.max_message_bytes = max_message_bytes
        self.ssl_context = ssl_context
        self.idle_timeout = idle_timeout
        self._ingest = ingest
        self.channel = str(app.config.get("MLLP_CHANNEL") or "hl7v2-demo")
        self.timezone = str((app.config.get("FACILITY") or {}).get("timezone") or "Asia/Jakarta")
        self.committer: GroupCommitter | None = None
        self.workers: ProcessPoolExecutor | None = None
        # The objects alive when the listener starts (the app, its pipelines and code maps, the
        # imported libraries: ~100,000) are moved out of the cyclic garbage collector's reach
        # (gc.freeze) before the workers are forked, so in the listener and in every worker. A
        # full collection otherwise walks them all, 60 ms on a quiet machine and over 200 ms under
        # load, stalling whichever message was in progress; frozen, it walks only what was made
        # since (and the workers keep sharing those pages). server_close unfreezes them.
        self.gc_frozen = False
        super().__init__(address, _Handler)
        if ingest is None:
            gc.freeze()  # see the note on _Server.gc_frozen
            self.gc_frozen = True
            self.workers = _start_workers(app, int(app.config.get("MLLP_WORKERS") or 0))
            self.committer = GroupCommitter(
                app,
                max_batch=int(app.config.get("MLLP_GROUP_COMMIT_MAX", 64)),
                max_wait_s=float(app.config.get("MLLP_GROUP_COMMIT_WAIT_MS", 0)) / 1000,
            )

    def server_close(self) -> None:
        super().server_close()
        if self.committer is not None:
            self.committer.close()
        if self.workers is not None:
            self.workers.shutdown(wait=False, cancel_futures=True)
        if self.gc_frozen:
            gc.unfreeze()
            self.gc_frozen = False

    def prepare(self, raw: bytes, respond: Callable[..., bytes]) -> Prepared:
        """Decode and run the pipeline: in a worker process when configured, else in this thread."""
        if self.workers is not None:
            try:
                prepared = self.workers.submit(_prepare_in_worker, self.channel, raw).result()
                prepared.make_response = respond
                return prepared
            except BrokenProcessPool:
                log.error("MLLP worker pool broken; preparing messages in the listener from now on")
                self.workers = None
        with self.app.app_context():
            return prepare(self.channel, raw, make_response=respond)

    def ingest_function(self) -> Ingest:
        if self._ingest is None:
            from bridge.ingest import ingest

            self._ingest = ingest
        return self._ingest

    def process(self, raw: bytes) -> bytes | None:
        """Ingest one message and return the ACK to send (None: storage failed, send nothing)."""

        def respond(run: Any, transaction_id: str, status: str) -> bytes:
            return ack_for(raw, run, status, self.timezone)

        try:
            if self.committer is not None:
                result = self.committer.submit(self.prepare(raw, respond))  # returns once the message is committed
            else:
                with self.app.app_context():
                    result = self.ingest_function()(self.channel, raw, make_response=respond)
        except Exception:  # noqa: BLE001 - any storage/config fault: never ACK what is not stored
            log.exception("MLLP message not stored; no ACK sent")
            return None
        if result.response:
            return bytes(result.response)
        return ack_for(raw, result.run, result.status, self.timezone)


class MllpServerHandle:
    """A running listener: ``port`` (the bound port, useful with port 0) and ``close()``."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server, self._thread = server, thread

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def port(self) -> int:
        return self.address[1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_mllp_server(
    app: Flask,
    host: str,
    port: int,
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ssl_context: ssl.SSLContext | None = None,
    ingest: Ingest | None = None,
    idle_timeout: float = IDLE_TIMEOUT_S,
) -> MllpServerHandle:
    """Listen on ``host:port`` in a background thread; ``ingest`` defaults to :func:`bridge.ingest.ingest`.

    Without an explicit ``ssl_context``, TLS is enabled by the config keys ``MLLP_TLS_CERT`` and
    ``MLLP_TLS_KEY`` (PEM files); ``MLLP_TLS_CLIENT_CA`` additionally requires client certificates.
    """
    if ssl_context is None:
        ssl_context = tls_context_from_config(app.config)
    server = _Server((host, port), app, max_message_bytes=max_message_bytes, ssl_context=ssl_context,
                     ingest=ingest, idle_timeout=idle_timeout)  # fmt: skip
    thread = threading.Thread(target=server.serve_forever, name=f"mllp-{port}", daemon=True)
    thread.start()
    log.info("MLLP listener on %s:%d (channel %s)", host, server.server_address[1], server.channel)
    return MllpServerHandle(server, thread)


def tls_context_from_config(config: Any) -> ssl.SSLContext | None:
    cert, key = config.get("MLLP_TLS_CERT"), config.get("MLLP_TLS_KEY")
    if not cert:
        return None
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key or None)
        if config.get("MLLP_TLS_CLIENT_CA"):
            context.load_verify_locations(config["MLLP_TLS_CLIENT_CA"])
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("GW-7601", f"MLLP TLS configuration unusable: {exc}") from exc
    return context


def send_messages(host: str, port: int, messages: list[bytes], *, timeout: float = 10.0) -> list[bytes]:
    """A tiny blocking MLLP client (tests, benchmarks): send each message and read its ACK in order."""
    acks: list[bytes] = []
    reader = FrameReader()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        for message in messages:
            sock.sendall(frame(message))
            got: list[bytes] = []
            while not got:
                data = sock.recv(RECV_BYTES)
                if not data:
                    return acks
                got = reader.feed(data)
            acks += got
    return acks

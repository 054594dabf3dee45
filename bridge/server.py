"""Running the gateway: prepare storage and data, then serve HTTP (waitress) and MLLP."""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any

import click
from flask import Flask

from bridge.db import get_db, upgrade

log = logging.getLogger("jembatan.server")
DEFAULT_SIM_PORTS = {"satusehat": 8081, "bpjs": 8082, "dhis2": 8083}


def prepare(app: Flask) -> None:
    """Apply migrations and load the bundled terminology (idempotent: re-running changes nothing)."""
    upgrade(get_db(app).engine)
    try:
        terminology = importlib.import_module("terminology")
    except ModuleNotFoundError:
        return
    loader = getattr(terminology, "load_bundled", None)
    if loader is not None and app.config.get("LOAD_BUNDLED_TERMINOLOGY", True):
        with app.app_context():
            loader(get_db(app))


def start_mllp(app: Flask, host: str, port: int) -> Any:
    """Start the MLLP listener if this build has it; returns a handle with ``close()`` or None."""
    if not port:
        return None
    try:
        mllp = importlib.import_module("bridge.mllp")
    except ModuleNotFoundError:
        log.warning("MLLP listener not available in this build")
        return None
    return mllp.start_mllp_server(app, host, port, max_message_bytes=app.config["MLLP_MAX_MESSAGE_BYTES"])


def make_wsgi_server(app: Flask, host: str, port: int, threads: int = 8) -> Any:
    from waitress.server import create_server

    return create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        clear_untrusted_proxy_headers=True,
        max_request_body_size=app.config.get("MAX_CONTENT_LENGTH") or 1073741824,
    )


def serve_wsgi(app: Flask, host: str, port: int, stop: threading.Event, threads: int = 8) -> None:
    server = make_wsgi_server(app, host, port, threads)
    try:
        server.run()
    finally:
        stop.set()
        server.close()


def serve(app: Flask, *, host: str | None, http_port: int | None, mllp_port: int | None, threads: int = 8) -> None:
    host = host or app.config["HTTP_HOST"]
    http_port = app.config["HTTP_PORT"] if http_port is None else http_port
    mllp_port = app.config["MLLP_PORT"] if mllp_port is None else mllp_port
    prepare(app)
    handle = start_mllp(app, host, mllp_port)
    click.echo(f"Jembatan HTTP on http://{host}:{http_port}/ (health: /health, API: /openapi.json)")
    if handle is not None:
        click.echo(f"MLLP listener on {host}:{mllp_port} (channel {app.config['MLLP_CHANNEL']})")
    try:
        serve_wsgi(app, host, http_port, threading.Event(), threads)
    finally:
        if handle is not None:
            handle.close()

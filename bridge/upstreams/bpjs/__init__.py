"""BPJS Kesehatan upstream (VClaim / PCare): HTTP client, outbox destination ``bpjs``, ``jembatan bpjs check``.

Settings live in ``app.config["UPSTREAMS"]["bpjs"]`` (keys of :class:`BpjsConfig`: ``cons_id``,
``secret``, ``user_keys``, ``environment``, ``base_urls``, ``proxy``, ``timeout`` …).
"""

from __future__ import annotations

from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from bridge.errors import GatewayError
from bridge.upstreams.bpjs.client import BASE_URLS, BpjsClient, BpjsConfig, BpjsRejected, BpjsUnavailable
from bridge.upstreams.bpjs.destination import BpjsDestination

__all__ = [
    "BASE_URLS",
    "BpjsClient",
    "BpjsConfig",
    "BpjsDestination",
    "BpjsRejected",
    "BpjsUnavailable",
    "client_from_app",
    "init_app",
]

DEFAULTS: dict[str, Any] = {"environment": "development", "timeout": 8.0, "connect_timeout": 3.0, "skew_warning": 60.0}
TRANSPORT_KEY = "bpjs.transport"  # tests put an httpx transport (e.g. the simulator) here


def client_from_app(app: Flask, **kwargs: Any) -> BpjsClient:
    """A client for ``UPSTREAMS["bpjs"]`` (ConfigError GW-74xx when the settings are incomplete)."""
    settings = dict((app.config.get("UPSTREAMS") or {}).get("bpjs") or {})
    kwargs.setdefault("transport", app.extensions.get(TRANSPORT_KEY))
    return BpjsClient(BpjsConfig.from_mapping(settings), **kwargs)


@click.group("bpjs")
def bpjs_group() -> None:
    """BPJS Kesehatan (VClaim / PCare) commands."""


@bpjs_group.command("check")
@with_appcontext
def check_command() -> None:
    """One signed VClaim call (referensi propinsi): checks credentials, decryption, network path and clock."""
    try:
        client = client_from_app(current_app)
    except GatewayError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    try:
        client.referensi_propinsi()
    except GatewayError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    finally:
        client.close()
    skew = "unknown (no Date header)" if client.last_skew is None else f"{client.last_skew:+.0f} s"
    click.echo(
        f"BPJS VClaim OK at {client.config.base_url('vclaim')}; signature and decryption work; clock skew {skew}"
    )


def init_app(app: Flask) -> None:
    """Configuration defaults, the ``jembatan bpjs`` commands and the outbox destination type ``bpjs``."""
    upstreams = app.config.setdefault("UPSTREAMS", {})
    upstreams["bpjs"] = {**DEFAULTS, **(upstreams.get("bpjs") or {})}
    app.cli.add_command(bpjs_group)

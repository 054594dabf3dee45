"""SATUSEHAT upstream: OAuth2 client, FHIR client and the ``jembatan satusehat`` commands."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from bridge.upstreams.satusehat.client import (
    ENVIRONMENTS,
    Envelope,
    SatusehatClient,
    SatusehatConfig,
    SatusehatRejected,
    SatusehatUnavailable,
    parse_envelope,
)

__all__ = [
    "ENVIRONMENTS",
    "Envelope",
    "SatusehatClient",
    "SatusehatConfig",
    "SatusehatRejected",
    "SatusehatUnavailable",
    "init_app",
    "parse_envelope",
]


@click.group("satusehat")
def satusehat_group() -> None:
    """SATUSEHAT destination commands."""


@satusehat_group.command("check")
@click.argument("destination")
@with_appcontext
def check_command(destination: str) -> None:
    """Fetch a token for DESTINATION (a key of DESTINATIONS) to check its credentials and network path."""
    settings = (current_app.config.get("DESTINATIONS") or {}).get(destination)
    if not settings:
        raise click.ClickException(f"no destination {destination!r} in DESTINATIONS")
    client = SatusehatClient(SatusehatConfig.from_mapping(settings))
    try:
        client.access_token()
    finally:
        client.close()
    click.echo(f"{destination}: token obtained from {client.config.token_url}")


def init_app(app: Flask) -> None:
    app.cli.add_command(satusehat_group)

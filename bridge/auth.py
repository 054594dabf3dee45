"""API keys: ``Authorization: Bearer <key>`` on every endpoint except ``/health``.

A key looks like ``jmb_<id>_<secret>``; only ``sha256(key)`` is stored, looked up by its public
``id``. Keys may be limited to channels. ``jembatan apikey create --name NAME`` prints a new key
once, as its last line.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import click
from cachetools import TTLCache
from flask import Flask, current_app, g, request
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.db import get_db, session
from bridge.errors import AuthError
from bridge.models import ApiKey, utcnow

PUBLIC_PATHS = frozenset({"/health"})


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(sess: Session, name: str, channels: Iterable[str] | None = None) -> tuple[ApiKey, str]:
    """A new key row and its plaintext (shown once, never stored)."""
    key_id = secrets.token_hex(6)
    plaintext = f"jmb_{key_id}_{secrets.token_urlsafe(32)}"
    chans = list(channels) if channels else None
    row = ApiKey(id=key_id, name=name, key_hash=_hash(plaintext), channels=chans)
    sess.add(row)
    return row, plaintext


def revoke_key(sess: Session, key_id: str) -> bool:
    row = sess.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def verify(sess: Session, header: str | None) -> ApiKey:
    """The key row for an Authorization header value, or AuthError (GW-6101 missing, GW-6102 invalid)."""
    if not header or not header.startswith("Bearer "):
        raise AuthError("GW-6101", "missing API key: send 'Authorization: Bearer <key>'")
    key = header[len("Bearer ") :].strip()
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != "jmb":
        raise AuthError("GW-6102", "invalid API key")
    row = sess.get(ApiKey, parts[1])
    if row is None or not hmac.compare_digest(row.key_hash, _hash(key)) or row.revoked_at is not None:
        raise AuthError("GW-6102", "invalid or revoked API key")
    return row


def require_channel(channel: str) -> None:
    """403 GW-6103 when the request's key is limited to other channels."""
    key: KeyView | None = g.get("api_key")
    if key is not None and key.channels is not None and channel not in key.channels:
        raise AuthError("GW-6103", f"this API key may not use channel {channel!r}", status=403)


@dataclass(frozen=True)
class KeyView:
    """What a request needs of a verified key (safe to cache; no secret, no session)."""

    id: str
    name: str
    channels: tuple[str, ...] | None


def _key_cache() -> TTLCache[str, KeyView]:
    """Verified keys by sha256 of the header, for ``API_KEY_CACHE_SECONDS`` (0 disables).

    Revocation through this process clears the cache at once; another process's revocation takes
    effect within the TTL (default 5 s).
    """
    cache = current_app.extensions.get("jembatan.keycache")
    if cache is None:
        ttl = float(current_app.config.get("API_KEY_CACHE_SECONDS", 5))
        cache = current_app.extensions["jembatan.keycache"] = TTLCache(maxsize=1024, ttl=max(ttl, 0.001))
    return cache  # type: ignore[no-any-return]


def _authenticate() -> None:
    if request.path in PUBLIC_PATHS or not current_app.config.get("API_KEYS_REQUIRED", True):
        return
    header = request.headers.get("Authorization")
    cache_key = _hash(header or "")
    cache = _key_cache()
    view = cache.get(cache_key) if current_app.config.get("API_KEY_CACHE_SECONDS", 5) else None
    if view is None:
        row = verify(session(), header)
        view = KeyView(row.id, row.name, tuple(row.channels) if row.channels is not None else None)
        cache[cache_key] = view
    g.api_key = view


@click.group("apikey", cls=AppGroup)
def apikey_group() -> None:
    """Manage API keys."""


@apikey_group.command("create")
@click.option("--name", required=True, help="Who or what uses the key.")
@click.option("--channel", "channels", multiple=True, help="Limit the key to this channel (repeatable).")
def create_command(name: str, channels: tuple[str, ...]) -> None:
    """Create a key and print it (last line) — it cannot be shown again."""
    with get_db().session() as sess:
        row, plaintext = create_key(sess, name, channels)
        scope = ", ".join(channels) if channels else "all channels"
        click.echo(f"created key {row.id} for {name} ({scope}); store it now, it is not shown again:")
    click.echo(plaintext)


@apikey_group.command("list")
def list_command() -> None:
    """List keys (never their secrets)."""
    with get_db().session() as sess:
        for row in sess.scalars(select(ApiKey).order_by(ApiKey.created_at)):
            state = "revoked" if row.revoked_at else "active"
            click.echo(f"{row.id}\t{row.name}\t{state}\t{','.join(row.channels or ['*'])}")


@apikey_group.command("revoke")
@click.argument("key_id")
def revoke_command(key_id: str) -> None:
    """Revoke a key by its id."""
    with get_db().session() as sess:
        if not revoke_key(sess, key_id):
            raise click.ClickException(f"no active key {key_id!r}")
    _key_cache().clear()
    click.echo(f"revoked {key_id}")


def init_app(app: Flask) -> None:
    app.before_request(_authenticate)
    app.cli.add_command(apikey_group)

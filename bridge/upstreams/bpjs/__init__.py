"""BPJS Kesehatan upstream (VClaim / PCare): HTTP client and configuration defaults.

Settings live in ``app.config["UPSTREAMS"]["bpjs"]`` (keys of :class:`BpjsConfig`: ``cons_id``,
``secret``, ``user_keys``, ``environment``, ``base_urls``, ``proxy``, ``timeout`` …).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from bridge.upstreams.bpjs.client import BASE_URLS, BpjsClient, BpjsConfig, BpjsRejected, BpjsUnavailable

__all__ = ["BASE_URLS", "BpjsClient", "BpjsConfig", "BpjsRejected", "BpjsUnavailable", "client_from_app", "init_app"]

DEFAULTS: dict[str, Any] = {"environment": "development", "timeout": 8.0, "connect_timeout": 3.0, "skew_warning": 60.0}


def init_app(app: Flask) -> None:
    """Only configuration defaults: the BPJS client is built on demand from ``UPSTREAMS["bpjs"]``."""
    upstreams = app.config.setdefault("UPSTREAMS", {})
    current = upstreams.get("bpjs") or {}
    upstreams["bpjs"] = {**DEFAULTS, **current}


def client_from_app(app: Flask, **kwargs: Any) -> BpjsClient:
    settings = dict((app.config.get("UPSTREAMS") or {}).get("bpjs") or {})
    return BpjsClient(BpjsConfig.from_mapping(settings), **kwargs)

"""Feature modules wired into the app, in order. Each exposes ``init_app(app)``.

A feature whose module is not part of this build is skipped; any other import error propagates.
"""

from __future__ import annotations

import importlib

from flask import Flask

FEATURES: tuple[str, ...] = (
    "bridge.db",
    "bridge.gateway",
    "bridge.auth",
    "bridge.api",
    "mappings",
    "conformance",
    "bridge.cli",
    "terminology",
    "bridge.outbox",
    "bridge.mllp",
    "bridge.upstreams.satusehat",
    "bridge.upstreams.bpjs",
    "bridge.upstreams.dhis2",
)


def init_features(app: Flask, features: tuple[str, ...] = FEATURES) -> list[str]:
    loaded = []
    for name in features:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue
            raise
        init_app = getattr(module, "init_app", None)
        if init_app is not None:
            init_app(app)
            loaded.append(name)
    return loaded

"""Jembatan: interoperability gateway and terminology server for Indonesian health IT.

``create_app(config)`` builds the Flask app: configuration (defaults < file < ``JEMBATAN_*``
environment < ``config``), then every feature in :data:`bridge.features.FEATURES` registers itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

__version__ = "0.1.0"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    from bridge import logs
    from bridge.config import build_config
    from bridge.features import init_features

    app = Flask("jembatan", instance_relative_config=False)
    build_config(app.config, config)
    logs.configure(app.config["LOG_LEVEL"])
    app.extensions["jembatan.features"] = init_features(app)
    if app.config.get("AUTO_MIGRATE"):
        from bridge.db import get_db, upgrade

        upgrade(get_db(app).engine)
    return app


__all__ = ["__version__", "create_app"]

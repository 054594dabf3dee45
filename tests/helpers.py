"""Helpers shared by tests (importable, unlike conftest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from bridge import create_app
from bridge.db import get_db, upgrade

# the shared reference material beside the project root (samples, test suites)
SHARED = Path(__file__).resolve().parents[2] / "shared"


def make_app(tmp_path: Path, **overrides: Any) -> Flask:
    config: dict[str, Any] = {
        "TESTING": True,
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}",
        "LOAD_BUNDLED_TERMINOLOGY": False,
    }
    config.update(overrides)
    app = create_app(config)
    upgrade(get_db(app).engine)
    return app


def new_key(app: Flask, name: str = "test", channels: list[str] | None = None) -> str:
    from bridge.auth import create_key

    with get_db(app).session() as sess:
        _, plaintext = create_key(sess, name, channels)
    return plaintext

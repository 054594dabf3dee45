"""Conformance: located issues and outcomes (``outcome``), payload checks (``check``), the validate endpoint."""

from __future__ import annotations

from typing import Any

from conformance.outcome import Issue, Outcome


def init_app(app: Any) -> None:
    """Register ``POST /conformance/<name>/$validate``."""
    from conformance.api import bp

    app.register_blueprint(bp)


__all__ = ["Issue", "Outcome", "init_app"]

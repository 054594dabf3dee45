"""Versioned code mappings (ConceptMap JSON data files) and their registry.

Data lives beside this file as ``<map-id>/<semver>.json``; ``published.json`` pins the digest of every
published version. See :mod:`mappings.registry`.
"""

from __future__ import annotations

from mappings.registry import (
    BUNDLED_ROOT,
    ConceptMapVersion,
    MappingRegistry,
    Translation,
    canonical_digest,
    check_all,
    publish,
)


def init_app(app: object) -> None:
    """Register the ``jembatan mappings`` commands."""
    from mappings.cli import init_app as _init

    _init(app)  # type: ignore[arg-type]


__all__ = [
    "BUNDLED_ROOT",
    "ConceptMapVersion",
    "MappingRegistry",
    "Translation",
    "canonical_digest",
    "check_all",
    "init_app",
    "publish",
]

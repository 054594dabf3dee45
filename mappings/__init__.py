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

__all__ = [
    "BUNDLED_ROOT",
    "ConceptMapVersion",
    "MappingRegistry",
    "Translation",
    "canonical_digest",
    "check_all",
    "publish",
]

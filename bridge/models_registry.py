"""Which modules define tables on ``bridge.models.Base`` (imported for Alembic and the schema-drift test)."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

MODEL_MODULES: tuple[str, ...] = (
    "bridge.models",
    "terminology.models",
    "bridge.upstreams.dhis2.models",
    "bridge.upstreams.satusehat.models",
    "bridge.upstreams.bpjs.models",
)


def load_metadata() -> MetaData:
    """Import every model module that exists and return the shared metadata."""
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise
    from bridge.models import Base

    return Base.metadata

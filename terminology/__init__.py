"""Jembatan terminology server: FHIR CodeSystem / ValueSet / ConceptMap store and operations.

``init_app(app)`` registers the ``/fhir`` blueprint, the ``jembatan terminology`` CLI group and a
:class:`terminology.service.TerminologyService` in ``app.extensions["jembatan.terminology"]``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask


def init_app(app: Flask) -> None:
    from terminology.api import EXT_KEY, bp
    from terminology.cli import terminology_group
    from terminology.service import TerminologyService

    database = _database(app)
    limit = int(app.config.get("TERMINOLOGY_EXPANSION_LIMIT", 1000))
    app.extensions[EXT_KEY] = TerminologyService(database, expansion_limit=limit)
    if "terminology" not in app.blueprints:
        app.register_blueprint(bp)
    app.cli.add_command(terminology_group)


def _database(app: Flask) -> Any:
    db = app.extensions.get("jembatan.db")
    if db is None:
        from bridge.db import Database

        db = Database(app.config["DATABASE_URL"])
        app.extensions["jembatan.db"] = db
    return db


def load_bundled(database: Any) -> Any:
    """Load the bundled HL7 / Kemenkes / BPJS code systems (idempotent; the app calls it at start-up)."""
    from terminology.loaders import load_bundled as _load

    return _load(database)


def get_service(app: Flask) -> Any:
    """The app's :class:`TerminologyService` (for ``MapContext.terminology``)."""
    return app.extensions["jembatan.terminology"]

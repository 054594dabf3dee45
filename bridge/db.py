"""Database engine, sessions and migrations (SQLite by default, PostgreSQL by URL).

``init_app`` puts a :class:`Database` in ``app.extensions["jembatan.db"]``; request code uses
:func:`session` (one per app context, closed on teardown). Schema changes go through Alembic
(:func:`upgrade`); nothing calls ``create_all``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app, g
from flask.cli import AppGroup
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bridge.errors import ConfigError

MIGRATIONS = "bridge:migrations"


def normalise_url(url: str) -> str:
    """``postgresql://`` / ``postgres://`` use psycopg 3; everything else is left as given."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """WAL for concurrent readers; synchronous=FULL so a committed row survives a power cut (ACK safety)."""
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any exception."""
        sess = self.sessionmaker()
        try:
            yield sess
            sess.commit()
        except BaseException:
            sess.rollback()
            raise
        finally:
            sess.close()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Apply every migration (all branches: core, terminology, …) up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def current_revisions(engine: Engine) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def is_current(engine: Engine) -> bool:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(engine))
    return current_revisions(engine) == set(script.get_heads())


def get_db(app: Flask | None = None) -> Database:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        return app.extensions["jembatan.db"]  # type: ignore[no-any-return]
    except KeyError:
        raise ConfigError("GW-7101", "database not initialised (bridge.db.init_app not called)") from None


def session() -> Session:
    """The request/app-context session; committed by the caller, closed on teardown."""
    if "jembatan_session" not in g:
        g.jembatan_session = get_db().sessionmaker()
    return g.jembatan_session  # type: ignore[no-any-return]


def _close_session(exc: BaseException | None) -> None:
    sess = g.pop("jembatan_session", None)
    if sess is not None:
        if exc is not None:
            sess.rollback()
        sess.close()


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


@click.group("db", cls=AppGroup)
def db_group() -> None:
    """Database schema commands."""


@db_group.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def upgrade_command(revision: str) -> None:
    """Apply the migrations to the configured database."""
    db = get_db()
    upgrade(db.engine, revision)
    click.echo(
        f"database at {db.engine.url.render_as_string(hide_password=True)} is at {sorted(current_revisions(db.engine))}"
    )


def init_app(app: Flask) -> None:
    app.extensions["jembatan.db"] = Database(app.config["DATABASE_URL"])
    app.teardown_appcontext(_close_session)
    app.cli.add_command(db_group)

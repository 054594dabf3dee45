"""Alembic environment: the engine comes from ``config.attributes["engine"]`` (see bridge.db.upgrade).

Tables of every feature share ``bridge.models.Base``; feature model modules listed in
``bridge.models_registry.MODEL_MODULES`` are imported so their tables are known to autogenerate.
"""

from alembic import context

from bridge.models_registry import load_metadata

config = context.config
target_metadata = load_metadata()


def run_migrations_online() -> None:
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()

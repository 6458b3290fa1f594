"""Alembic environment of the mexlab session catalog.

Run programmatically by :class:`acquisition.catalog.db.Catalog` (no ``alembic.ini`` needed): the caller
passes an open connection in ``config.attributes["connection"]``. From the alembic command line, the
URL comes from ``sqlalchemy.url`` in the config or, failing that, :func:`acquisition.catalog.connection.resolve_url`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from acquisition.catalog.tables import metadata

config = context.config
target_metadata = metadata


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds the table
        **kwargs,
    )


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from acquisition.catalog.connection import resolve_url

    return resolve_url(None)


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

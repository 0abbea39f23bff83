"""Alembic environment: migrations run on the connection `ictgis.store.migrate.upgrade` passes in."""

from __future__ import annotations

from alembic import context


def run_migrations() -> None:
    """Run the migrations on the connection given in the Alembic config's attributes."""
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=None,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if getattr(context, "config", None) is not None:  # run by Alembic (not when merely imported, e.g. by doctests)
    run_migrations()

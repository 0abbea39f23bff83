"""Alembic migrations of the store (run by `ictgis.store.migrate.upgrade`, i.e. ``ictgis db init``)."""

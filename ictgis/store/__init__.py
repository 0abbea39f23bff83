"""The shared database: planning layers with their history (changesets, as-of states), users and runs.

One interface, chosen by URL (`ictgis.store.url`): a GeoPackage file (the default, nothing to install; QGIS opens
it as it is) or PostgreSQL + PostGIS (``postgresql://…`` or ``DATABASE_URL``). SQLAlchemy 2 and GeoAlchemy2;
schema migrations with Alembic (`ictgis.store.migrate`, run by ``ictgis db init``).

>>> from ictgis.store import open_store            # doctest: +SKIP
>>> store = open_store("instance/ictgis.gpkg")      # doctest: +SKIP
>>> store.init()                                    # doctest: +SKIP
>>> cs = store.import_dataset("data/shapefiles", author="Lan", message="2024 survey")  # doctest: +SKIP
>>> ds = store.dataset(as_of="2024-12-31")          # an ictgis.io.Dataset, as read from files  # doctest: +SKIP
>>> store.diff(1, cs.id)["bts_sites"]["added"]      # doctest: +SKIP
"""

from __future__ import annotations

from .._errors import EditConflictError, StoreError
from .refs import VIETNAM, Ref, as_of_instant, day_end, parse_ref
from .store import Changeset, Feature, Store, open_store
from .url import ENV_VAR, resolve_url

__all__ = ["ENV_VAR", "VIETNAM", "Changeset", "EditConflictError", "Feature", "Ref", "Store", "StoreError",
           "as_of_instant", "day_end", "open_store", "parse_ref", "resolve_url"]

"""The one table of intervention types, found in `ictgis.scenario.interventions`: adding a type is one module there.

Every module of `ictgis.scenario.interventions` that defines ``INTERVENTION`` (an `Intervention`) is registered; the
table is ordered by each declaration's ``order``, which is the order of ``known:`` lists in messages and of the
variants in the JSON Schema (``scenarios/scenario.schema.json`` is generated from it: ``ictgis scenario schema``).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

from . import interventions
from ._base import Intervention


def discover(paths: Iterable[str], package: str) -> dict[str, Intervention]:
    """Return the interventions declared by the modules of a package, by ``type:`` name, in their ``order``.

    Parameters
    ----------
    paths
        The package's ``__path__``.
    package
        Its dotted name.

    Raises
    ------
    ValueError
        When two modules declare the same type.
    """
    found: list[Intervention] = []
    for info in pkgutil.iter_modules(list(paths)):
        if info.name.startswith("_"):
            continue
        declared = getattr(importlib.import_module(f"{package}.{info.name}"), "INTERVENTION", None)
        if isinstance(declared, Intervention):
            found.append(declared)
    table: dict[str, Intervention] = {}
    for item in sorted(found, key=lambda i: (i.order, i.name)):
        if item.name in table:
            raise ValueError(f"intervention type {item.name!r} is declared twice")
        table[item.name] = item
    return table


INTERVENTIONS: dict[str, Intervention] = discover(interventions.__path__, interventions.__name__)

"""The kinds of values a scenario key can hold, checked and turned into JSON Schema from one declaration.

A kind is a Python type (``str``, ``float``, ``int``, ``bool``, ``list``, ``dict``; numbers must not be negative),
a tuple of allowed values, or one of the `Kind` classes below for structured values (a site selection, ids, a
filter, a mapping of options). `check_value` checks a value against its kind and `kind_schema` gives the JSON
Schema of the kind, so the validator and the schema cannot drift apart.

`Checker` collects every problem with the line of the YAML file it comes from (see `ictgis.scenario.read`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

from .._errors import Problem

if TYPE_CHECKING:
    from ..io import Dataset

_JSON_TYPES: dict[type, dict[str, object]] = {str: {"type": "string"}, float: {"type": "number", "minimum": 0},
               int: {"type": "integer", "minimum": 0}, bool: {"type": "boolean"},
               list: {"type": "array"}, dict: {"type": "object"}}


class Checker:
    """Problems found in one scenario file, each placed on the line of its key.

    Parameters
    ----------
    file
        The file's name, as shown in messages.
    lines
        1-based line of each key path of the document (see `ictgis.scenario.model.line_map`).
    """

    def __init__(self, file: str, lines: dict[tuple, int]):
        self.file, self.lines = file, lines
        self.problems: list[Problem] = []

    def add(self, path: tuple, message: str) -> None:
        """Record a problem at a key path (placed on the line of its nearest known parent)."""
        line = None
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                line = self.lines[path[:cut]]
                break
        self.problems.append(Problem(self.file, f"line {line}: {message}" if line else message,
                                     row=line, column=".".join(map(str, path)) or None))

    def typed(self, path: tuple, value: object, kind: type | tuple[object, ...]) -> bool:
        """Check a value against a Python type or a tuple of allowed values; record a problem when it is not."""
        if isinstance(kind, tuple):
            if value not in kind:
                self.add(path, f"{value!r} is not one of {', '.join(map(str, kind))}")
                return False
            return True
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            self.add(path, f"expected {getattr(kind, '__name__', kind)}, got {type(value).__name__} {value!r}")
        return ok


class BaseIds:
    """Feature ids of the base data, layer by layer (empty for a missing layer), each set computed once.

    Parameters
    ----------
    dataset
        The loaded base data.
    """

    def __init__(self, dataset: Dataset):
        self._dataset = dataset
        self._ids: dict[str, set] = {}

    def __getitem__(self, layer: str) -> set:
        if layer not in self._ids:
            self._ids[layer] = set(self._dataset[layer]["id"]) if layer in self._dataset else set()
        return self._ids[layer]


class Kind:
    """A structured kind of value; subclasses say how it is checked and what its JSON Schema is."""

    def check(self, chk: Checker, path: tuple, value: object) -> bool:
        """Check the value where its key is read; return whether it has the right type."""
        return chk.typed(path, value, dict)

    def check_entries(self, chk: Checker, path: tuple, value: object) -> None:
        """Check the entries of a mapping value, after the rules of the intervention it belongs to."""

    def check_base(self, chk: Checker, path: tuple, value: object, ids: BaseIds) -> None:
        """Check the ids the value names against the base data."""

    def schema(self) -> dict:
        """Return the JSON Schema of the kind."""
        raise NotImplementedError


FieldKind: TypeAlias = type | tuple | Kind
"""What a scenario key holds: a Python type, a tuple of allowed values or a `Kind`."""


@dataclass(frozen=True, eq=False)
class Ids(Kind):
    """A list of feature ids of a base layer, each of which must exist there."""

    layer: str
    what: str

    def check(self, chk: Checker, path: tuple, value: object) -> bool:  # noqa: D102
        return chk.typed(path, value, list)

    def check_base(self, chk: Checker, path: tuple, value: object, ids: BaseIds) -> None:  # noqa: D102
        for j, fid in enumerate(value if isinstance(value, list) else []):
            if str(fid) not in ids[self.layer]:
                chk.add((*path, j), f"{self.what} id {fid!r} does not exist in the base data")

    def schema(self) -> dict:  # noqa: D102
        return {"type": "array", "items": {"type": ["string", "integer"]}}


@dataclass(frozen=True, eq=False)
class Filter(Kind):
    """A mapping of filter names (from `names`) to values, e.g. a ``where:`` of sites or villages."""

    names: frozenset[str]
    what: str

    def check_entries(self, chk: Checker, path: tuple, value: object) -> None:  # noqa: D102
        if isinstance(value, dict):
            for key in value:
                if key not in self.names:
                    known = ", ".join(sorted(self.names))
                    chk.add((*path, key), f"unknown {self.what} filter '{key}' (known: {known})")

    def schema(self) -> dict:  # noqa: D102
        return {"type": "object", "propertyNames": {"enum": sorted(self.names)}}


@dataclass(frozen=True, eq=False)
class Options(Kind):
    """A mapping of options, each of its own kind, at least one of `needs` present (when given)."""

    keys: Mapping[str, FieldKind]
    needs: tuple[str, ...] = ()
    needs_text: str = ""

    def check_entries(self, chk: Checker, path: tuple, value: object) -> None:  # noqa: D102
        if not isinstance(value, dict):
            return
        for key, sub in value.items():
            if key not in self.keys:
                chk.add((*path, key), f"unknown key '{key}' (known: {', '.join(self.keys)})")
            else:
                check_value(chk, (*path, key), sub, self.keys[key])
        if self.needs and not (set(self.needs) & set(value)):
            chk.add(path, f"{path[-1]} needs {self.needs_text}")

    def schema(self) -> dict:  # noqa: D102
        return {"type": "object", "additionalProperties": False,
                "properties": {k: kind_schema(v) for k, v in self.keys.items()}}


@dataclass(frozen=True, eq=False)
class SiteSelection(Kind):
    """A choice of BTS sites: ``ids`` and/or a ``where`` filter (see `ictgis.scenario.select_sites`)."""

    where: frozenset[str]
    keys: dict[str, Kind] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", {"ids": Ids("bts_sites", "site"), "where": Filter(self.where, "site")})

    def check(self, chk: Checker, path: tuple, value: object) -> bool:  # noqa: D102
        if not isinstance(value, dict):
            chk.add(path, "a site selection is a mapping with ids and/or where")
            return False
        for key, sub in value.items():
            if key not in self.keys:
                chk.add((*path, key), f"unknown key '{key}' (known: {', '.join(self.keys)})")
            elif self.keys[key].check(chk, (*path, key), sub):
                self.keys[key].check_entries(chk, (*path, key), sub)
        return True

    def check_base(self, chk: Checker, path: tuple, value: object, ids: BaseIds) -> None:  # noqa: D102
        if isinstance(value, dict):
            for key, kind in self.keys.items():
                if key in value:
                    kind.check_base(chk, (*path, key), value[key], ids)

    def schema(self) -> dict:  # noqa: D102
        return {"type": "object", "additionalProperties": False,
                "properties": {k: v.schema() for k, v in self.keys.items()}}


def check_value(chk: Checker, path: tuple, value: object, kind: FieldKind) -> bool:
    """Check a value against its kind (numbers must not be negative); return whether it has the right type."""
    if isinstance(kind, Kind):
        return kind.check(chk, path, value)
    ok = chk.typed(path, value, kind)
    if ok and isinstance(value, (int, float)) and value < 0:
        chk.add(path, f"{path[-1]} must not be negative")
    return ok


def kind_schema(kind: FieldKind) -> dict:
    """Return the JSON Schema of a kind (numbers with minimum 0)."""
    if isinstance(kind, tuple):
        return {"enum": list(kind)}
    if isinstance(kind, Kind):
        return kind.schema()
    return dict(_JSON_TYPES[kind])

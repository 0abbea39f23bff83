"""The IctgisError family: one root class, one child per kind of bad input."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One problem found in an input: where it is and what is wrong.

    Parameters
    ----------
    file
        File name (or layer name when no file is known).
    message
        What is wrong, in plain words.
    row
        1-based feature number in the file, or None for file-level problems.
    column
        Attribute name concerned, or None.
    feature_id
        Value of the layer's id attribute for that row, when known.
    kind
        What kind of problem it is (``missing_value``, ``bad_value``, ``wrong_geometry_type`` … see `PROBLEM_KINDS`),
        so that an interface can say it in its own words; None for problems without a kind.
    params
        The values a translated message needs (``value``, ``expected``, ``geometry`` …); compared and hashed with
        the rest (a tuple of ``(name, value)`` pairs; read it as a dict with `detail`).
    """

    file: str
    message: str
    row: int | None = None
    column: str | None = None
    feature_id: str | None = None
    kind: str | None = None
    params: tuple[tuple[str, object], ...] = field(default=())

    @property
    def detail(self) -> dict[str, object]:
        """The `params` as a dict."""
        return dict(self.params)

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
            if self.feature_id not in (None, ""):
                where += f" (id {self.feature_id})"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


#: The kinds of `Problem` the engine gives, with the `Problem.params` each carries (English text stays in `message`).
PROBLEM_KINDS: dict[str, tuple[str, ...]] = {
    "file_not_found": ("layer",),
    "empty_layer": ("layer",),
    "missing_attribute": ("attribute",),
    "missing_value": (),
    "bad_value": ("value", "expected"),
    "duplicate_id": ("value", "first_row"),
    "missing_geometry": (),
    "geometry_type": ("found", "expected"),
    "wrong_geometry_type": ("layer", "found", "expected", "count", "total"),
    "invalid_geometry": ("reason",),
    "no_crs": (),
    "degrees_in_metres": ("crs",),
    "crs_misfit": ("suggested",),
    "swapped_coordinates": (),
    "outside_province": ("distance_km",),
    "unknown_commune": ("value",),
}

MAX_SHOWN_PROBLEMS = 20
"""How many problems an error's text lists before "… and N more" (`IctgisError.problems` keeps them all)."""


class IctgisError(Exception):
    """Root of every error ictgis raises on purpose.

    Parameters
    ----------
    message
        One line saying what failed.
    problems
        Every problem found. The error's text lists the first `MAX_SHOWN_PROBLEMS` and then "… and N more";
        `problems` keeps them all (the web app and ``ictgis validate --json`` show every one).
    """

    http_status = 500

    def __init__(self, message: str, problems: list[Problem] | None = None):
        self.problems = list(problems or [])
        self.summary = message
        super().__init__(self.describe(limit=MAX_SHOWN_PROBLEMS))

    def describe(self, *, limit: int | None = None, all_in: str | None = None) -> str:
        """Return the message and the problems, one per line, at most `limit` of them.

        Parameters
        ----------
        limit
            Problems listed before "… and N more"; None lists all.
        all_in
            Where the whole list can be read (a file name), added to the "… and N more" line.
        """
        shown = self.problems if limit is None else self.problems[:limit]
        lines = [self.summary, *(f"  - {p}" for p in shown)]
        rest = len(self.problems) - len(shown)
        if rest > 0:
            lines.append(f"  … and {rest} more" + (f" (all in {all_in})" if all_in else ""))
        return "\n".join(lines)


class LayerError(IctgisError, ValueError):
    """Schema, geometry or encoding problems in input layers."""

    http_status = 400


class CRSError(IctgisError, ValueError):
    """A missing, unknown or inconsistent coordinate reference system."""

    http_status = 400


class ScenarioError(IctgisError, ValueError):
    """Problems in a scenario file."""

    http_status = 400


class StoreError(IctgisError, ValueError):
    """A database problem the user can act on: no URL, an unknown changeset or date, a store not initialised."""

    http_status = 400


class EditConflictError(StoreError):
    """An edit based on a version of a feature that is no longer current (someone saved it first).

    Attributes
    ----------
    layer, key
        The feature.
    expected, current
        The version the edit was based on and the current one (None when the feature is gone).
    """

    http_status = 409

    def __init__(self, layer: str, key: str, *, expected: int | None, current: int | None):
        self.layer, self.key, self.expected, self.current = layer, key, expected, current
        if expected is None:
            text = (f"{layer} {key}: already exists (version {current}); choose another id — nothing was saved / "
                    "mã đã tồn tại")
            problem = "the id is taken"
        else:
            now = "it was deleted" if current is None else f"it is now at version {current}"
            text = (f"{layer} {key}: edited by someone else since version {expected} ({now}); reload it and apply "
                    "your change again — nothing was saved / đối tượng đã bị người khác sửa, hãy tải lại")
            problem = f"version {expected} is no longer current"
        super().__init__(text, [Problem(layer, problem, feature_id=key)])


class DataWarning(UserWarning):
    """Something about the input data the user should know (commands print each one as a line on stderr)."""


class RepairWarning(DataWarning):
    """ictgis repaired something in the input (an invalid geometry, mis-decoded text)."""


class CRSWarning(DataWarning):
    """A stated CRS disagrees with the one a file declares (the file's own CRS is used)."""


class PlacementWarning(DataWarning):
    """Points lie outside the commune they name (`ictgis.placement`); `rows` lists them.

    Parameters
    ----------
    message
        The warning's text (English, naming the first points).
    rows
        One dict per point: ``layer``, ``id``, ``name``, ``commune`` (the stated code), ``commune_name``,
        ``lies_in`` (code of the commune it lies in, None outside every commune), ``lies_in_name``,
        ``distance_m`` (to the stated commune).
    """

    def __init__(self, message: str, rows: list[dict] | None = None):
        super().__init__(message)
        self.rows = list(rows or [])

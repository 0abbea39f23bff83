"""The IctgisError family: one root class, one child per kind of bad input."""

from __future__ import annotations

from dataclasses import dataclass


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
    """

    file: str
    message: str
    row: int | None = None
    column: str | None = None
    feature_id: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
            if self.feature_id not in (None, ""):
                where += f" (id {self.feature_id})"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class IctgisError(Exception):
    """Root of every error ictgis raises on purpose."""

    http_status = 500

    def __init__(self, message: str, problems: list[Problem] | None = None):
        self.problems = list(problems or [])
        if self.problems:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            message = f"{message}\n{lines}"
        super().__init__(message)


class LayerError(IctgisError, ValueError):
    """Schema, geometry or encoding problems in input layers."""

    http_status = 400


class CRSError(IctgisError, ValueError):
    """A missing, unknown or inconsistent coordinate reference system."""

    http_status = 400


class ScenarioError(IctgisError, ValueError):
    """Problems in a scenario file."""

    http_status = 400


class RepairWarning(UserWarning):
    """ictgis repaired something in the input (an invalid geometry, mis-decoded text)."""


class CRSWarning(UserWarning):
    """A stated CRS disagrees with the one a file declares (the file's own CRS is used)."""

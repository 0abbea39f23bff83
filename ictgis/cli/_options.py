"""Options, arguments and helpers shared by the command modules of :mod:`ictgis.cli`."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click

DATA_DIR = click.argument("data_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
"""The optional DATA_DIR argument (default: the embedded demo)."""
CRS_OPTION = click.option("--crs", default=None, help="CRS of files that have none, e.g. EPSG:9205.")
"""The ``--crs`` option for files without a CRS."""


def load_dataset(data_dir: Path | None, crs: str | None):
    """Read and check the layers of `data_dir` (see :func:`ictgis.io.load`)."""
    from .. import io

    return io.load(data_dir, crs=crs)


@contextlib.contextmanager
def fraction_progress(label: str) -> Iterator[Callable[[float, str], None]]:
    """Yield a ``progress(fraction, message)`` callback drawing a click progress bar on stderr."""
    with click.progressbar(length=100, label=label, file=sys.stderr) as bar:
        done = [0]

        def progress(fraction: float, _message: str) -> None:
            step = int(fraction * 100) - done[0]
            if step > 0:
                bar.update(step)
                done[0] += step

        yield progress


def postal_kinds_option(text: str | None) -> tuple[str, ...] | None:
    """Parse a comma-separated list of post office kinds (`ictgis.postal.parse_kinds`) for a command option.

    Raises
    ------
    click.BadParameter
        For an unknown kind, listing the valid ones (exit code 2).
    """
    from ..postal import parse_kinds

    if text is None:
        return None
    try:
        return parse_kinds(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None

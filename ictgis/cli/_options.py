"""Options, arguments and helpers shared by the command modules of :mod:`ictgis.cli`."""

from __future__ import annotations

import atexit
import contextlib
import gc
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .._errors import DataWarning

if TYPE_CHECKING:
    from ..io import Dataset

DATA_DIR = click.argument("data_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
"""The optional DATA_DIR argument (default: the embedded demo)."""
CRS_OPTION = click.option("--crs", default=None, help="CRS of files that have none, e.g. EPSG:9205.")
"""The ``--crs`` option for files without a CRS."""
DB_OPTION = click.option("--db", "db", default=None, metavar="URL",
                         help="Read the layers from this store instead of a data folder: a .gpkg file or "
                         "postgresql://USER@HOST/DB (see `ictgis db`).")
"""The ``--db`` option naming a store (`ictgis.store`) to read the layers from."""
AS_OF_OPTION = click.option("--as-of", "as_of", default=None, metavar="DATE|ID",
                            help="With --db: the layers as they were at this date (YYYY-MM-DD: the end of that day, "
                            "Vietnam time), time or changeset id (default: the current state).")
"""The ``--as-of`` option: a state of the store."""


def store_options(command: Callable) -> Callable:
    """Add ``--db URL`` and ``--as-of DATE|ID`` to a command that reads a dataset (see `load_dataset`)."""
    return DB_OPTION(AS_OF_OPTION(command))


@contextlib.contextmanager
def data_warnings() -> Iterator[None]:
    """Print each warning about the input data (a `DataWarning`: repairs, CRS notes) as one line on stderr, once.

    The lines are printed when the block ends, also when it ends with an error. Other warnings are passed on
    unchanged.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        try:
            yield
        finally:
            others = []
            shown: set[str] = set()
            for w in caught:
                if not issubclass(w.category, DataWarning):
                    others.append(w)
                elif str(w.message) not in shown:
                    shown.add(str(w.message))
                    click.echo(f"Warning: {w.message}", err=True)
    for w in others:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)


def load_dataset(data_dir: Path | None, crs: str | None, *, db: str | None = None, as_of: str | None = None,
                 layers: tuple[str, ...] | None = None) -> Dataset:
    """Read and check the layers of `data_dir` (see :func:`ictgis.io.load`), printing the repairs made.

    `layers`: only these layers of a data folder (and the communes), for a command that needs no other.

    With `db`, read them from that store as of `as_of` instead (`ictgis.store.Store.dataset`): the same dataset
    the data folder they were imported from gives.

    Raises
    ------
    click.UsageError
        For both a data folder and ``--db``, or ``--as-of`` without ``--db``.
    """
    from .. import io

    if db is None:
        if as_of is not None:
            raise click.UsageError("--as-of needs --db (a store): a data folder has no history")
        with data_warnings():
            return io.load(data_dir, crs=crs, layers=layers)
    if data_dir is not None:
        raise click.UsageError(f"give either DATA_DIR ({data_dir}) or --db, not both")
    from ..store import open_store

    with open_store(db) as store:
        return store.dataset(as_of)


@contextlib.contextmanager
def dataset_folder(data_dir: Path | None, *, db: str | None, as_of: str | None) -> Iterator[Path | None]:
    """Yield a data folder: `data_dir` itself, or the state of store `db` exported into a temporary folder.

    For commands that take a folder rather than a dataset (scenario runs).
    """
    if db is None:
        if as_of is not None:
            raise click.UsageError("--as-of needs --db (a store): a data folder has no history")
        yield data_dir
        return
    if data_dir is not None:
        raise click.UsageError(f"give either DATA_DIR ({data_dir}) or --db, not both")
    import tempfile

    from ..store import open_store

    with tempfile.TemporaryDirectory(prefix="ictgis-store-") as tmp, open_store(db) as store:
        yield store.export(Path(tmp) / "data", as_of=as_of)


def freeze_at_exit() -> None:
    """Let the interpreter end without collecting its objects' cycles (`gc.freeze` when it exits).

    After a heavy command (pandas, geopandas, numba, rasterio loaded) the garbage collections of the interpreter's
    finalization take 0.5–1.5 s on these machines, against about 0.2 s once the objects are frozen; nothing is left
    to write by then (outputs are closed and renamed into place; `atexit` handlers such as logging's still run).
    Called once a command has written its outputs; registering it again changes nothing, and a process that goes
    on (a test running commands with click's ``CliRunner``) is not affected until it exits.
    """
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


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


def postal_kinds_option(text: str | None, *, option: str) -> tuple[str, ...] | None:
    """Parse a comma-separated list of post office kinds (`ictgis.postal.parse_kinds`) given to `option`.

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
        raise click.BadParameter(str(exc), param_hint=option) from None

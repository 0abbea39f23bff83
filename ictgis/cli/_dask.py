"""The ``--workers`` / ``--scheduler`` options of national runs (Dask), shared by coverage, indicators and fiber."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import click

WORKERS = click.option("--workers", type=click.IntRange(1, None), default=None,
                       help="Run on a Dask LocalCluster of N worker processes (one thread each); many provinces.")
SCHEDULER = click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
                         help="Run on an existing Dask cluster (`dask scheduler` + `dask worker`).")


def dask_options(func: Callable) -> Callable:
    """Add ``--workers`` and ``--scheduler`` to a command."""
    return WORKERS(SCHEDULER(func))


@contextlib.contextmanager
def client_for(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """Yield a Dask client for the options (a UsageError when both are given)."""
    if workers is not None and scheduler is not None:
        raise click.UsageError("--workers and --scheduler cannot be combined")
    from ..national import dask_client

    with dask_client(workers=workers, scheduler=scheduler) as client:
        yield client

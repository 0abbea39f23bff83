"""The Dask client of national runs: a LocalCluster of N one-thread worker processes, or an existing scheduler.

Each worker runs one task at a time with numba limited to one thread (``NUMBA_NUM_THREADS=1`` in the worker
processes a LocalCluster starts, ``numba.set_num_threads(1)`` in the `WorkerSetup` plugin on any cluster), so N
workers use N cores and never oversubscribe them. The plugin also warms the compiled coverage kernels once per
worker (they are ``cache=True``: a worker loads them from numba's cache, or compiles them the first time), on a
tiny flat DEM; the time it took is kept on the worker (`warmup_seconds`) and reported apart from the work.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    from distributed import WorkerPlugin
except ImportError:  # pragma: no cover - without the 'national' extra
    WorkerPlugin = object  # type: ignore[assignment,misc]

logger = logging.getLogger(__name__)

__all__ = ["WORKER_ENV", "WorkerSetup", "dask_client", "warmup_seconds", "worker_peak_rss_mb"]

#: Environment of the worker processes a LocalCluster starts: one thread for numba and the BLAS libraries.
WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1"}


def _require_dask():
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - the extra is installed in the dev venv
        raise ImportError("national runs need Dask: pip install 'ictgis[national]'") from exc
    return distributed


def warm_up() -> float:
    """Run the coverage engine once on a tiny flat DEM so its numba kernels are loaded; return the seconds taken."""
    import geopandas as gpd
    import numba
    import numpy as np
    import shapely

    from .. import coverage
    from ..io import Dataset
    from ..terrain import Dem

    numba.set_num_threads(1)
    t = time.perf_counter()
    dem = Dem.from_array(np.full((40, 40), 500.0, np.float32), x_min=0.0, y_max=4000.0, resolution_m=100.0,
                         crs="EPSG:3405")
    sites = gpd.GeoDataFrame({"id": ["w"], "operator": ["VNPT"], "tech": ["4G"], "band_mhz": [1800.0],
                              "height_m": [30.0], "power": ["grid"], "commune": ["00001"]},
                             geometry=[shapely.Point(2000.0, 2000.0)], crs="EPSG:3405")
    communes = gpd.GeoDataFrame({"code": ["00001"], "name": ["w"], "kind": ["xa"]},
                                geometry=[shapely.box(0, 0, 4000, 4000)], crs="EPSG:3405")
    ds = Dataset(layers={"bts_sites": sites, "communes": communes}, sources={}, crs=sites.crs)
    coverage.compute(ds, technology="4G", radius_m=1500.0, dem=dem, progress=lambda f, m: None)
    return time.perf_counter() - t


class WorkerSetup(WorkerPlugin):
    """Dask worker plugin: numba on one thread, coverage kernels warmed up once (`warm_up`)."""

    name = "ictgis-setup"

    def setup(self, worker: Any) -> None:
        """Set numba's threads and warm the kernels; store the warm-up time on the worker."""
        os.environ.setdefault("NUMBA_NUM_THREADS", "1")
        worker.ictgis_warmup_s = warm_up()
        logger.info("worker %s ready: coverage kernels warmed up in %.2f s", worker.address, worker.ictgis_warmup_s)


def warmup_seconds(client: Any) -> dict[str, float]:
    """Warm-up time of every worker (s), by worker address."""
    return client.run(lambda dask_worker: float(getattr(dask_worker, "ictgis_warmup_s", 0.0)))


def _peak_rss_mb() -> float:
    """Peak RSS of this process image: VmHWM (``ru_maxrss`` keeps the forking parent's peak across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_peak_rss_mb(client: Any) -> dict[str, float]:
    """Peak resident memory of every worker process (MB), by worker address."""
    return client.run(_peak_rss_mb)


@contextlib.contextmanager
def dask_client(*, workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """Yield a `distributed.Client`: on a new LocalCluster of `workers` processes, or on `scheduler`.

    Parameters
    ----------
    workers
        Worker processes of a LocalCluster started here (one thread each).
    scheduler
        Address of a running scheduler (``tcp://HOST:PORT``); its workers are set up the same way.

    Raises
    ------
    ValueError
        If neither or both are given.
    """
    _require_dask()
    from distributed import Client, LocalCluster

    if (workers is None) == (scheduler is None):
        raise ValueError("give either workers or scheduler")

    with contextlib.ExitStack() as stack:
        if scheduler is None:
            n_workers = int(workers or 1)
            cluster = stack.enter_context(LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                                       env=dict(WORKER_ENV), dashboard_address=":0"))
            client = stack.enter_context(Client(cluster))
            logger.info("Dask LocalCluster of %d worker processes; dashboard: %s", workers, client.dashboard_link)
        else:
            client = stack.enter_context(Client(scheduler))
            logger.info("Dask scheduler %s: %d workers", scheduler, len(client.scheduler_info()["workers"]))
        client.register_plugin(WorkerSetup())
        yield client

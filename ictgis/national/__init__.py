"""National runs on Dask: many provinces partitioned by tile (coverage) or by province (indicators, fiber).

:mod:`~ictgis.national.cluster` starts or joins the Dask cluster (`dask_client`: a LocalCluster of one-thread
worker processes, or ``tcp://HOST:PORT``) and sets the workers up; :mod:`~ictgis.national.coverage` computes
coverage tile by tile into a VRT mosaic with per-province tables; :mod:`~ictgis.national.provinces` runs the
indicators and the fiber plan of each province as one task. Dask is the optional extra ``national``.
"""

from __future__ import annotations

from .cluster import WorkerSetup, dask_client, warmup_seconds, worker_peak_rss_mb
from .coverage import TILE_SIZE, run_coverage

__all__ = ["TILE_SIZE", "WorkerSetup", "dask_client", "run_coverage", "warmup_seconds", "worker_peak_rss_mb"]

"""Indicators and fiber plans of many provinces, one Dask task per province.

A multi-province folder (layers with a ``province`` column, e.g. ``ictgis demo --provinces N``) is split by
province (`split_provinces`); each task gets the layers of its province (vectors only, a few MB) and computes
what a single-province run computes on them. Fiber plans one network per province: **routes that cross a province
border are out of scope** (a village is connected from its own province's fiber only), and the 4G double-gap score
is not used in national fiber runs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from .._files import atomic_dir
from ..io import Dataset

logger = logging.getLogger(__name__)

__all__ = ["CROSS_BORDER_NOTE", "run_fiber", "run_indicators", "split_provinces"]

#: Said in the log and in ``summary.json`` of national fiber runs.
CROSS_BORDER_NOTE = ("one fiber plan per province: routes crossing a province border are out of scope; the 4G "
                     "double-gap score is not used")


def split_provinces(ds: Dataset) -> dict[str, Dataset]:
    """Split a dataset by the ``province`` column of its communes (one dataset when there is none).

    Layers without a ``province`` column go to every province whole.
    """
    communes = ds["communes"]
    if "province" not in communes:
        return {"": ds}
    out = {}
    for code in sorted(communes["province"].astype(str).unique()):
        layers = {name: (gdf[gdf["province"].astype(str) == code].reset_index(drop=True) if "province" in gdf
                         else gdf) for name, gdf in ds.layers.items()}
        out[code] = Dataset(layers=layers, sources=dict(ds.sources), crs=ds.crs, data_dir=ds.data_dir,
                            dem_path=ds.dem_path, notes=[], area_km2=None, derived=True)
    return out


def _indicators_task(ds: Dataset, options: dict) -> dict:
    from .. import indicators

    return indicators.compute(ds, **options)


def _map(client: Any, func, items: list, **kwargs) -> list:
    if client is None:
        return [func(item, **kwargs) for item in items]
    futures = client.map(func, items, pure=False, **kwargs)
    return client.gather(futures)


def run_indicators(ds: Dataset, *, client: Any = None, structure: str = "2019",
                   postal_kinds: tuple[str, ...] | None = None) -> dict:
    """Compute the indicators of every province of `ds` in parallel through `client` (here when None).

    Returns
    -------
    dict
        ``{"provinces": {code: <the indicators JSON of that province>}}``.
    """
    parts = split_provinces(ds)
    options = {"structure": structure, "postal_kinds": postal_kinds}
    results = _map(client, _indicators_task, list(parts.values()), options=options)
    return {"provinces": dict(zip(parts, results, strict=True))}


def _fiber_task(ds: Dataset, out_dir: str, options: dict) -> dict:
    from .. import fiber, fiber_outputs

    model = fiber.CostModel.from_usd(usd_to_vnd=options.pop("usd_to_vnd"), installation=options.pop("installation"))
    budget = options.pop("budget_vnd")
    plan = fiber.FiberPlan.from_dataset(ds, cost_model=model, **options).solve(budget_vnd=budget)
    fiber_outputs.write_outputs(plan, Path(out_dir))
    return plan.summary


def run_fiber(ds: Dataset, out_dir: str | Path, *, client: Any = None, budget_vnd: float | None = None,
              weights: dict | None = None, installation: str = "aerial", usd_to_vnd: float | None = None,
              gap_distance_m: float | None = None) -> dict:
    """Plan fiber in every province of `ds` in parallel; write ``<out_dir>/<province>/`` and ``summary.json``.

    `budget_vnd` applies to each province. With several machines `out_dir` must be on a shared filesystem.

    Returns
    -------
    dict
        ``{"note": CROSS_BORDER_NOTE, "provinces": {code: <that province's fiber summary>}}``.
    """
    logger.warning("national fiber: %s", CROSS_BORDER_NOTE)
    parts = split_provinces(ds)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        options = {"budget_vnd": budget_vnd, "weights": weights, "installation": installation,
                   "usd_to_vnd": usd_to_vnd, "gap_distance_m": gap_distance_m}
        items = [(code or "all", part) for code, part in parts.items()]
        if client is None:
            results = [_fiber_task(part, str(tmp / code), dict(options)) for code, part in items]
        else:
            futures = [client.submit(_fiber_task, part, str(tmp / code), dict(options), pure=False)
                       for code, part in items]
            results = client.gather(futures)
        summary = {"note": CROSS_BORDER_NOTE, "provinces": {code: res for (code, _), res in
                                                            zip(items, results, strict=True)}}
        (tmp / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str),
                                          encoding="utf-8")
    return summary

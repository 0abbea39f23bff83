"""Populated-area coverage per technology as indicator values (`populated_area_coverage`, `coverage_indicators`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..io import Dataset
from ..layers import parse_tech
from ..terrain import read_dem
from .best_server import compute
from .model import CoverageResult

__all__ = ["CoverageIndicators", "coverage_indicators", "populated_area_coverage"]


@dataclass
class CoverageIndicators:
    """Populated-area coverage of a dataset per technology: the indicator values and the results behind them.

    Attributes
    ----------
    values
        Indicator keys (``populated_area_4g_pct``, ``villages_covered_4g``, ``population_covered_4g`` … per
        technology) → value; None when unavailable.
    results
        Technology (``"3G"``, ``"4G"``) → its `CoverageResult`, for the technologies that were computed (not those
        without data or without sites).
    """

    values: dict
    results: dict[str, CoverageResult] = field(default_factory=dict)


def populated_area_coverage(ds: Dataset, *, technologies: tuple[str, ...] = ("3G", "4G"),
                            threshold_dbm: float | None = None, calibration=None,
                            clutter_loss_db: dict | None = None) -> CoverageIndicators:
    """Populated-area coverage per technology, as indicator values plus the coverage results computed for them.

    Computed at the DEM's own resolution; a technology without sites, or a dataset without DEM or villages, gives
    None values (0 when the dataset has no site of that technology) and no result.

    Parameters
    ----------
    ds
        The layers and DEM; not modified.
    technologies
        Technologies to compute, e.g. ``("3G", "4G")``.
    threshold_dbm
        RSRP threshold (default `ictgis.settings`).
    calibration
        A :class:`ictgis.calibration.Calibration`, applied to the technology it was fitted for.
    clutter_loss_db
        Land-cover loss per class over the defaults (``clutter_loss_db:`` in scenario parameters).

    Returns
    -------
    CoverageIndicators
        The values (``populated_area_<tech>_pct``, ``villages_covered_<tech>``, ``population_covered_<tech>``) and
        the `CoverageResult` of each computed technology.
    """
    values: dict = {}
    results: dict[str, CoverageResult] = {}
    dem = read_dem(ds.dem_path) if ds.dem_path is not None else None
    for tech in technologies:
        tag = tech.lower()
        keys = (f"populated_area_{tag}_pct", f"villages_covered_{tag}", f"population_covered_{tag}")
        if dem is None or ds.get("villages") is None or ds.get("bts_sites") is None:
            values.update(dict.fromkeys(keys))
            continue
        bts = ds["bts_sites"]
        if not any(tech in parse_tech(t) for t in bts["tech"]):
            values.update(dict(zip(keys, (0.0, 0, 0), strict=True)))  # no site of that technology: nothing covered
            continue
        own = calibration if calibration is not None and calibration.technology in ("", tech.upper()) else None
        result = compute(ds, technology=tech, threshold_dbm=threshold_dbm, dem=dem, progress=lambda f, m: None,
                         calibration=own,
                         clutter_loss_db={int(k): float(v) for k, v in (clutter_loss_db or {}).items()})
        results[tech] = result
        s = result.summary
        values.update(dict(zip(keys, (s["populated_area_pct"], s["villages_covered"], s["population_covered"]),
                               strict=True)))
    return CoverageIndicators(values=values, results=results)


def coverage_indicators(ds: Dataset, *, technologies: tuple[str, ...] = ("3G", "4G"),
                        threshold_dbm: float | None = None) -> dict:
    """Populated-area coverage per technology as indicator keys (``populated_area_4g_pct`` …), None when unavailable.

    The values of `populated_area_coverage` (which also returns the coverage results).
    """
    return populated_area_coverage(ds, technologies=technologies, threshold_dbm=threshold_dbm).values

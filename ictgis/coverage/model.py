"""What every coverage step shares: the result type, the sites of a technology, their Hata environment and loss.

The path-loss coefficients (`loss_coefficients`) and the radius rules (`RADIUS_MARGIN_DB`, `MAX_RADIUS_M`) are
read by :func:`ictgis.coverage.compute` and :func:`ictgis.coverage.coverage_matrix`; the outputs
(:mod:`ictgis.coverage.outputs`) take a `CoverageResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import radio, settings, tr38901
from .._errors import LayerError, Problem
from ..io import Dataset
from ..layers import parse_tech
from ..terrain import Dem

__all__ = [
    "ENV_BY_KIND", "MAX_RADIUS_M", "RADIUS_MARGIN_DB", "CoverageResult", "floor_of", "loss_coefficients",
    "site_environment",
    "sites_of", "tr38901_coefficients", "unobstructed_reach_km",
]

#: Hata environment of a site by the kind of its commune (``settings.environment_of_commune_kind``).
ENV_BY_KIND = settings.environment_of_commune_kind
#: Sites are swept out to where their signal, without any terrain loss, falls this far below the threshold
#: (so weak-signal areas are mapped too), capped at `MAX_RADIUS_M`.
RADIUS_MARGIN_DB = 5.0
MAX_RADIUS_M = 20_000.0


def floor_of(threshold_dbm: float, floor_dbm: float | None = None) -> float:
    """Return the floor of a run (dBm): `floor_dbm`, by default `RADIUS_MARGIN_DB` below the threshold.

    Raises
    ------
    ValueError
        If the floor is above the threshold.
    """
    floor = threshold_dbm - RADIUS_MARGIN_DB if floor_dbm is None else float(floor_dbm)
    if not floor <= threshold_dbm:
        raise ValueError(f"floor_dbm ({floor:g}) must not be above the threshold ({threshold_dbm:g} dBm)")
    return floor


@dataclass
class CoverageResult:
    """Best-server coverage of one technology and what it means for villages and communes."""

    technology: str
    threshold_dbm: float
    dem: Dem
    rsrp_dbm: np.ndarray  # float32, NaN where no site rises above the run's floor (summary floor_dbm)
    server: np.ndarray  # int32 index into site_ids / cell_ids (one per transmitter), -1 where none
    site_ids: list[str]  # site of each transmitter (repeated for the cells of a sectored site)
    villages: pd.DataFrame
    communes: pd.DataFrame
    summary: dict = field(default_factory=dict)
    cell_ids: list[str] = field(default_factory=list)  # per server index: the cell (the site id when omni)

    def __post_init__(self) -> None:
        if not self.cell_ids:
            self.cell_ids = list(self.site_ids)


def site_environment(sites: gpd.GeoDataFrame, communes: gpd.GeoDataFrame) -> np.ndarray:
    """Return the Hata environment of each site: that of its commune's kind (`ENV_BY_KIND`), "rural" otherwise.

    Parameters
    ----------
    sites
        Sites with an optional `commune` column (commune codes).
    communes
        Communes with `code` and an optional `kind` (``phuong``, ``thi_tran``, ``xa``).

    Returns
    -------
    numpy.ndarray
        Object array of environment names ("urban", "suburban", "rural"), one per site, in the order of `sites`.
    """
    kinds = communes.set_index("code")["kind"] if "kind" in communes else pd.Series(dtype=object)
    codes = sites["commune"] if "commune" in sites else pd.Series([None] * len(sites), index=sites.index)
    return np.array([ENV_BY_KIND.get(kinds.get(c), "rural") for c in codes], dtype=object)


def loss_coefficients(params: radio.SiteParameters, environments: np.ndarray, *, rx_height_m: float,
                      calibration_db: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Return each site's Hata coefficients (A, B), the loss being A + B·log10(d_km), calibration included.

    Parameters
    ----------
    params
        The sites' radio values (`ictgis.radio.site_parameters`): frequency and antenna height per site.
    environments
        Hata environment of each site (`site_environment`).
    rx_height_m
        Receiver height above ground.
    calibration_db
        Offset added to A per environment (dB; an environment not listed gets 0).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        A (dB) and B (dB per decade of distance), one float per site. The free-space floor is not included.
    """
    a_coef = np.empty(len(environments))
    b_coef = np.empty(len(environments))
    for name in sorted(set(environments)):
        m = environments == name
        a, b = radio.hata_coefficients(params.frequency_mhz[m], params.height_m[m], rx_height_m, environment=name)
        a_coef[m] = np.asarray(a) + calibration_db.get(name, 0.0)
        b_coef[m] = b
    return a_coef, b_coef


def tr38901_coefficients(params: radio.SiteParameters, environments: np.ndarray, *, rx_height_m: float,
                         calibration_db: dict[str, float]) -> np.ndarray:
    """Return each site's TR 38.901 row for the kernels (zeros for sites that keep Hata), calibration included.

    Sites whose carrier is at or above ``settings.tr38901_from_mhz`` (5G n77/n78) take TR 38.901: UMa in urban
    environments (phường), RMa elsewhere (:func:`ictgis.tr38901.scenario_of`); the calibration offset of the site's
    environment is added to the LOS and NLOS losses, as it is added to Hata's A.

    Returns
    -------
    numpy.ndarray
        Shape (n_sites, ``tr38901.COEFFICIENTS``), float64.

    Raises
    ------
    LayerError
        For TR 38.901 sites whose antenna is not above the receiver (UMa: receiver not above 1 m).
    """
    out = np.zeros((len(environments), tr38901.COEFFICIENTS))
    problems = []
    for i in np.flatnonzero(tr38901.uses_tr38901(params.frequency_mhz)):
        try:
            row = tr38901.coefficients(tr38901.scenario_of(environments[i]), float(params.frequency_mhz[i]),
                                       float(params.height_m[i]), rx_height_m)
        except ValueError as exc:
            problems.append(Problem("bts_sites", str(exc), row=int(i) + 1, column="height_m"))
            continue
        row[[3, 6, 8]] += calibration_db.get(environments[i], 0.0)
        out[i] = row
    if problems:
        raise LayerError(f"{len(problems)} site(s) outside TR 38.901's antenna heights", problems)
    return out


def unobstructed_reach_km(a_coef: np.ndarray, b_coef: np.ndarray, nr_coef: np.ndarray, fspl_c: np.ndarray,
                          budget_db: np.ndarray) -> np.ndarray:
    """Distance (km) at which each site's loss without terrain reaches `budget_db` (the largest tolerable loss).

    Hata sites in closed form, 10^((budget − A) / B) (as before TR 38.901 existed); TR 38.901 sites by bisection on
    max(LOS, free space), which grows with the distance.
    """
    reach = 10 ** ((budget_db - a_coef) / b_coef)
    nr = np.flatnonzero(nr_coef[:, 0] > 0)
    if nr.size:
        lo = np.full(nr.size, np.log10(20.0))
        hi = np.full(nr.size, np.log10(1e6))
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            los, _ = tr38901.loss_from_coefficients(nr_coef[nr], 10 ** mid)
            ok = np.maximum(los, fspl_c[nr] + 20.0 * (mid - 3.0)) <= budget_db[nr]
            lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
        reach[nr] = 10 ** (lo - 3.0)
    return reach



def sites_of(ds: Dataset, technology: str, *, operator: str | None = None) -> gpd.GeoDataFrame:
    """Return the BTS sites carrying a technology (and operator), raising LayerError when there are none."""
    bts = ds.get("bts_sites")
    if bts is None:
        raise LayerError("coverage needs the bts_sites layer", [Problem("bts_sites", "layer not found")])
    tech = technology.upper()
    mask = np.array([tech in parse_tech(t) for t in bts["tech"]], dtype=bool)
    if operator:
        mask &= (bts["operator"].astype(str).str.casefold() == operator.casefold()).to_numpy()
    sites = bts[mask]
    if sites.empty:
        raise LayerError(f"no {tech} sites" + (f" of {operator}" if operator else ""),
                         [Problem("bts_sites", f"no site lists {tech} in its tech column")])
    return sites

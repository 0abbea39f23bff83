"""The ``add_sites`` intervention: new BTS sites, given explicitly or placed by maximal covering (``optimize``).

::

    - type: add_sites
      sites: [{id: NEW1, x: 508000, y: 2368000, tech: 4G, power: solar}]
    - type: add_sites
      optimize: {technology: 4G, n_sites: 20}      # or budget_vnd, or cover_all: true

With ``optimize``, villages without signal are found with `ictgis.coverage.compute`; candidates are generated on
high ground near them (or read from a file); the candidate × village coverage matrix comes from the same radio model
(`ictgis.coverage.coverage_matrix`, with the land cover of the data folder; the candidates have no cells: they are
omnidirectional, whatever their ids); `ictgis.siting.MaximalCovering` chooses the sites by count, by budget, or —
with ``cover_all`` — the fewest sites that cover every village a candidate can reach.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ... import settings
from ..._errors import ScenarioError
from ...io import Dataset, assign_commune
from ...layers import parse_tech
from .._base import Context, CostLine, Intervention, Outcome, need_layer, site_point
from ..fields import BaseIds, Checker, Options

logger = logging.getLogger(__name__)

OPTIMIZE_KEYS = {"n_sites": int, "budget_vnd": float, "cover_all": bool, "technology": str, "candidates": str,
                 "operator": str,
                 "height_m": float}


def apply_add_sites(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Add explicit new BTS sites (``sites: [{id, x, y, operator, tech, …}]``), or optimised ones (``optimize``)."""
    if spec.get("optimize"):
        return apply_optimize(ds, spec["optimize"], ctx)
    bts = need_layer(ds, "bts_sites", "add_sites")
    rows = []
    for site in spec["sites"]:
        rows.append({"id": str(site["id"]), "operator": site.get("operator", settings.default_operator),
                     "tech": ",".join(parse_tech(site.get("tech", "4G"))),
                     "band_mhz": float(site["band_mhz"]) if site.get("band_mhz") is not None else np.nan,
                     "height_m": float(site.get("height_m", settings.default_site_height_m)),
                     "power": site.get("power", "grid"),
                     "geometry": site_point(site, ds)})
    new = gpd.GeoDataFrame(rows, geometry="geometry", crs=bts.crs)
    new = assign_commune(new, ds["communes"])
    merged = pd.concat([bts, new[[c for c in new.columns if c in bts.columns or c == "commune"]]],
                       ignore_index=True)
    ds.layers["bts_sites"] = gpd.GeoDataFrame(merged, geometry=bts.geometry.name, crs=bts.crs)
    n = len(new)
    off_grid = int((new["power"] != "grid").sum())
    capex = (n * ctx.p("site_greenfield_usd") + off_grid * ctx.p("solar_kit_usd")) * ctx.usd
    opex = capex * ctx.p("opex_share_per_year") + n * ctx.p("site_rent_usd_per_year") * ctx.usd
    out = Outcome(changed={"bts_sites"})
    out.costs.append(CostLine(ctx.label, f"{n} new sites", n, capex, opex))
    out.extra = {"sites_added": n, "ids": new["id"].tolist()}
    out.notes.append(f"{n} new sites added")
    return out


def apply_optimize(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Choose and add new sites by maximal covering; `spec` is the ``optimize`` mapping."""
    from ... import coverage, siting

    technology = str(spec.get("technology", "4G")).upper()
    threshold = ctx.params.get("rsrp_threshold_dbm")
    height = float(spec.get("height_m", settings.default_site_height_m))
    before = coverage.compute(ds, technology=technology, threshold_dbm=threshold, progress=lambda f, m: None)
    villages = ds["villages"]
    covered = before.villages["covered"].to_numpy(dtype=bool)
    source = spec.get("candidates", "generated")
    if source == "generated":
        candidates = siting.generate_candidates(ds.dem_path, villages, uncovered_mask=~covered, roads=ds.get("roads"),
                                                usd_to_vnd=ctx.usd)
    else:
        path = Path(source)
        candidates = siting.read_candidates(path, usd_to_vnd=ctx.usd)
    if candidates.empty:
        raise ScenarioError("no candidate sites", [])
    frame = candidates.copy()
    frame["height_m"] = height
    matrix, _ = coverage.coverage_matrix(ds, frame[["id", "height_m", frame.geometry.name]], villages,
                                         technology=technology, threshold_dbm=threshold, dem=before.dem,
                                         cells=False)  # new sites: no cells, omnidirectional
    weights = villages["population"].astype("Float64").fillna(0).to_numpy(dtype=float)
    problem = siting.MaximalCovering.from_matrix(matrix, weights, covered_already=covered,
                                                 costs_vnd=frame["cost_vnd"].to_numpy(dtype=float),
                                                 candidate_ids=frame["id"].tolist(),
                                                 village_ids=villages["id"].tolist())
    if spec.get("cover_all"):
        n = _fewest_for_all(problem, matrix, covered)
        result = problem.solve(n_sites=n) if n else None
    else:
        result = problem.solve(n_sites=spec.get("n_sites"), budget_vnd=spec.get("budget_vnd"))
    chosen = [] if result is None else list(result.chosen)
    new = frame.iloc[chosen].copy()
    new["id"] = [f"NEW-{technology}-{i + 1:03d}" for i in range(len(new))]
    new["operator"] = spec.get("operator", settings.default_operator)
    new["tech"] = technology
    new["band_mhz"] = np.nan
    new["power"] = np.where(new["grid"].astype(bool), "grid", "solar")
    new = assign_commune(gpd.GeoDataFrame(new, geometry=frame.geometry.name, crs=frame.crs), ds["communes"])
    bts = ds["bts_sites"]
    merged = pd.concat([bts, new[[c for c in bts.columns if c in new.columns]]], ignore_index=True)
    ds.layers["bts_sites"] = gpd.GeoDataFrame(merged, geometry=bts.geometry.name, crs=bts.crs)
    capex = float(new["cost_vnd"].sum())
    opex = capex * ctx.p("opex_share_per_year") + len(new) * ctx.p("site_rent_usd_per_year") * ctx.usd
    out = Outcome(changed={"bts_sites"})
    out.costs.append(CostLine(ctx.label, f"{len(new)} new {technology} sites (optimised)", len(new), capex, opex))
    coverable = np.asarray(matrix.sum(axis=0)).ravel() > 0
    out.extra = {"candidates": len(frame), "sites_added": len(new), "ids": new["id"].tolist(),
                 "villages_uncovered_before": int((~covered).sum()),
                 "villages_reachable_by_candidates": int((coverable & ~covered).sum()),
                 "population_newly_covered_model": None if result is None else float(result.objective),
                 "lp_bound": None if result is None else result.lp_bound,
                 "gap": None if result is None else result.gap}
    out.notes.append(f"{len(new)} new {technology} sites chosen among {len(frame)} candidates; "
                     f"{int((~covered).sum())} villages were without signal, "
                     f"{int((coverable & ~covered).sum())} of them reachable from a candidate")
    return out


def _fewest_for_all(problem, matrix, covered: np.ndarray) -> int:
    """Smallest number of sites with which greedy covers every village some candidate reaches."""
    reachable = (np.asarray(matrix.sum(axis=0)).ravel() > 0) & ~covered
    if not reachable.any():
        return 0
    full = problem.solve(n_sites=int(min(matrix.shape[0], reachable.sum())), compute_bound=False)
    gains = np.cumsum(full.marginal_gains)
    target = gains[-1]
    return int(np.searchsorted(gains, target - 1e-6) + 1)


def check(chk: Checker, path: tuple, spec: dict) -> None:
    """Require either explicit sites, each with an id and a position, or ``optimize``."""
    if ("sites" in spec) == ("optimize" in spec):
        chk.add(path, "add_sites needs either 'sites' (a list) or 'optimize'")
    sites = spec.get("sites")
    for j, site in enumerate(sites if isinstance(sites, list) else []):  # not a list: said already
        if not isinstance(site, dict) or "id" not in site or not (
                {"x", "y"} <= set(site) or {"lon", "lat"} <= set(site)):
            chk.add((*path, "sites", j), "a new site needs id and x, y (EPSG:9205) or lon, lat")


def check_base(chk: Checker, path: tuple, spec: dict, ids: BaseIds) -> None:
    """Report new site ids that the base data already hold."""
    for j, site in enumerate(spec.get("sites") or []):
        if isinstance(site, dict) and str(site.get("id")) in ids["bts_sites"]:
            chk.add((*path, "sites", j), f"new site id {site['id']!r} already exists")


INTERVENTION = Intervention(
    "add_sites",
    {"sites": list, "optimize": Options(OPTIMIZE_KEYS, needs=("n_sites", "budget_vnd", "cover_all"),
                                        needs_text="n_sites, budget_vnd or cover_all: true")},
    apply_add_sites, check=check, check_base=check_base, order=40)

"""The last mile: the cheapest way to connect each village without fiber — fiber, microwave, satellite or 4G FWA.

For each village without fiber (and, when asked, each without 4G), the cost over the horizon (capex + yearly opex
discounted at the scenario rate: a net present value, VND) of each technology that can carry its demand:

fiber
    Its route in the shared plan of `ictgis.fiber.FiberPlan` (along the roads, from the existing network). Trench
    and cable shared by several villages are paid once: the choice (`ictgis.lastmile_choice.choose`) sees every
    plan segment with the villages it serves. In the table, ``fiber_npv_vnd`` is the village's *marginal* fiber cost
    given the other villages' choices (its equipment, plus the segments that serve it alone among the fiber
    villages — or, for a village that does not take fiber, the segments it would add), so the chosen technology is
    the cheapest of its row; ``fiber_trunk_share_vnd`` is its equal share of the segments it shares with other fiber
    villages, so that ``npv_vnd`` (marginal + share for a fiber village) adds up to the plan's total.
microwave
    A hop from a fiber-connected tower (a BTS site within `settings.lastmile_site_fiber_m` of a fiber route), or two
    through a relay on high ground, clear and closed through rain (`ictgis.microwave`): hop equipment by dish size,
    a mast at the village, a relay site; opex a share of capex plus the yearly licence of each hop.
satellite
    A GEO VSAT or a LEO terminal, whichever is cheaper among those that carry the demand: terminal + monthly service.
fwa
    An outdoor 4G CPE, where a 4G site serves the village at `settings.lastmile_fwa_rsrp_dbm` or more (RSRP at the
    CPE's height, by the coverage model's point-to-point profile, `ictgis.coverage.coverage_matrix`).

A village's demand is households × `settings.lastmile_mbps_per_household`, at least
`settings.lastmile_institution_mbps` with a school or a health station; a technology whose capacity is below it is
infeasible there (``too_little_capacity``). Every default is in `ictgis.settings` (sources: ``docs/sources.md``).

Example
-------
>>> from ictgis import io
>>> result = plan_last_mile(io.load("data/shapefiles"))                  # doctest: +SKIP
>>> result.summary["by_technology"]                                       # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import settings
from ._errors import LayerError, Problem
from .lastmile_choice import Segment, choose, fiber_attribution

logger = logging.getLogger(__name__)

TECHNOLOGIES: tuple[str, ...] = ("fiber", "microwave", "satellite", "fwa")
#: Vietnamese names of the technologies and of the reasons an option is infeasible.
TECHNOLOGY_VI: dict[str, str] = {"fiber": "cáp quang", "microwave": "vi ba", "satellite": "vệ tinh",
                                 "fwa": "4G cố định không dây", "": "chưa kết nối"}
REASON_VI: dict[str, str] = {
    "": "", "not_asked": "không xét", "too_little_capacity": "không đủ dung lượng",
    "no_clear_path": "không có đường truyền thông thoáng", "out_of_reach": "ngoài tầm",
    "rain_fade": "không đủ dự phòng pha-đinh mưa", "no_fiber_tower": "không có trạm có cáp quang",
    "no_dem": "thiếu mô hình độ cao (DEM)", "no_4g_signal": "tín hiệu 4G yếu", "no_4g_sites": "không có trạm 4G",
    "no_road": "không có đường giao thông", "no_fiber_source": "không có tuyến cáp quang hiện có",
    "no_fiber_on_component": "đoạn đường không nối tới cáp quang", "no_roads_layer": "thiếu lớp đường giao thông",
    "over_budget": "ngoài ngân sách",
}
ProgressFn = Callable[[str], None]


def parse_technologies(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Technologies from ``"fiber,microwave"`` or a list, in `TECHNOLOGIES` order.

    Raises
    ------
    ValueError
        For an unknown name or an empty list.
    """
    if value is None:
        return TECHNOLOGIES
    items = [s.strip().lower() for s in (value.split(",") if isinstance(value, str) else value) if str(s).strip()]
    unknown = [s for s in items if s not in TECHNOLOGIES]
    if unknown or not items:
        raise ValueError(f"unknown technology {', '.join(unknown) or '(none given)'}; "
                         f"choose among {', '.join(TECHNOLOGIES)}")
    return tuple(t for t in TECHNOLOGIES if t in items)


def annuity(rate: float, years: int) -> float:
    """Present value of 1 paid at the end of each of `years` years at `rate`."""
    return float(sum(1.0 / (1.0 + rate) ** t for t in range(1, int(years) + 1)))


@dataclass
class LastMileResult:
    """What `plan_last_mile` found.

    Attributes
    ----------
    villages
        One row per village considered (the ``villages_lastmile`` table), in the layer's order.
    microwave
        One LineString per microwave hop of the villages connected by microwave.
    fiber
        The segments of the shared fiber plan used by the villages connected by fiber.
    summary
        JSON-ready totals (``villages``, ``by_technology``, ``capex_vnd``, ``opex_vnd_per_year``, ``npv_vnd``,
        ``fiber_only_npv_vnd`` …).
    """

    villages: gpd.GeoDataFrame
    microwave: gpd.GeoDataFrame
    fiber: gpd.GeoDataFrame
    summary: dict = field(default_factory=dict)


def _p(params: Mapping | None, name: str):
    return (params or {}).get(name, getattr(settings, name))


def _check(ds, technologies) -> None:
    problems = []
    villages = ds.get("villages")
    if villages is None or len(villages) == 0:
        problems.append(Problem("villages", "layer is missing or empty"))
    else:
        cols = set(villages.columns)
        if "id" not in cols:
            problems.append(Problem("villages", "needs an id column", column="id"))
        if not {"households", "population"} & cols:
            problems.append(Problem("villages", "needs households or population", column="households"))
        if "fiber" not in cols:
            problems.append(Problem("villages", "needs a fiber column (true/false) to find the villages without "
                                    "fiber", column="fiber"))
        else:
            bad = villages.geometry.isna() | villages.geometry.is_empty
            for i in np.flatnonzero(bad.to_numpy())[:20]:
                problems.append(Problem("villages", "has no geometry", row=int(i) + 1))
        for col in ("households", "population"):
            if col in cols:
                v = pd.to_numeric(villages[col], errors="coerce").astype(float)
                bad = (v.isna() & villages[col].notna()) | (v < 0) | np.isinf(v)
                for i in np.flatnonzero(bad.to_numpy())[:20]:
                    raw = villages[col].iloc[i]
                    shown = repr(raw) if isinstance(raw, str) else str(raw)
                    problems.append(Problem("villages", f"{col} is {shown}, expected a number ≥ 0",
                                            row=int(i) + 1, column=col))
    if "microwave" in technologies or "fwa" in technologies:
        sites = ds.get("bts_sites")
        if sites is not None and len(sites) and "id" not in sites:
            problems.append(Problem("bts_sites", "needs an id column", column="id"))
    if problems:
        raise LayerError("cannot plan the last mile", problems)


def _households(villages: pd.DataFrame) -> np.ndarray:
    from .fiber import HOUSEHOLD_SIZE

    hh = pd.to_numeric(villages["households"], errors="coerce") if "households" in villages else \
        pd.Series(np.nan, index=villages.index)
    if "population" in villages:
        hh = hh.fillna((pd.to_numeric(villages["population"], errors="coerce") / HOUSEHOLD_SIZE).round())
    return hh.fillna(0.0).to_numpy(float)


def _flag(villages: pd.DataFrame, col: str) -> np.ndarray:
    if col not in villages:
        return np.zeros(len(villages), dtype=bool)
    return villages[col].astype("boolean").fillna(False).to_numpy(dtype=bool)


def villages_without_4g(ds, villages: gpd.GeoDataFrame, *, threshold_dbm: float | None = None) -> np.ndarray:
    """Return True where no 4G site reaches the village at the coverage threshold (point-to-point model)."""
    rsrp = _best_rsrp(ds, villages, threshold_dbm=threshold_dbm, rx_height_m=1.5)
    thr = settings.rsrp_threshold_dbm if threshold_dbm is None else threshold_dbm
    return ~(rsrp >= thr)


def _sites_4g(ds) -> gpd.GeoDataFrame | None:
    from .layers import parse_tech

    sites = ds.get("bts_sites")
    if sites is None or len(sites) == 0:
        return None
    has = np.array(["4G" in parse_tech(str(t)) for t in sites["tech"]], dtype=bool) if "tech" in sites else \
        np.ones(len(sites), dtype=bool)
    out = sites.loc[has]
    return out if len(out) else None


def _best_rsrp(ds, villages: gpd.GeoDataFrame, *, threshold_dbm: float | None, rx_height_m: float) -> np.ndarray:
    """Best 4G RSRP at each village (−inf where no site reaches), by `ictgis.coverage.coverage_matrix`."""
    from .coverage import coverage_matrix

    sites = _sites_4g(ds)
    out = np.full(len(villages), -np.inf)
    if sites is None or ds.dem_path is None or ds.get("communes") is None or len(villages) == 0:
        return out
    pts = villages.copy()
    pts = pts.set_geometry(shapely.point_on_surface(pts.geometry.to_numpy()), crs=villages.crs)
    _, values = coverage_matrix(ds, sites, pts, technology="4G", threshold_dbm=threshold_dbm,
                                rx_height_m=rx_height_m)
    coo = values.tocoo()
    if coo.nnz:
        np.maximum.at(out, coo.col, coo.data)
    return out


# ------------------------------------------------------------------------------------------------ the plan
def plan_last_mile(ds, *, technologies: Iterable[str] | str | None = None, horizon_years: int | None = None,
                   discount_rate: float | None = None, budget_vnd: float | None = None, include_no_4g: bool = False,
                   params: Mapping | None = None, progress: ProgressFn | None = None) -> LastMileResult:
    """Choose the cheapest technology for each village without fiber (see the module docstring).

    Parameters
    ----------
    ds
        A `ictgis.io.Dataset` with villages (``id``, ``households`` or ``population``, ``fiber``; optional
        ``school``, ``health``), and for the technologies: roads and fiber_routes (fiber), bts_sites, fiber_routes
        and the DEM (microwave), bts_sites, communes and the DEM (fwa). Not modified.
    technologies
        Those to consider (default all four), as a list or ``"fiber,microwave"``.
    horizon_years, discount_rate
        Net present value horizon and rate (default `settings.horizon_years`, `settings.discount_rate`).
    budget_vnd
        None to connect every village that can be connected, at the least cost; else the most households whose
        connection costs (NPV over the horizon) at most this.
    include_no_4g
        Also consider villages that have fiber but no 4G (coverage model at `settings.rsrp_threshold_dbm`); their
        fiber option is the equipment alone.
    params
        Overrides of `ictgis.settings` names (``usd_to_vnd``, ``lastmile_*``, ``fiber_opex_share_per_year`` …).
    progress
        Called with a message at each step.

    Returns
    -------
    LastMileResult

    Raises
    ------
    LayerError
        When the villages are missing or lack columns, or a value is not a number ≥ 0 (file, row, column named).
    ValueError
        For an unknown technology, a horizon < 1, a negative rate or budget.
    """
    techs = parse_technologies(technologies)
    years = int(_p(params, "horizon_years") if horizon_years is None else horizon_years)
    rate = float(_p(params, "discount_rate") if discount_rate is None else discount_rate)
    if years < 1:
        raise ValueError(f"horizon_years must be ≥ 1, not {horizon_years!r}")
    if not rate >= 0:
        raise ValueError(f"discount_rate must be ≥ 0, not {discount_rate!r}")
    if budget_vnd is not None and not budget_vnd >= 0:
        raise ValueError(f"budget_vnd must be ≥ 0, not {budget_vnd!r}")
    _check(ds, techs)

    def step(msg: str) -> None:
        logger.info("lastmile: %s", msg)
        if progress is not None:
            progress(msg)

    usd = float(_p(params, "usd_to_vnd"))
    ann = annuity(rate, years)
    allv = ds["villages"]
    crs = allv.crs
    known = allv["fiber"].notna().to_numpy()
    nofiber = known & ~allv["fiber"].astype("boolean").fillna(True).to_numpy(dtype=bool)
    consider = nofiber.copy()
    if include_no_4g:
        step("finding the villages without 4G")
        if ds.dem_path is None or _sites_4g(ds) is None or ds.get("communes") is None:
            raise LayerError("--include-no-4g needs the 4G coverage model: a DEM (dem.tif), communes and bts_sites "
                             "with 4G", [Problem("dem.tif", "no DEM or no 4G sites: the villages without 4G are "
                                                 "unknown")])
        consider |= villages_without_4g(ds, allv)
    v = allv.loc[consider].copy()
    v["id"] = v["id"].astype(str)
    n = len(v)
    hh = _households(v)
    institution = _flag(v, "school") | _flag(v, "health")
    demand = np.maximum(hh * float(_p(params, "lastmile_mbps_per_household")),
                        np.where(institution, float(_p(params, "lastmile_institution_mbps")), 0.0))
    pts = shapely.point_on_surface(v.geometry.to_numpy())
    xy = np.column_stack([shapely.get_x(pts), shapely.get_y(pts)]) if n else np.zeros((0, 2))
    cols = {t: np.full(n, np.nan) for t in TECHNOLOGIES}
    capex = {t: np.full(n, np.nan) for t in TECHNOLOGIES}
    opex = {t: np.full(n, np.nan) for t in TECHNOLOGIES}
    reason = {t: np.array(["not_asked"] * n, dtype=object) for t in TECHNOLOGIES}
    extra: dict[str, np.ndarray] = {}

    # ---- fiber
    segments: list[Segment] = []
    seg_frame = None
    fiber_factor = 1.0 + float(_p(params, "fiber_opex_share_per_year")) * ann
    fiber_full_capex = math.nan
    if "fiber" in techs:
        step("the shared fiber plan")
        segments, seg_frame, fcap, freason, fiber_full_capex = _fiber(ds, v, nofiber[consider], usd)
        capex["fiber"] = fcap
        opex["fiber"] = fcap * float(_p(params, "fiber_opex_share_per_year"))
        cols["fiber"] = fcap * fiber_factor
        reason["fiber"] = freason
    # ---- microwave
    routes: list = [None] * n
    sources_ids: list[str] = []
    src_xy = np.zeros((0, 2))
    if "microwave" in techs:
        step(f"microwave paths to {n} villages")
        mcap, mopex, mreason, routes, sources_ids, src_xy = _microwave(ds, xy, usd, params)
        over = np.isfinite(mcap) & (demand > float(_p(params, "lastmile_microwave_capacity_mbps")))
        mreason = np.where(over, "too_little_capacity", mreason)
        mcap, mopex = np.where(over, np.nan, mcap), np.where(over, np.nan, mopex)
        capex["microwave"], opex["microwave"] = mcap, mopex
        cols["microwave"] = mcap + mopex * ann
        reason["microwave"] = mreason
        extra["microwave_hops"] = np.array([len(r.hops) if r is not None else 0 for r in routes])
        extra["microwave_freq_ghz"] = np.array([r.hops[-1].freq_ghz if r is not None else np.nan for r in routes])
        extra["microwave_from"] = np.array([sources_ids[r.source] if r is not None else "" for r in routes],
                                           dtype=object)
    # ---- satellite
    if "satellite" in techs:
        step("satellite terminals")
        best = np.full(n, np.nan)
        kind = np.array([""] * n, dtype=object)
        for name in ("geo", "leo"):
            cap_mbps = float(_p(params, f"lastmile_{name}_capacity_mbps"))
            c0 = float(_p(params, f"lastmile_{name}_terminal_usd")) * usd
            o0 = float(_p(params, f"lastmile_{name}_usd_per_month")) * 12 * usd
            npv = np.where(demand <= cap_mbps, c0 + o0 * ann, np.nan)
            better = np.isfinite(npv) & ~(npv >= best)
            best = np.where(better, npv, best)
            kind = np.where(better, name, kind)
            capex["satellite"] = np.where(better, c0, capex["satellite"])
            opex["satellite"] = np.where(better, o0, opex["satellite"])
        cols["satellite"] = best
        reason["satellite"] = np.where(np.isfinite(best), "", "too_little_capacity")
        extra["satellite_kind"] = kind
    # ---- 4G fixed wireless
    if "fwa" in techs:
        step("4G fixed wireless")
        thr = float(_p(params, "lastmile_fwa_rsrp_dbm"))
        if _sites_4g(ds) is None:
            rsrp, why = np.full(n, -np.inf), "no_4g_sites"
        elif ds.dem_path is None:
            rsrp, why = np.full(n, -np.inf), "no_dem"
        else:
            rsrp = _best_rsrp(ds, v, threshold_dbm=thr, rx_height_m=float(_p(params, "lastmile_fwa_height_m")))
            why = "no_4g_signal"
        ok = rsrp >= thr
        cap_ok = demand <= float(_p(params, "lastmile_fwa_capacity_mbps"))
        c0 = float(_p(params, "lastmile_fwa_cpe_usd")) * usd
        capex["fwa"] = np.where(ok & cap_ok, c0, np.nan)
        opex["fwa"] = np.where(ok & cap_ok, 0.0, np.nan)
        cols["fwa"] = capex["fwa"]
        reason["fwa"] = np.where(~ok, why, np.where(cap_ok, "", "too_little_capacity"))
        extra["fwa_rsrp_dbm"] = np.where(np.isfinite(rsrp), np.round(rsrp, 1), np.nan)

    # ---- the choice
    step("choosing the technologies" + ("" if budget_vnd is None else f" within {budget_vnd:,.0f} VND"))
    order = list(TECHNOLOGIES)
    mat = np.column_stack([cols[t] for t in order]) if n else np.zeros((0, len(order)))
    seg_npv = [Segment(s.cost * fiber_factor, s.villages) for s in segments]
    pick = choose(mat, hh, seg_npv, fiber_column=0, budget=budget_vnd)
    unconstrained = pick if budget_vnd is None else choose(mat, hh, seg_npv, fiber_column=0)
    marginal, share = fiber_attribution(pick, seg_npv, fiber_column=0)
    has_fiber = np.isfinite(cols["fiber"])
    fiber_col = np.where(has_fiber, cols["fiber"] + marginal, np.nan)
    tech = np.array([order[k] if k >= 0 else "" for k in pick], dtype=object)
    share_cap = fiber_attribution(pick, segments, fiber_column=0)[1]
    fiber_share = float(_p(params, "fiber_opex_share_per_year"))

    def chosen(values: dict[str, np.ndarray], fiber_values: np.ndarray) -> np.ndarray:
        return np.array([fiber_values[i] if pick[i] == 0 else values[order[pick[i]]][i] if pick[i] > 0 else np.nan
                         for i in range(n)])

    npv = chosen(cols, cols["fiber"] + share)
    cap_row = chosen(capex, capex["fiber"] + share_cap)
    opex_row = chosen(opex, opex["fiber"] + share_cap * fiber_share)
    table = pd.DataFrame({
        "id": v["id"].to_numpy(), "name": v["name"].astype(str).to_numpy() if "name" in v else "",
        "commune": v["commune"].astype(str).to_numpy() if "commune" in v else "",
        "households": hh, "demand_mbps": np.round(demand, 1), "technology": tech,
        "selected": pick >= 0,
        "npv_vnd": np.round(npv), "capex_vnd": np.round(cap_row), "opex_vnd_per_year": np.round(opex_row),
        "fiber_npv_vnd": np.round(fiber_col),
        "fiber_trunk_share_vnd": np.round(np.where(pick == 0, share - marginal, 0.0)),
        "microwave_npv_vnd": np.round(cols["microwave"]), "satellite_npv_vnd": np.round(cols["satellite"]),
        "fwa_npv_vnd": np.round(cols["fwa"]),
    }, index=v.index)
    for t in TECHNOLOGIES:
        table[f"{t}_reason"] = reason[t]
    for key, values in extra.items():
        table[key] = values
    if budget_vnd is not None:
        table["unconstrained_technology"] = [order[k] if k >= 0 else "" for k in unconstrained]
        table.loc[(pick < 0) & (unconstrained >= 0), "note"] = "over_budget"
    none = pick < 0
    if none.any() and budget_vnd is None:
        logger.warning("lastmile: %d villages have no feasible technology", int(none.sum()))
    villages = gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(pts, crs=crs, index=v.index), crs=crs)
    micro = _hop_lines(v, xy, routes, pick, order, sources_ids, src_xy, crs)
    used = _used_segments(seg_frame, segments, pick, v["id"].to_numpy(), crs)
    summary = _summary(table, pick, order, segments, cols, capex, fiber_full_capex, fiber_factor, budget_vnd,
                       rate=rate, years=years, techs=techs, params=params, usd=usd)
    step("done")
    return LastMileResult(villages=villages, microwave=micro, fiber=used, summary=summary)


def _fiber(ds, v: gpd.GeoDataFrame, gap: np.ndarray, usd: float):
    """Plan fiber to the gap villages: segments (row indices), own capex (equipment) and reasons."""
    from .fiber import CostModel, FiberPlan

    len(v)
    model = CostModel.from_usd(usd_to_vnd=usd)
    fcap = np.where(gap, np.nan, model.equipment_vnd)  # already on fiber: equipment only
    reason = np.where(gap, "", "").astype(object)
    if not gap.any():
        return [], None, fcap, reason, 0.0
    if ds.get("roads") is None or len(ds["roads"]) == 0:
        reason[gap] = "no_roads_layer"
        return [], None, fcap, reason, math.nan
    if ds.get("fiber_routes") is None:
        reason[gap] = "no_fiber_source"
        return [], None, fcap, reason, math.nan
    plan = FiberPlan.from_dataset(ds, cost_model=model).solve()
    table, segs = plan.villages, plan.plan
    assert table is not None and segs is not None
    row_of = {vid: i for i, vid in enumerate(v["id"].to_numpy())}
    t = table.set_index(table["id"].astype(str))
    for vid, i in row_of.items():
        if not gap[i] or vid not in t.index:
            continue
        if bool(t.at[vid, "reachable"]):
            fcap[i] = model.equipment_vnd
        else:
            reason[i] = str(t.at[vid, "reason_code"]) or "out_of_reach"
    segments = []
    for r in segs.itertuples():
        served = tuple(row_of[s] for s in str(r.villages).split(";") if s in row_of)
        segments.append(Segment(float(r.cost_vnd), served))
    full = float(segs["cost_vnd"].sum()) + model.equipment_vnd * int(np.isfinite(fcap[gap]).sum())
    return segments, segs, fcap, reason, full


def _fiber_sites(ds, max_distance_m: float) -> gpd.GeoDataFrame:
    sites = ds.get("bts_sites")
    routes = ds.get("fiber_routes")
    if sites is None or routes is None or len(sites) == 0 or len(routes) == 0:
        return gpd.GeoDataFrame({"id": []}, geometry=[], crs=ds["villages"].crs)
    lines = routes.geometry.to_numpy()
    lines = lines[~(shapely.is_missing(lines) | shapely.is_empty(lines))]
    tree = shapely.STRtree(lines)
    _, d = tree.query_nearest(sites.geometry.to_numpy(), return_distance=True, all_matches=False)
    return sites.loc[np.asarray(d) <= max_distance_m]


def _microwave(ds, xy: np.ndarray, usd: float, params):
    from . import microwave as mw

    n = len(xy)
    cap, opx = np.full(n, np.nan), np.full(n, np.nan)
    reason = np.array(["no_dem"] * n, dtype=object)
    routes: list = [None] * n
    sites = _fiber_sites(ds, float(_p(params, "lastmile_site_fiber_m")))
    ids = sites["id"].astype(str).tolist() if len(sites) else []
    src = np.column_stack([sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()]) if len(sites) else \
        np.zeros((0, 2))
    if ds.dem_path is None or n == 0:
        return cap, opx, reason, routes, ids, src
    if len(sites) == 0:
        reason[:] = "no_fiber_tower"
        return cap, opx, reason, routes, ids, src
    from scipy.spatial import cKDTree

    from .terrain import read_dem

    dem = read_dem(ds.dem_path)
    heights = (pd.to_numeric(sites["height_m"], errors="coerce") if "height_m" in sites
               else pd.Series(np.nan, index=sites.index)).fillna(settings.default_site_height_m).to_numpy(float)
    relays = mw.relay_candidates(dem)
    stree, rtree = cKDTree(src), (cKDTree(relays[:, :2]) if len(relays) else None)
    hop_usd = {float(k): float(val) for k, val in _p(params, "lastmile_microwave_hop_usd").items()}
    mast = float(_p(params, "lastmile_village_mast_usd")) * usd
    relay_site = float(_p(params, "lastmile_relay_site_usd")) * usd
    share = float(_p(params, "lastmile_microwave_opex_share"))
    licence = float(_p(params, "lastmile_microwave_licence_usd_per_year")) * usd
    kw: dict[str, Any] = {"village_mast_m": float(_p(params, "lastmile_village_mast_m")),
          "relay_mast_m": float(_p(params, "lastmile_relay_mast_m")),
          "rain_rate_mm_h": float(_p(params, "lastmile_rain_rate_mm_h")),
          "availability_pct": float(_p(params, "lastmile_availability_pct"))}
    for i in range(n):
        route, why, _ = mw.best_route(dem, (float(xy[i, 0]), float(xy[i, 1])), src, heights, relays=relays,
                                      source_tree=stree, relay_tree=rtree, **kw)
        reason[i] = why
        if route is None:
            continue
        routes[i] = route
        c = sum(hop_usd[h.dish_m] * usd for h in route.hops) + mast + (relay_site if route.relay else 0.0)
        cap[i] = c
        opx[i] = share * c + licence * len(route.hops)
    return cap, opx, reason, routes, ids, src


def _hop_lines(v, xy, routes, pick, order, source_ids, src_xy, crs) -> gpd.GeoDataFrame:
    rows, lines = [], []
    micro = order.index("microwave")
    ids = v["id"].to_numpy()
    for i, route in enumerate(routes):
        if route is None or pick[i] != micro:
            continue
        ends = [(source_ids[route.source], tuple(src_xy[route.source]))]
        if route.relay is not None:
            ends.append((f"RELAY-{ids[i]}", route.relay))
        ends.append((str(ids[i]), (float(xy[i, 0]), float(xy[i, 1]))))
        for k, hop in enumerate(route.hops):
            (a_id, a_xy), (b_id, b_xy) = ends[k], ends[k + 1]
            lines.append(shapely.LineString([a_xy, b_xy]))
            rows.append({"village_id": str(ids[i]), "from_id": a_id, "to_id": b_id, "freq_ghz": hop.freq_ghz,
                         "from_height_m": hop.from_height_m, "to_height_m": hop.to_height_m,
                         "clearance_pct": round(hop.clearance_pct, 1), "margin_db": round(hop.margin_db, 2),
                         "rain_db": round(hop.rain_db, 2), "distance_km": round(hop.distance_km, 3),
                         "dish_m": hop.dish_m})
    cols = ["village_id", "from_id", "to_id", "freq_ghz", "from_height_m", "to_height_m", "clearance_pct",
            "margin_db", "rain_db", "distance_km", "dish_m"]
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=cols), geometry=lines, crs=crs)


def _used_segments(seg_frame, segments, pick, ids, crs) -> gpd.GeoDataFrame:
    cols = ["seg_id", "length_m", "cost_vnd", "villages", "n_villages"]
    if seg_frame is None or not len(segments):
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=crs)
    keep, served = [], []
    for k, s in enumerate(segments):
        users = [ids[i] for i in s.villages if pick[i] == 0]
        if users:
            keep.append(k)
            served.append(";".join(map(str, users)))
    out = seg_frame.iloc[keep][["seg_id", "length_m", "cost_vnd", "geometry"]].copy()
    out["villages"] = served
    out["n_villages"] = [len(s.split(";")) for s in served]
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry="geometry", crs=seg_frame.crs)


def _summary(table, pick, order, segments, cols, capex, fiber_full_capex, fiber_factor, budget, *, rate, years,
             techs, params, usd) -> dict:
    chosen = pick >= 0
    by = {t: int((table["technology"] == t).sum()) for t in TECHNOLOGIES}
    hh_by = {t: round(float(table.loc[table["technology"] == t, "households"].sum())) for t in TECHNOLOGIES}
    reach = np.isfinite(cols["fiber"])
    fiber_only = (fiber_full_capex * fiber_factor) if np.isfinite(fiber_full_capex) else None
    same = table.loc[reach & chosen, "npv_vnd"].sum() if reach.any() else 0.0
    return {
        "villages": int(len(table)),
        "villages_connected": int(chosen.sum()),
        "villages_without_option": int((~np.isfinite(np.column_stack([cols[t] for t in order])).any(axis=1)).sum())
        if len(table) else 0,
        "households_connected": round(float(table.loc[chosen, "households"].sum())),
        "by_technology": by,
        "households_by_technology": hh_by,
        "capex_vnd": round(float(table.loc[chosen, "capex_vnd"].sum())),
        "opex_vnd_per_year": round(float(table.loc[chosen, "opex_vnd_per_year"].sum())),
        "npv_vnd": round(float(table.loc[chosen, "npv_vnd"].sum())),
        "fiber_only_npv_vnd": None if fiber_only is None else round(fiber_only),
        "fiber_only_villages": int(reach.sum()),
        "npv_vnd_of_fiber_reachable": round(float(same)),
        "budget_vnd": None if budget is None else float(budget),
        "technologies": list(techs),
        "horizon_years": years, "discount_rate": rate, "usd_to_vnd": usd,
        "defaults": {k: _p(params, k) for k in dir(settings) if k.startswith("lastmile_")},
    }


def map_layer(ds) -> gpd.GeoDataFrame | None:
    """Return the last mile as one map layer: the villages (points), microwave hops and used fiber segments (lines).

    Every feature has ``technology`` (fiber, microwave, satellite, fwa); villages also ``id``, ``name``,
    ``households`` and ``npv_vnd``; hops ``from_id``, ``to_id``, ``freq_ghz``, ``clearance_pct``, ``margin_db``;
    segments ``villages`` and ``cost_vnd``. In the dataset's CRS; None when the data have no villages layer.

    Raises
    ------
    LayerError
        As `plan_last_mile`.
    """
    if ds.get("villages") is None:
        return None
    result = plan_last_mile(ds)
    v = result.villages[["id", "name", "technology", "households", "npv_vnd", "geometry"]]
    hops = result.microwave.assign(technology="microwave")[
        ["technology", "from_id", "to_id", "freq_ghz", "clearance_pct", "margin_db", "geometry"]]
    fib = result.fiber.assign(technology="fiber")[["technology", "villages", "cost_vnd", "geometry"]]
    parts = [f for f in (fib, hops, v) if len(f)]
    if not parts:
        return gpd.GeoDataFrame({"technology": []}, geometry=[], crs=ds["villages"].crs)
    out = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=ds["villages"].crs)

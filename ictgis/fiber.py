"""Fiber gaps: least-cost routes from the existing network, a shared plan under a budget, a priority ranking.

Villages without fiber are routed along the road network (`ictgis.network`) from the existing fiber routes — or,
when the data has no fiber_routes layer, from a layer of *points of presence* (district exchanges, OLTs: `read_pops`,
``ictgis fiber --pops FILE``), or from both. Every route and point joins the road network: where no road passes
within ``fiber_tolerance_m`` it gets a costed off-road connector to the nearest road, with a warning beyond
``fiber_warn_m``. The summary states the source (``existing_fiber.source``) and, when no village can be reached,
why (``no_village_reached``). Each village gets its own least-cost route; together they get a *shared plan* (a
Steiner tree rooted in the existing network, where trenches and cables are shared); under a budget, the villages
that maximise households connected are chosen; and every gap village gets a priority score whose components are
columns, so a planner can explain the order.

Cost defaults
-------------
Oughton's open rural cost model (``docs/sources.md`` §4; no Vietnamese figures were found) gives fiber backhaul at
5 / 15 / 25 USD per metre in rural / suburban / urban areas. The USD amounts are set in :mod:`ictgis.settings`
(``fiber_usd_per_m``, ``fiber_offroad_usd_per_m``, ``fiber_equipment_usd_per_village``) and bound here under this
module's names; VND values below are USD × `ictgis.settings.usd_to_vnd` at import; every one is a keyword option of
`CostModel` (``CostModel.from_usd(usd_to_vnd=...)`` for another rate).

FIBER_USD_PER_M : dict
    Underground fiber per metre (trench, duct, cable) by setting: rural 5, suburban 15, urban 25 USD (Oughton).
    A road's setting comes from the kind of commune it crosses (``settings.environment_of_commune_kind``: xã rural,
    thị trấn suburban, phường urban).
INSTALLATION_FACTOR : dict
    Share of that cost by installation: underground 1.0; aerial on existing poles 0.4 (assumption: no trench,
    cable and hardware only).
ROAD_CLASS_FACTOR : dict
    Multiplier by road class (assumption): national/provincial 1.0, district 1.05, commune 1.1, track 1.25 (worse
    access, fewer poles), unknown 1.1.
OFFROAD_USD_PER_M : float
    Off-road connector from a road to a village centre or straight to a fiber route: 10 USD/m (assumption: new
    poles or trench across fields, twice the rural road cost), whatever the installation.
EQUIPMENT_USD_PER_VILLAGE : float
    Per connected village: splitter cabinet, ODF, splicing and tests, 2,000 USD (assumption).
SLOPE_FACTOR, MAX_TERRAIN_FACTOR : float
    Terrain: cost × (1 + 2 × mean absolute grade of the road, from the DEM), at most × 2.
FIBER_VND_PER_M, OFFROAD_VND_PER_M, EQUIPMENT_VND_PER_VILLAGE
    The same in VND.
DEFAULT_WEIGHTS : dict
    Priority score weights (see `rank_villages`).

Example
-------
>>> from ictgis import io
>>> plan = FiberPlan.from_dataset(io.load("data/shapefiles")).solve(budget_vnd=20e9)   # doctest: +SKIP
>>> plan.summary["households_connected"], plan.ranking.head()                          # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csgraph

from . import settings
from ._errors import LayerError, Problem
from .layers import Field, LayerSchema
from .network import ComponentReport, RoadNetwork, WGraph, attach_sources, build_network
from .steiner import (
    BudgetSelection,
    SteinerTree,
    leaf_savings,
    mst_prune,
    select_within_budget,
    steiner_tree,
    weighted_tree,
)

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

FIBER_USD_PER_M: dict[str, float] = settings.fiber_usd_per_m
INSTALLATION_FACTOR: dict[str, float] = {"underground": 1.0, "aerial": 0.4}
ROAD_CLASS_FACTOR: dict[str, float] = {"national": 1.0, "provincial": 1.0, "district": 1.05, "commune": 1.1,
                                       "track": 1.25, "unknown": 1.1}
OFFROAD_USD_PER_M: float = settings.fiber_offroad_usd_per_m
EQUIPMENT_USD_PER_VILLAGE: float = settings.fiber_equipment_usd_per_village
SLOPE_FACTOR: float = 2.0
MAX_TERRAIN_FACTOR: float = 2.0
FIBER_VND_PER_M: dict[str, float] = {k: v * settings.usd_to_vnd for k, v in FIBER_USD_PER_M.items()}
OFFROAD_VND_PER_M: float = OFFROAD_USD_PER_M * settings.usd_to_vnd
EQUIPMENT_VND_PER_VILLAGE: float = EQUIPMENT_USD_PER_VILLAGE * settings.usd_to_vnd
MAX_OFFROAD_M: float = 5000.0
"""Villages farther than this from every road (and every fiber route) are reported unreachable."""
FIBER_TOLERANCE_M: float = 50.0
"""A fiber route this close to a road can be tapped there."""
FIBER_WARN_M: float = 100.0
"""A fiber route or point of presence farther than this from every road is joined by a connector with a warning."""
POPS_SCHEMA = LayerSchema(
    name="pops", geometry="Point", id_field="id", label_vi="Điểm truy nhập (PoP)",
    description="Points of presence of the existing fiber network (district exchanges, OLTs …) to route from.",
    fields=(Field("id", "str", True, "Point id", aliases=("ma", "ma_diem", "ma_tram", "pop_id")),
            Field("name", "str", False, "Name", aliases=("ten", "ten_diem", "ten_tram")),
            Field("kind", "str", False, "Kind (exchange, OLT …)", aliases=("loai",)),
            Field("operator", "str", False, "Owner", aliases=("nha_mang", "doanh_ngh"))))
"""Schema of a file of points of presence (`read_pops`, through `ictgis.io.read_layer`)."""
HOUSEHOLD_SIZE: float = 616_500 / 144_396
"""People per household (≈ 4.27), to estimate households when a village layer has only population.

The department's plan (``docs/sources.md`` §1.1, §1.2) gives 144,396 households and no population, only
3,670 people per postal point × 168 points = 616,560 with 3,670 rounded (616,476–616,644); 616,500 is that figure
rounded. The demo's 616,560 / 144,396 (4.2699) differs by 0.01 %, which changes an estimated household count only
when it falls within 0.0001 · households of a half.
"""

DEFAULT_WEIGHTS: dict[str, float] = {
    "households": 0.30, "population": 0.05, "cost_alone": 0.10, "cost_shared": 0.15, "cost_per_household": 0.20,
    "double_gap": 0.10, "poor": 0.04, "minority": 0.03, "school": 0.015, "health": 0.015,
}
WEIGHT_ALIASES = {"cost": "cost_per_household", "hh": "households", "pop": "population", "marginal": "cost_shared",
                  "shared": "cost_shared", "alone": "cost_alone", "no_4g": "double_gap", "4g": "double_gap"}
FLAG_COLUMNS = ("poor", "minority", "school", "health")

ProgressFn = Callable[[str], None]


# ------------------------------------------------------------------------------------------------ costs
@dataclass(frozen=True)
class CostModel:
    """Unit costs in VND (defaults: module constants, from `ictgis.settings`; docs/sources.md §4).

    Parameters
    ----------
    installation
        ``aerial`` (on poles) or ``underground``.
    fiber_vnd_per_m
        Underground cost per metre by setting (rural, suburban, urban).
    installation_factor
        Share of the underground cost by installation.
    road_class_factor
        Multiplier by road class.
    offroad_vnd_per_m
        Off-road connector per metre.
    equipment_vnd
        Per connected village.
    slope_factor, max_terrain_factor
        Terrain multiplier ``min(1 + slope_factor × grade, max_terrain_factor)``.
    """

    installation: str = "aerial"
    fiber_vnd_per_m: Mapping[str, float] = field(default_factory=lambda: dict(FIBER_VND_PER_M))
    installation_factor: Mapping[str, float] = field(default_factory=lambda: dict(INSTALLATION_FACTOR))
    road_class_factor: Mapping[str, float] = field(default_factory=lambda: dict(ROAD_CLASS_FACTOR))
    offroad_vnd_per_m: float = OFFROAD_VND_PER_M
    equipment_vnd: float = EQUIPMENT_VND_PER_VILLAGE
    slope_factor: float = SLOPE_FACTOR
    max_terrain_factor: float = MAX_TERRAIN_FACTOR

    def __post_init__(self) -> None:
        if self.installation not in self.installation_factor:
            raise ValueError(f"installation must be one of {', '.join(self.installation_factor)}, "
                             f"not {self.installation!r}")

    @classmethod
    def from_usd(cls, *, usd_to_vnd: float | None = None, installation: str = "aerial",
                 fiber_usd_per_m: Mapping[str, float] | None = None, offroad_usd_per_m: float | None = None,
                 equipment_usd: float | None = None, **kwargs) -> CostModel:
        """Build from USD unit costs and an exchange rate (default `settings.usd_to_vnd`)."""
        rate = settings.usd_to_vnd if usd_to_vnd is None else usd_to_vnd
        usd = dict(FIBER_USD_PER_M, **(fiber_usd_per_m or {}))
        return cls(installation=installation, fiber_vnd_per_m={k: v * rate for k, v in usd.items()},
                   offroad_vnd_per_m=(OFFROAD_USD_PER_M if offroad_usd_per_m is None else offroad_usd_per_m) * rate,
                   equipment_vnd=(EQUIPMENT_USD_PER_VILLAGE if equipment_usd is None else equipment_usd) * rate,
                   **kwargs)

    def per_metre(self, attrs: pd.DataFrame) -> np.ndarray:
        """Cost per metre (VND) of edges with columns ``kind``, ``road_class``, ``setting``, ``grade``."""
        rural = self.fiber_vnd_per_m.get("rural", FIBER_VND_PER_M["rural"])
        base = attrs["setting"].map(self.fiber_vnd_per_m).astype(float).fillna(rural).to_numpy()
        cls_f = attrs["road_class"].map(self.road_class_factor).astype(float).fillna(
            self.road_class_factor.get("unknown", 1.0)).to_numpy()
        terrain = np.clip(1.0 + self.slope_factor * attrs["grade"].astype(float).fillna(0.0).to_numpy(), 1.0,
                          self.max_terrain_factor)
        road = base * self.installation_factor[self.installation] * cls_f * terrain
        return np.where((attrs["kind"] == "offroad").to_numpy(), self.offroad_vnd_per_m * terrain, road)

    def to_dict(self) -> dict:
        """JSON-ready description."""
        return {"installation": self.installation, "fiber_vnd_per_m": dict(self.fiber_vnd_per_m),
                "installation_factor": dict(self.installation_factor),
                "road_class_factor": dict(self.road_class_factor), "offroad_vnd_per_m": self.offroad_vnd_per_m,
                "equipment_vnd": self.equipment_vnd, "slope_factor": self.slope_factor,
                "max_terrain_factor": self.max_terrain_factor}


# ------------------------------------------------------------------------------------------------ ranking
def parse_weights(text: str | Mapping[str, float] | None) -> dict[str, float]:
    """Score weights from ``"households=0.4,cost=0.2"`` or a mapping, merged over `DEFAULT_WEIGHTS`.

    Keys are component names (see `DEFAULT_WEIGHTS`) or aliases (``cost`` = cost_per_household, ``marginal`` =
    cost_shared, ``no_4g`` = double_gap …). Unnamed components keep their default; set one to 0 to drop it.

    Raises
    ------
    ValueError
        For an unknown component or a value that is not a number ≥ 0.
    """
    out = dict(DEFAULT_WEIGHTS)
    if not text:
        return out
    items = text.items() if isinstance(text, Mapping) else (
        part.split("=", 1) if "=" in part else (part, "") for part in str(text).split(",") if part.strip())
    for key, value in items:
        name = WEIGHT_ALIASES.get(str(key).strip().lower(), str(key).strip().lower())
        if name not in DEFAULT_WEIGHTS:
            raise ValueError(f"unknown weight {key!r}; known: {', '.join([*DEFAULT_WEIGHTS, *WEIGHT_ALIASES])}")
        try:
            w = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"weight {key}={value!r} is not a number") from None
        if not w >= 0 or math.isinf(w):
            raise ValueError(f"weight {key}={value!r} must be a finite number ≥ 0")
        out[name] = w
    return out


def _minmax(values: pd.Series, *, lower_is_better: bool) -> pd.Series:
    v = values.astype(float)
    lo, hi = v.min(skipna=True), v.max(skipna=True)
    if not np.isfinite(lo) or not np.isfinite(hi):
        return pd.Series(0.0, index=v.index)
    s = pd.Series(1.0, index=v.index) if hi - lo <= 0 else (v - lo) / (hi - lo)
    s = 1.0 - s if lower_is_better else s
    return s.where(v.notna(), 0.0)


def rank_villages(table: pd.DataFrame, *, weights: Mapping[str, float] | str | None = None) -> pd.DataFrame:
    """Score and rank gap villages; every score component is a column.

    Each component is scaled to 0–1 among the villages (min–max; 1 = best): ``households`` and ``population``
    (more is better), ``cost_alone`` (own route + equipment), ``cost_shared`` (what the village adds to the shared
    plan), ``cost_per_household`` (shared cost per household; lower is better), ``double_gap`` (1 when the village
    also lacks 4G, 0 when not or unknown), and 1/0 flags ``poor``, ``minority``, ``school``, ``health`` (0 when the
    layer has no such column). ``pts_<component>`` = weight × component; ``score`` is their sum. Villages that
    cannot be reached score only on their non-cost components and come after every reachable one.

    Parameters
    ----------
    table
        One row per gap village with ``households``, ``population``, ``reachable``, ``cost_alone_vnd``,
        ``cost_shared_vnd``, ``cost_per_household_vnd`` and optional ``no_4g``, ``poor`` … columns.
    weights
        Component weights (merged over `DEFAULT_WEIGHTS`).

    Returns
    -------
    pandas.DataFrame
        A copy, best first, with ``pts_*``, ``score`` and ``rank`` (1 = first).
    """
    w = parse_weights(weights)
    out = table.copy()
    reach = out["reachable"].astype(bool)
    comp = {
        "households": _minmax(out["households"], lower_is_better=False),
        "population": _minmax(out["population"], lower_is_better=False),
        "cost_alone": _minmax(out["cost_alone_vnd"].where(reach), lower_is_better=True),
        "cost_shared": _minmax(out["cost_shared_vnd"].where(reach), lower_is_better=True),
        "cost_per_household": _minmax(out["cost_per_household_vnd"].where(reach), lower_is_better=True),
        "double_gap": (out["no_4g"].astype("boolean").fillna(False).astype(float) if "no_4g" in out
                       else pd.Series(0.0, index=out.index)),
    }
    for flag in FLAG_COLUMNS:
        comp[flag] = (out[flag].astype("boolean").fillna(False).astype(float) if flag in out
                      else pd.Series(0.0, index=out.index))
    score = pd.Series(0.0, index=out.index)
    for name, weight in w.items():
        out[f"pts_{name}"] = (weight * comp[name]).round(6)
        score += out[f"pts_{name}"]
    out["score"] = score.round(6)
    out = out.sort_values(["reachable", "score", "households"], ascending=[False, False, False], kind="stable")
    out["rank"] = np.arange(1, len(out) + 1)
    return out


# ------------------------------------------------------------------------------------------------ the plan
class FiberPlan:
    """Fiber for the villages without it: routes, a shared plan, a selection under a budget, a ranking.

    Build with `from_dataset` or `from_layers`, call `solve`, then read the attributes.

    Attributes
    ----------
    network : RoadNetwork
        The road network with villages attached and the existing fiber as sources.
    components : ComponentReport
        Connected components of that network.
    fiber_attachment : pandas.DataFrame
        One row per existing fiber route and point of presence: ``id``, ``layer`` (fiber_routes or pops),
        ``taps``, ``connector_m`` (off-road connector to the nearest road; 0 when tapped), ``far`` (beyond
        ``fiber_warn_m``).
    warnings : list of str
        What the plan warned about (routes far from the roads, no village reached and why).
    villages : geopandas.GeoDataFrame
        One row per gap village, best first: route and cost columns, score components, ``rank``, ``selected``,
        ``phase``, and for unreachable ones ``reason`` / ``reason_vi``.
    routes : geopandas.GeoDataFrame
        The least-cost route of each reachable gap village on its own.
    plan : geopandas.GeoDataFrame
        Segments of the shared plan: length, cost, the villages each serves, ``rank`` and ``phase`` (1 = within
        the budget, 2 = after it).
    selection : BudgetSelection or None
        The villages chosen under the budget.
    summary : dict
        JSON-ready totals.
    """

    def __init__(self, roads: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, fiber_routes: gpd.GeoDataFrame | None,
                 *, pops: gpd.GeoDataFrame | None = None, routes_name: str | None = None,
                 pops_name: str | None = None, communes: gpd.GeoDataFrame | None = None, dem_path: object = None,
                 cost_model: CostModel | None = None, installation: str | None = None,
                 weights: Mapping[str, float] | str | None = None, no_4g: pd.Series | str | None = None,
                 gap_distance_m: float | None = None, max_offroad_m: float = MAX_OFFROAD_M,
                 fiber_tolerance_m: float = FIBER_TOLERANCE_M, fiber_warn_m: float = FIBER_WARN_M,
                 snap_tolerance_m: float = 10.0, progress: ProgressFn | None = None) -> None:
        _check_layers(roads, villages, fiber_routes, gap_distance_m=gap_distance_m, no_4g=no_4g, pops=pops)
        crs = roads.crs
        self.roads = roads
        self.villages_in = villages if villages.crs == crs else villages.to_crs(crs)
        self.fiber_routes = (None if fiber_routes is None else
                             fiber_routes if fiber_routes.crs == crs else fiber_routes.to_crs(crs))
        self.pops = None if pops is None else pops if pops.crs == crs else pops.to_crs(crs)
        self.routes_name = routes_name
        self.pops_name = pops_name
        self.existing = _existing_fiber(self.fiber_routes, self.pops, crs)
        self.fiber_warn_m = float(fiber_warn_m)
        self.communes = communes if communes is None or communes.crs == crs else communes.to_crs(crs)
        self.dem_path = dem_path
        model = cost_model or CostModel()
        self.cost_model = replace(model, installation=installation) if installation else model
        self.weights = parse_weights(weights)
        self.no_4g = no_4g
        self.gap_distance_m = gap_distance_m
        self.max_offroad_m = float(max_offroad_m)
        self.fiber_tolerance_m = float(fiber_tolerance_m)
        self.snap_tolerance_m = float(snap_tolerance_m)
        self.progress = progress
        self.network: RoadNetwork | None = None
        self.components: ComponentReport | None = None
        self.fiber_attachment: pd.DataFrame | None = None
        self.warnings: list[str] = []
        self.villages: gpd.GeoDataFrame | None = None
        self.routes: gpd.GeoDataFrame | None = None
        self.plan: gpd.GeoDataFrame | None = None
        self.selection: BudgetSelection | None = None
        self.summary: dict = {}

    @classmethod
    def from_dataset(cls, ds, **kwargs) -> FiberPlan:
        """Plan from a `ictgis.io.Dataset` (roads, villages, fiber_routes, communes and the DEM); options as `__init__`.

        Give ``pops=`` (`read_pops`) to route from points of presence, with or without a fiber_routes layer.

        Raises
        ------
        LayerError
            When roads or villages are missing, when there is neither fiber_routes nor `pops`, or when a layer lacks
            needed columns.
        """
        from pathlib import Path

        kwargs.setdefault("communes", ds.get("communes"))
        kwargs.setdefault("dem_path", ds.dem_path)
        source = getattr(ds, "sources", {}).get("fiber_routes")
        kwargs.setdefault("routes_name", Path(source).name if source else None)
        return cls(ds.get("roads"), ds.get("villages"), ds.get("fiber_routes"), **kwargs)

    @classmethod
    def from_layers(cls, roads: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, fiber_routes: gpd.GeoDataFrame | None,
                    **kwargs) -> FiberPlan:
        """Plan from layers in one projected CRS (villages and routes are reprojected to the roads' CRS)."""
        return cls(roads, villages, fiber_routes, **kwargs)

    def _step(self, message: str) -> None:
        logger.info("fiber: %s", message)
        if self.progress is not None:
            self.progress(message)

    # -------------------------------------------------------------------------------------------- solve
    def solve(self, *, budget_vnd: float | None = None) -> FiberPlan:
        """Route every gap village, build the shared plan, choose villages within `budget_vnd`, rank them.

        Parameters
        ----------
        budget_vnd
            Budget for routes plus equipment, in VND; None connects every reachable village (one phase).

        Returns
        -------
        FiberPlan
            This plan, with its result attributes set.
        """
        if budget_vnd is not None and not budget_vnd >= 0:
            raise ValueError(f"budget_vnd must be ≥ 0, not {budget_vnd!r}")
        model = self.cost_model
        self._step("building the road network")
        net = build_network(self.roads, snap_tolerance_m=self.snap_tolerance_m, cost_per_m=model.per_metre,
                            communes=self.communes, dem_path=self.dem_path)
        gaps = self._gap_villages()
        self._step(f"attaching {len(gaps)} villages without fiber and the existing fiber routes")
        pts = shapely.point_on_surface(gaps.geometry.to_numpy())
        net, att = net.attach_points(pts, max_distance_m=self.max_offroad_m)
        node = att.node.copy()
        self._step(self.source_statement())
        net, report = attach_sources(net, self.existing.geometry, tolerance_m=self.fiber_tolerance_m)
        self.fiber_attachment = self._attachment_report(report)
        net, node, drop_m = self._drops(net, pts, node)
        self.network = net
        self.components = net.components()
        if self.components.n_components > 1:
            logger.warning("fiber: %s", self.components)
        graph = net.graph("cost")
        self._step("least-cost route of each village")
        table, routes = self._routes(graph, gaps, node, att.offroad_m, drop_m)
        reach = table["reachable"].to_numpy()
        hh = table["households"].to_numpy(float)
        eq = np.full(len(table), model.equipment_vnd)
        selection = None
        base_w = None
        if budget_vnd is not None and reach.any():
            self._step(f"choosing villages within {budget_vnd:,.0f} VND")
            idx = np.flatnonzero(reach)
            selection = select_within_budget(graph, graph.source, node[idx], hh[idx], eq[idx], float(budget_vnd))
            selection = replace(selection, order=[int(idx[i]) for i in selection.order])
            base_w = selection.tree
        self._step("shared plan (Steiner tree) for every reachable village")
        full = self._full_tree(graph, node[reach], base_w)
        shared = np.zeros(len(table))
        shared[reach] = leaf_savings(graph, full, node[reach], graph.source)
        table["cost_shared_vnd"] = np.where(reach, shared + eq, np.nan)
        table["cost_per_household_vnd"] = table["cost_shared_vnd"] / table["households"].where(
            table["households"] > 0)
        self._step("ranking")
        selected = reach.copy()
        if selection is not None:
            selected[:] = False
            selected[selection.order] = True
        table["selected"] = selected
        table["phase"] = pd.array(np.where(selected, 1, 2), dtype="Int64")
        table.loc[~reach, "phase"] = pd.NA
        ranked = rank_villages(table, weights=self.weights)
        self.villages = gpd.GeoDataFrame(ranked, geometry="geometry", crs=self.roads.crs)
        rank_of = dict(zip(ranked.index, ranked["rank"], strict=True))
        self.routes = routes
        self.plan = _segments(net, graph, full, node, table, rank_of, base_w, installation=model.installation)
        self.selection = selection
        why = self._why_none_reached(table) if len(table) and not reach.any() else None
        if why:
            self._warn(why)
        self.summary = self._summary(table, budget_vnd, why)
        self._step("done")
        return self

    def source_statement(self, *, lang: str = "en") -> str:
        """Say where routes start, e.g. ``routing from 10 points of presence in pops.csv; no fiber_routes layer``."""
        vi = lang == "vi"
        parts = []
        if self.fiber_routes is not None:
            n = len(self.fiber_routes)
            where = f" {'trong' if vi else 'in'} {self.routes_name}" if self.routes_name else ""
            what = "tuyến cáp quang hiện có" if vi else "existing fiber route" + ("" if n == 1 else "s")
            parts.append(f"{n} {what}{where}")
        if self.pops is not None:
            where = f" {'trong' if vi else 'in'} {self.pops_name}" if self.pops_name else ""
            n = len(self.pops)
            what = "điểm truy nhập (PoP)" if vi else "point" + ("" if n == 1 else "s") + " of presence"
            parts.append(f"{n} {what}{where}")
        text = ("định tuyến từ " if vi else "routing from ") + (" và " if vi else " and ").join(parts)
        if self.fiber_routes is None:
            text += "; không có lớp fiber_routes" if vi else "; no fiber_routes layer"
        return text

    def _warn(self, message: str) -> None:
        logger.warning("fiber: %s", message)
        self.warnings.append(message)

    def _attachment_report(self, report: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame({"id": self.existing["id"].to_numpy(), "layer": self.existing["layer"].to_numpy(),
                            "taps": report["taps"].to_numpy(), "connector_m": report["connector_m"].to_numpy()})
        out["far"] = out["connector_m"] > self.fiber_warn_m
        what = {"fiber_routes": "fiber route", "pops": "point of presence"}
        for r in out[out["far"]].itertuples():
            self._warn(f"{what[r.layer]} {r.id} lies {r.connector_m:,.0f} m from the nearest road (more than "
                       f"{self.fiber_warn_m:g} m): joined to it by an off-road connector of that length")
        return out

    def _why_none_reached(self, table: pd.DataFrame) -> str:
        """Say why no village without fiber can be reached."""
        n = len(table)
        codes = table["reason_code"].value_counts()
        km = self.max_offroad_m / 1000
        if (_solved(self.fiber_attachment, "fiber_attachment")["connector_m"].notna()).sum() == 0:
            return (f"none of the {n} villages without fiber can be reached: no existing fiber route or point of "
                    f"presence is attached to the road network ({self.source_statement()}; the layer has no usable "
                    "geometry)")
        reasons = []
        if codes.get("no_road", 0):
            reasons.append(f"{codes['no_road']} lie farther than {km:g} km from every road and fiber route")
        if codes.get("no_fiber_on_component", 0):
            labels = _solved(self.components, "components").labels
            sources = _solved(self.network, "network").sources
            with_fiber = sorted({int(labels[x]) for x in sources.node.tolist() if x < len(labels)})
            on = table.loc[table["reason_code"] == "no_fiber_on_component", "node"].to_numpy()
            village_parts = sorted({int(labels[x]) for x in on.tolist() if 0 <= x < len(labels)})
            reasons.append(f"{codes['no_fiber_on_component']} lie on road network components "
                           f"{', '.join(map(str, village_parts))} while the existing fiber joins components "
                           f"{', '.join(map(str, with_fiber))}")
        return f"none of the {n} villages without fiber can be reached: " + "; ".join(reasons)

    # -------------------------------------------------------------------------------------------- steps
    def _gap_villages(self) -> gpd.GeoDataFrame:
        v = self.villages_in
        gap = pd.Series(False, index=v.index)
        why = pd.Series("", index=v.index, dtype=object)
        if "fiber" in v:
            known = v["fiber"].notna()
            nofiber = known & ~v["fiber"].astype("boolean").fillna(True).astype(bool)
            if (~known).any():
                logger.info("fiber: %d villages with unknown fiber status are not counted as gaps", int((~known).sum()))
            gap |= nofiber
            why[nofiber] = "no_fiber"
        if self.gap_distance_m is not None:
            lines = self.existing.geometry.to_numpy()
            lines = lines[~(shapely.is_missing(lines) | shapely.is_empty(lines))] if len(lines) else lines
            d = (np.full(len(v), np.inf) if len(lines) == 0 else
                 shapely.STRtree(lines).query_nearest(v.geometry.to_numpy(), return_distance=True,
                                                      all_matches=False)[1])
            far = pd.Series(np.asarray(d) > self.gap_distance_m, index=v.index) & ~gap
            gap |= far
            why[far] = "far_from_fiber"
        out = v.loc[gap].copy()
        out["gap_reason"] = why[gap]
        if "households" not in out or out["households"].isna().any():
            est = (out["population"].astype(float) / HOUSEHOLD_SIZE).round()
            out["households"] = out["households"].fillna(est) if "households" in out else est
        if out["households"].isna().any():
            logger.warning("fiber: %d villages without fiber have no household count; counted as 0",
                           int(out["households"].isna().sum()))
        out["households"] = out["households"].astype(float).fillna(0.0)
        out["population"] = out["population"].astype(float) if "population" in out else out["households"] * \
            HOUSEHOLD_SIZE
        out["no_4g"] = _align_no_4g(self.no_4g, v).loc[out.index]
        return out

    def _drops(self, net: RoadNetwork, pts: np.ndarray, node: np.ndarray
               ) -> tuple[RoadNetwork, np.ndarray, np.ndarray]:
        """Villages within reach of a fiber route get a direct off-road drop to it (a source link)."""
        drop_m = np.full(len(pts), np.nan)
        lines = self.existing.geometry.to_numpy()
        lines = lines[~(shapely.is_missing(lines) | shapely.is_empty(lines))] if len(lines) else lines
        if len(lines) == 0 or len(pts) == 0:
            return net, node, drop_m
        (vi, fi), dist = shapely.STRtree(lines).query_nearest(pts, max_distance=self.max_offroad_m,
                                                               return_distance=True, all_matches=False)
        node = node.copy()
        missing = vi[node[vi] < 0]
        if len(missing):
            net, ids = net.add_nodes(shapely.get_coordinates(pts[missing]))
            node[missing] = ids
        drop_m[vi] = dist
        lines_ = shapely.shortest_line(pts[vi], lines[fi])
        attrs = pd.DataFrame({"kind": "offroad", "road_class": "offroad", "setting": "rural", "grade": 0.0},
                             index=range(len(vi)))
        cost = dist * self.cost_model.per_metre(attrs)
        return net.with_sources(node[vi], cost=cost, length_m=dist, kind="drop", geometry=lines_), node, drop_m

    def _routes(self, graph: WGraph, gaps: gpd.GeoDataFrame, node: np.ndarray, offroad_m: np.ndarray,
                drop_m: np.ndarray) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
        net = _solved(self.network, "network")
        components = _solved(self.components, "components")
        dist, pred = csgraph.dijkstra(graph.matrix, indices=graph.source, return_predecessors=True)
        labels = components.labels
        comp_table = components.table.set_index("component")
        eq = self.cost_model.equipment_vnd
        n_edges = len(net.edges)
        rows, geoms = [], []
        for i, nd in enumerate(node.tolist()):
            row = {"reachable": False, "reason_code": "", "reason": "", "reason_vi": "", "route_cost_vnd": np.nan,
                   "cost_alone_vnd": np.nan, "route_length_m": np.nan, "onroad_m": np.nan, "offroad_m": np.nan}
            km = self.max_offroad_m / 1000
            if nd < 0:
                row.update(reason_code="no_road", reason=f"no road and no fiber route within {km:g} km",
                           reason_vi=f"không có đường giao thông và tuyến cáp quang trong phạm vi {km:g} km")
            elif not len(net.sources):
                row.update(reason_code="no_fiber_source",
                           reason="no existing fiber route or point of presence to route from",
                           reason_vi="không có tuyến cáp quang hiện có hay điểm truy nhập (PoP) để định tuyến")
            elif not np.isfinite(dist[nd]):
                c = int(labels[nd]) if nd < len(labels) else -1
                info = comp_table.loc[c] if c in comp_table.index else None
                road_km = float(info.length_km) if info is not None else 0.0
                row.update(reason_code="no_fiber_on_component",
                           reason=f"its road network part (component {c}, {road_km:.1f} km of road) has no existing "
                                  f"fiber and no fiber route lies within {km:g} km",
                           reason_vi=f"đoạn mạng đường nơi thôn nằm (thành phần {c}, {road_km:.1f} km đường) không có "
                                     f"cáp quang hiện có, không có tuyến cáp trong phạm vi {km:g} km")
            else:
                path, x = [], nd
                while pred[x] >= 0:
                    path.append((int(pred[x]), x))
                    x = int(pred[x])
                a = np.array([p for p, _ in path], dtype=np.int64)
                b = np.array([q for _, q in path], dtype=np.int64)
                eid = graph.edge_id[graph.positions(a, b)] if len(path) else np.zeros(0, np.int64)
                e = net.edges.iloc[eid[eid < n_edges]]
                s = net.sources.iloc[eid[eid >= n_edges] - n_edges]
                onroad = float(e.length_m[e.kind == "road"].sum())
                offroad = float(e.length_m[e.kind != "road"].sum() + s.length_m.sum())
                parts = [*e.geometry.tolist(), *[g for g in s.geometry.tolist() if g is not None]]
                geoms.append((i, shapely.line_merge(shapely.multilinestrings(parts)) if parts else None))
                row.update(reachable=True, route_cost_vnd=float(dist[nd]), cost_alone_vnd=float(dist[nd]) + eq,
                           route_length_m=onroad + offroad, onroad_m=onroad, offroad_m=offroad)
            rows.append(row)
        table = gaps.copy()
        for k in rows[0] if rows else ():
            table[k] = [r[k] for r in rows]
        table["node"] = node
        table["snap_offroad_m"] = offroad_m
        table["drop_m"] = drop_m
        idx = [i for i, _ in geoms]
        routes = gpd.GeoDataFrame({
            "id": table["id"].to_numpy()[idx] if len(idx) else [], "name": table["name"].to_numpy()[idx]
            if "name" in table and len(idx) else [""] * len(idx),
            "cost_vnd": table["cost_alone_vnd"].to_numpy()[idx], "route_vnd": table["route_cost_vnd"].to_numpy()[idx],
            "length_m": table["route_length_m"].to_numpy()[idx], "onroad_m": table["onroad_m"].to_numpy()[idx],
            "offroad_m": table["offroad_m"].to_numpy()[idx]},
            geometry=[g for _, g in geoms], crs=self.roads.crs)
        return table, routes

    def _full_tree(self, graph: WGraph, nodes: np.ndarray, base: SteinerTree | None) -> SteinerTree:
        """Steiner tree to every reachable village; with a budget tree, one that extends it (phase 2 after 1)."""
        terms = np.unique(np.r_[graph.source, nodes]).astype(np.int64)
        if len(terms) <= 1:
            return SteinerTree(np.zeros((0, 2), np.int64), 0.0, terms)
        if base is None or not len(base.edges):
            return steiner_tree(graph, terms)
        a, b = base.edges[:, 0], base.edges[:, 1]
        pos = np.r_[graph.positions(a, b), graph.positions(b, a)]
        m = graph.matrix.copy()
        m.data[pos] = 1e-6
        shifted = WGraph(matrix=m, edge_id=graph.edge_id, source=graph.source)
        tree = steiner_tree(shifted, np.unique(np.r_[terms, base.nodes]))
        # Keep every edge of the budget tree (nearly free here, so the spanning tree takes them all).
        nodes_all = np.unique(np.r_[tree.edges.ravel(), base.edges.ravel(), terms])
        return weighted_tree(graph, SteinerTree(mst_prune(shifted, nodes_all, terms), 0.0, terms))

    def _summary(self, table: pd.DataFrame, budget_vnd: float | None, why: str | None) -> dict:
        reach = table["reachable"].astype(bool)
        eq = self.cost_model.equipment_vnd
        plan = _solved(self.plan, "plan")
        full_cost = float(plan["cost_vnd"].sum()) + eq * int(reach.sum())
        if self.selection is not None:
            sel = table.iloc[self.selection.order]
            phase1 = plan[plan.phase == 1]
            connected, households = len(sel), float(sel["households"].sum())
            route_km = float(phase1["length_m"].sum()) / 1000
            cost = float(phase1["cost_vnd"].sum()) + eq * len(sel)
        else:
            connected, households = int(reach.sum()), float(table.loc[reach, "households"].sum())
            route_km, cost = float(plan["length_m"].sum()) / 1000, full_cost
        unreachable = table.loc[~reach]
        net = _solved(self.network, "network")
        return {
            "villages_without_fiber": len(table),
            "villages_reachable": int(reach.sum()),
            "villages_unreachable": int((~reach).sum()),
            "villages_connected": connected,
            "households_connected": round(households),
            "route_km": round(route_km, 3),
            "cost_vnd": round(cost),
            "budget_vnd": None if budget_vnd is None else float(budget_vnd),
            "full_plan": {"villages": int(reach.sum()), "households": round(float(table.loc[reach, "households"]
                                                                                   .sum())),
                          "route_km": round(float(plan["length_m"].sum()) / 1000, 3), "cost_vnd": round(full_cost)},
            "separate_routes": {"route_km": round(float(table["route_length_m"].sum(skipna=True)) / 1000, 3),
                                "cost_vnd": round(float(table["cost_alone_vnd"].sum(skipna=True)))},
            "unreachable": [{"id": str(r.id), "name": str(getattr(r, "name", "")), "reason_code": r.reason_code,
                             "reason": r.reason, "reason_vi": r.reason_vi} for r in unreachable.itertuples()],
            "no_village_reached": why,
            "existing_fiber": self._existing_summary(),
            "warnings": list(self.warnings),
            "gap_reasons": {str(k): int(v) for k, v in table["gap_reason"].value_counts().items()},
            "network": {"nodes": net.n_nodes, "edges": len(net.edges),
                        "road_km": round(float(net.edges.length_m[net.edges.kind == "road"].sum()) / 1000, 3),
                        "fiber_taps": int((net.sources.kind == "tap").sum()),
                        "fiber_connectors": int((net.sources.kind == "connector").sum()),
                        **_solved(self.components, "components").to_dict()},
            "cost_model": self.cost_model.to_dict(),
            "weights": self.weights,
            "crs": str(self.roads.crs.to_string()) if self.roads.crs is not None else None,
        }


    def _existing_summary(self) -> dict:
        att = _solved(self.fiber_attachment, "fiber_attachment")
        far = att[att["far"]]
        return {"source": self.source_statement(), "source_vi": self.source_statement(lang="vi"),
                "routes": None if self.fiber_routes is None else len(self.fiber_routes),
                "points_of_presence": None if self.pops is None else len(self.pops),
                "tapped": int((att["taps"] > 0).sum()),
                "joined_by_connector": int(((att["taps"] == 0) & att["connector_m"].notna()).sum()),
                "warn_beyond_m": self.fiber_warn_m,
                "far_from_road": [{"id": str(r.id), "layer": r.layer, "connector_m": round(float(r.connector_m), 1)}
                                  for r in far.itertuples()]}


def read_pops(path, *, crs: object = None, layer: str | None = None, working: object = None) -> gpd.GeoDataFrame:
    """Read a file of points of presence (`POPS_SCHEMA`: ``id``, optional ``name``, ``kind``, ``operator``).

    Parameters
    ----------
    path
        Point file (Shapefile, GeoPackage, GeoJSON, CSV with x/y or lon/lat …).
    crs
        CRS to assume when the file has none.
    layer
        Layer inside a GeoPackage.
    working
        Working CRS (default: the province's).

    Returns
    -------
    geopandas.GeoDataFrame

    Raises
    ------
    LayerError
        When the file is missing, empty or does not fit the schema (file, row, column named).
    """
    from . import io

    return io.read_layer(path, POPS_SCHEMA, crs=crs, layer=layer, working=working)


def _existing_fiber(routes: gpd.GeoDataFrame | None, pops: gpd.GeoDataFrame | None, crs) -> gpd.GeoDataFrame:
    """One frame of the existing fiber: routes then points of presence, with ``id`` and ``layer``."""
    frames = []
    for name, frame in (("fiber_routes", routes), ("pops", pops)):
        if frame is None:
            continue
        ids = (frame["id"].astype(str).to_numpy() if "id" in frame
               else np.array([f"{name}#{i + 1}" for i in range(len(frame))], dtype=object))
        frames.append(pd.DataFrame({"id": ids, "layer": name, "geometry": frame.geometry.to_numpy()}))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"id": [], "layer": [], "geometry": []})
    return gpd.GeoDataFrame(out, geometry="geometry", crs=crs)


def planned_routes(ds) -> gpd.GeoDataFrame | None:
    """Return the shared plan connecting every village without fiber, as a layer of planned route segments.

    The segments of ``FiberPlan.from_dataset(ds).solve().plan`` (no budget: every reachable village), with
    ``id`` (``PLAN-<seg_id>``), ``kind`` = ``"planned"``, ``length_m``, ``length_km`` (2 decimals), ``cost_vnd`` and
    ``villages``, in the plan's CRS.

    Parameters
    ----------
    ds
        A `ictgis.io.Dataset`; not modified.

    Returns
    -------
    geopandas.GeoDataFrame or None
        None when the dataset has no roads, villages or fiber_routes layer.

    Raises
    ------
    LayerError
        When a layer lacks the columns the plan needs.
    """
    if ds.get("roads") is None or ds.get("villages") is None or ds.get("fiber_routes") is None:
        return None
    plan = _solved(FiberPlan.from_dataset(ds).solve().plan, "plan")
    out = plan[["seg_id", "length_m", "cost_vnd", "villages", "geometry"]].copy()
    out["id"] = [f"PLAN-{s}" for s in out["seg_id"]]
    out["kind"] = "planned"
    out["length_km"] = np.round(out["length_m"] / 1000.0, 2)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=plan.crs)


def _solved(value: _T | None, name: str) -> _T:
    """Return the `FiberPlan` result attribute `name`, or raise when `FiberPlan.solve` has not set it."""
    if value is None:
        raise RuntimeError(f"FiberPlan.{name} is not set: call solve() first")
    return value


def _align_no_4g(no_4g: pd.Series | str | None, villages: gpd.GeoDataFrame) -> pd.Series:
    """Return the 4G gap flag of each village as a nullable boolean (NA = unknown)."""
    if no_4g is None:
        if "no_4g" in villages:
            return villages["no_4g"].astype("boolean")
        return pd.Series(pd.NA, index=villages.index, dtype="boolean")
    if isinstance(no_4g, str):
        return villages[no_4g].astype("boolean")
    s = pd.Series(no_4g)
    ids = villages["id"].astype(str)
    if s.index.astype(str).isin(ids).any():
        return pd.Series(s.set_axis(s.index.astype(str)).reindex(ids.to_numpy()).to_numpy(), index=villages.index,
                         dtype="boolean")
    return s.reindex(villages.index).astype("boolean")


def _check_layers(roads, villages, fiber_routes, *, gap_distance_m, no_4g, pops=None) -> None:
    problems = []
    if roads is None or len(roads) == 0:
        problems.append(Problem("roads", "layer is missing or empty: fiber routes follow the road network"))
    if villages is None:
        problems.append(Problem("villages", "layer is missing"))
    else:
        cols = set(villages.columns)
        if "id" not in cols:
            problems.append(Problem("villages", "needs an id column", column="id"))
        if not {"households", "population"} & cols:
            problems.append(Problem("villages", "needs households or population", column="households"))
        if "fiber" not in cols and gap_distance_m is None:
            problems.append(Problem("villages", "needs a fiber column (true/false) to find the villages without "
                                    "fiber, or give a distance to the nearest fiber route", column="fiber"))
        if isinstance(no_4g, str) and no_4g not in cols:
            problems.append(Problem("villages", f"has no column {no_4g!r} for the 4G gap", column=no_4g))
    if fiber_routes is None and pops is None:
        problems.append(Problem("fiber_routes", "layer is missing: routes start from the existing fiber network "
                                "(or give a file of points of presence, ictgis fiber --pops FILE)"))
    if problems:
        raise LayerError("cannot plan fiber routes", problems)


def _segments(net: RoadNetwork, graph: WGraph, tree: SteinerTree, node: np.ndarray, table: pd.DataFrame,
              rank_of: Mapping, base: SteinerTree | None, *, installation: str) -> gpd.GeoDataFrame:
    """Cut a plan tree rooted at the existing network into segments between branchings and villages."""
    cols = ["seg_id", "length_m", "onroad_m", "offroad_m", "cost_vnd", "road_class", "install", "villages",
            "n_villages", "households", "rank", "phase"]
    if not len(tree.edges):
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=net.edges.crs)
    sroot = graph.source
    eid = graph.edge_id[graph.positions(tree.edges[:, 0], tree.edges[:, 1])]
    base_pairs = set() if base is None else {(min(a, b), max(a, b)) for a, b in base.edges.tolist()}
    adj: dict[int, list[tuple[int, int]]] = {}
    for k, (a, b) in enumerate(tree.edges.tolist()):
        adj.setdefault(a, []).append((b, k))
        adj.setdefault(b, []).append((a, k))
    parent: dict[int, tuple[int, int]] = {}
    order = [sroot]
    seen = {sroot}
    for x in order:
        for y, k in adj.get(x, ()):
            if y not in seen:
                seen.add(y)
                parent[y] = (x, k)
                order.append(y)
    phase_of_edge = [1 if base is None or (min(a, b), max(a, b)) in base_pairs else 2
                     for a, b in tree.edges.tolist()]
    reach = table["reachable"].to_numpy()
    villages_at: dict[int, list[int]] = {}
    for i in np.flatnonzero(reach).tolist():
        villages_at.setdefault(int(node[i]), []).append(i)
    n_child = dict.fromkeys(order, 0)
    child_edge: dict[int, int] = {}
    for _child, (x, k) in parent.items():
        n_child[x] += 1
        child_edge[x] = k
    key = {x for x in order if x == sroot or x in villages_at or n_child[x] != 1
           or (x in parent and phase_of_edge[parent[x][1]] != phase_of_edge[child_edge[x]])}
    down: dict[int, list[int]] = {}
    for x in reversed(order):
        kids = [y for y, _ in adj.get(x, ()) if parent.get(y, (None,))[0] == x]
        if x in key:
            down[x] = [*villages_at.get(x, []), *(i for y in kids for i in down[y])]
        else:
            down[x] = down[kids[0]]
    n_e = len(net.edges)
    ids = table["id"].astype(str).to_numpy()
    hh = table["households"].to_numpy(float)
    ranks = np.array([rank_of[ix] for ix in table.index])
    rows, geoms = [], []
    for bottom in order:
        if bottom == sroot or bottom not in key:
            continue
        chain, x = [], bottom
        while True:
            p, k = parent[x]
            chain.append(k)
            x = p
            if x in key:
                break
        e_ids = eid[chain]
        e = net.edges.iloc[e_ids[e_ids < n_e]]
        s = net.sources.iloc[e_ids[e_ids >= n_e] - n_e]
        parts = [*e.geometry.tolist(), *(g for g in s.geometry.tolist() if g is not None)]
        if not parts:
            continue  # a tap: zero-length link into the existing network
        served = sorted(down[bottom], key=lambda i: ranks[i])  # best ranked first
        by_class = e.groupby("road_class")["length_m"].sum()
        rows.append({
            "length_m": float(e.length_m.sum() + s.length_m.sum()),
            "onroad_m": float(e.length_m[e.kind == "road"].sum()),
            "offroad_m": float(e.length_m[e.kind != "road"].sum() + s.length_m.sum()),
            "cost_vnd": float(e.cost.sum() + s.cost.sum()),
            "road_class": str(by_class.idxmax()) if len(by_class) else "offroad",
            "install": installation, "villages": ";".join(ids[served]), "n_villages": len(served),
            "households": float(hh[served].sum()), "rank": int(ranks[served].min()) if served else 0,
            "phase": phase_of_edge[chain[0]]})
        geoms.append(shapely.line_merge(shapely.multilinestrings(parts)))
    out = gpd.GeoDataFrame(rows, geometry=geoms, crs=net.edges.crs)
    out = out.sort_values(["phase", "rank"], kind="stable").reset_index(drop=True)
    out.insert(0, "seg_id", np.arange(1, len(out) + 1))
    return out

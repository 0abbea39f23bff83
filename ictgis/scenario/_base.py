"""What every intervention of a scenario is made of: its declaration, its context, its outcome, the selectors.

An intervention type is one module of `ictgis.scenario` declaring an `Intervention`: its keys (from which the
validator and the JSON Schema are built), its rules across keys, its checks against the base data and its
``apply(dataset, spec, ctx) -> Outcome``. ``apply`` changes the dataset copy it is given (never the base) and returns
its cost lines and notes. Costs are in VND: capital expenditure (capex) once, operating expenditure (opex, negative
for savings) every year of the horizon.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd
import shapely

from .. import settings
from .._errors import ScenarioError
from ..io import Dataset
from ..layers import parse_tech
from .fields import BaseIds, Checker, FieldKind, SiteSelection

logger = logging.getLogger(__name__)


@dataclass
class CostLine:
    """One line of the scenario's cost table."""

    intervention: str
    item: str
    quantity: float
    capex_vnd: float
    opex_vnd_per_year: float = 0.0
    start_year: int = 0
    years: int | None = None  # opex years; None = the whole horizon

    def npv_vnd(self, *, rate: float, horizon: int) -> float:
        """Net present cost over the horizon: capex now (discounted from its start year) plus yearly opex."""
        years = horizon if self.years is None else min(self.years, horizon)
        disc = 1.0 / (1.0 + rate) ** self.start_year
        opex = sum(self.opex_vnd_per_year / (1.0 + rate) ** t for t in range(1, years + 1))
        return self.capex_vnd * disc + opex * disc


@dataclass
class Outcome:
    """What one intervention did."""

    costs: list[CostLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)
    extra: dict = field(default_factory=dict)


@dataclass
class Context:
    """Run-wide parameters and helpers passed to every intervention."""

    params: dict
    label: str = ""

    def p(self, name: str) -> float:
        """Return a parameter (scenario override, else the settings default)."""
        return self.params.get(name, getattr(settings, name))

    @property
    def usd(self) -> float:
        """VND per USD."""
        return float(self.p("usd_to_vnd"))


# ----------------------------------------------------------------------------------------------- selections
def select_sites(bts: gpd.GeoDataFrame, spec: dict, *, communes: gpd.GeoDataFrame | None = None) -> pd.Series:
    """Boolean mask of sites chosen by ``ids`` and/or a ``where`` filter (all conditions must hold).

    ``where`` keys: ``power`` (grid/diesel/solar or a list), ``operator`` (name or list), ``has`` / ``lacks``
    (technologies), ``only`` (exact technology set), ``commune`` (codes), ``district`` (names).
    """
    mask = pd.Series(True, index=bts.index)
    if "ids" in spec:
        mask &= bts["id"].isin([str(i) for i in spec["ids"]])
    where = spec.get("where") or {}
    techs = [set(parse_tech(t)) for t in bts["tech"]]
    for key, value in where.items():
        values = value if isinstance(value, list) else [value]
        if key in ("power", "operator", "commune"):
            mask &= bts[key].isin([str(v) for v in values]) if key in bts else False
        elif key == "has":
            need = set(parse_tech(",".join(map(str, values))))
            mask &= pd.Series([need <= t for t in techs], index=bts.index)
        elif key == "lacks":
            avoid = set(parse_tech(",".join(map(str, values))))
            mask &= pd.Series([not (avoid & t) for t in techs], index=bts.index)
        elif key == "only":
            exact = set(parse_tech(",".join(map(str, values))))
            mask &= pd.Series([t == exact for t in techs], index=bts.index)
        elif key == "district" and communes is not None and "district" in communes:
            codes = communes.loc[communes["district"].isin(values), "code"]
            mask &= bts["commune"].isin(codes)
    return mask


def select_villages(villages: gpd.GeoDataFrame, spec: dict, *, communes: gpd.GeoDataFrame | None = None
                    ) -> pd.Series:
    """Boolean mask of villages chosen by ``ids``, ``all_gaps`` or a ``where`` filter."""
    mask = pd.Series(True, index=villages.index)
    if "ids" in spec:
        mask &= villages["id"].isin([str(i) for i in spec["ids"]])
    if spec.get("all_gaps") or spec.get("villages") == "all_gaps":
        mask &= ~villages["fiber"].astype("boolean").fillna(False).astype(bool)
    where = spec.get("where") or {}
    for key, value in where.items():
        values = value if isinstance(value, list) else [value]
        if key == "commune":
            mask &= villages["commune"].isin([str(v) for v in values])
        elif key == "district" and communes is not None and "district" in communes:
            codes = communes.loc[communes["district"].isin(values), "code"]
            mask &= villages["commune"].isin(codes)
        elif key == "fiber":
            mask &= villages["fiber"].astype("boolean").fillna(False).astype(bool) == bool(value)
        elif key == "min_households":
            mask &= villages["households"].astype("Float64").fillna(0) >= float(value)
        elif key == "min_population":
            mask &= villages["population"].astype("Float64").fillna(0) >= float(value)
    return mask


def need_layer(ds: Dataset, layer: str, what: str) -> gpd.GeoDataFrame:
    """Return a layer of the dataset, raising ScenarioError naming `what` needs it when the data have not."""
    frame = ds.get(layer)
    if frame is None:
        raise ScenarioError(f"{what} needs the {layer} layer, which the base data has not")
    return frame


def site_point(site: dict, ds: Dataset) -> shapely.Point:
    """Return the point of a new feature given by ``x``, ``y`` (the dataset's CRS) or ``lon``, ``lat``."""
    if "lon" in site and "lat" in site:
        from ..crs import transformer

        x, y = transformer("EPSG:4326", ds.crs).transform(float(site["lon"]), float(site["lat"]))
        return shapely.Point(x, y)
    return shapely.Point(float(site["x"]), float(site["y"]))


# ----------------------------------------------------------------------------------------------- declaration
SITE_WHERE = {"power", "operator", "has", "lacks", "only", "commune", "district"}
VILLAGE_WHERE = {"commune", "district", "fiber", "min_households", "min_population"}
#: The kind of a ``sites:`` key choosing existing sites (see `select_sites`).
SITE_SELECTION = SiteSelection(frozenset(SITE_WHERE))


@dataclass
class Intervention:
    """The declaration of one intervention type, registered in `ictgis.scenario.INTERVENTIONS`.

    The validator (`ictgis.scenario.read`) and `ictgis.scenario.json_schema` are both built from it.

    Parameters
    ----------
    name
        The ``type:`` of the intervention in scenario files.
    keys
        Each key the intervention takes and its kind (see `ictgis.scenario.fields`), in the order messages and the
        schema list them; the common ``label`` (the name of the intervention in costs and notes) is added.
    apply
        ``apply(dataset, spec, ctx) -> Outcome``: change the dataset copy, return costs and notes.
    required
        Keys that must be present.
    check
        ``check(chk, path, spec)``: rules across keys, after each key is checked on its own.
    check_base
        ``check_base(chk, path, spec, ids)``: checks against the base data beyond the kinds' own (e.g. new ids
        that must not exist yet).
    order
        Place in the table of types (`ictgis.scenario.registry`): messages and the JSON Schema list types by it.
    """

    name: str
    keys: dict[str, FieldKind]
    apply: Callable[[Dataset, dict, Context], Outcome]
    required: tuple[str, ...] = ()
    check: Callable[[Checker, tuple, dict], None] | None = None
    check_base: Callable[[Checker, tuple, dict, BaseIds], None] | None = None
    order: int = 100

    def __post_init__(self) -> None:
        self.keys = {**self.keys, "label": str}

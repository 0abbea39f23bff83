"""The ``post_offices`` intervention: BĐVHX points added to every xã without one, and/or at given points.

::

    - type: post_offices
      add: missing_bdvhx
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from ...io import Dataset
from .._base import Context, CostLine, Intervention, Outcome, need_layer, site_point
from ..fields import Checker


def apply_post_offices(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Add BĐVHX points: to every xã without one (``add: missing_bdvhx``) and/or explicit points."""
    po = need_layer(ds, "post_offices", "post_offices")
    communes = ds["communes"]
    rows = []
    if spec.get("add") == "missing_bdvhx":
        has = set(po.loc[po["kind"] == "bdvhx", "commune"])
        todo = communes[(communes["kind"] == "xa") & ~communes["code"].isin(has)]
        villages = ds.get("villages")
        for code, name, geom in zip(todo["code"], todo["name"], todo.geometry, strict=True):
            point = geom.representative_point()
            if villages is not None:
                local = villages[villages["commune"] == code]
                if len(local):
                    point = local.geometry.iloc[int(np.argmax(local["population"].astype(float).to_numpy()))]
            rows.append({"id": f"BDVHX-{code}", "name": f"Điểm BĐVHX {name}", "kind": "bdvhx", "commune": code,
                         "geometry": point})
    for point in spec.get("points") or []:
        rows.append({"id": str(point["id"]), "name": point.get("name", ""), "kind": point.get("kind", "bdvhx"),
                     "commune": None, "geometry": site_point(point, ds)})
    new = gpd.GeoDataFrame(rows, geometry="geometry", crs=po.crs) if rows else None
    if new is not None:
        from ...io import assign_commune

        missing = new["commune"].isna()
        if missing.any():
            new.loc[missing, "commune"] = assign_commune(new[missing], communes)["commune"]
        merged = pd.concat([po, new], ignore_index=True)
        ds.layers["post_offices"] = gpd.GeoDataFrame(merged, geometry=po.geometry.name, crs=po.crs)
    n = 0 if new is None else len(new)
    out = Outcome(changed={"post_offices"})
    out.costs.append(CostLine(ctx.label, f"{n} new BĐVHX points", n, n * ctx.p("bdvhx_capex_vnd"),
                              n * ctx.p("bdvhx_opex_vnd_per_year")))
    out.extra = {"points_added": n}
    out.notes.append(f"{n} BĐVHX points added")
    return out


def check(chk: Checker, path: tuple, spec: dict) -> None:
    """Require something to add."""
    if not ({"add", "points"} & set(spec)):
        chk.add(path, "post_offices needs add: missing_bdvhx or points")


INTERVENTION = Intervention("post_offices", {"add": ("missing_bdvhx",), "points": list}, apply_post_offices,
                            check=check,
                            order=50)

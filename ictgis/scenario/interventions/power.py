"""The ``power`` intervention: diesel sites (or chosen ones) to solar or grid power; fuel and CO₂ saved.

::

    - type: power                 # diesel → solar for the chosen sites (default: all diesel sites)
      to: solar
"""

from __future__ import annotations

from ...io import Dataset
from .._base import SITE_SELECTION, Context, CostLine, Intervention, Outcome, need_layer, select_sites


def apply_power(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Switch chosen sites (default: all diesel sites) to solar or grid power: capex, fuel saved, CO₂ avoided."""
    bts = need_layer(ds, "bts_sites", "power").copy()
    target = spec.get("to", "solar")
    selection = spec.get("sites") or {"where": {"power": "diesel"}}
    mask = select_sites(bts, selection, communes=ds.get("communes"))
    was_diesel = mask & (bts["power"] == "diesel")
    n, n_diesel = int(mask.sum()), int(was_diesel.sum())
    bts.loc[mask, "power"] = target
    ds.layers["bts_sites"] = bts
    unit_usd = ctx.p("solar_kit_usd") if target == "solar" else ctx.p("grid_connection_usd")
    litres = n_diesel * ctx.p("diesel_litres_per_year")
    fuel_vnd = litres * ctx.p("diesel_vnd_per_litre")
    co2_t = litres * ctx.p("co2_kg_per_litre_diesel") / 1000.0
    out = Outcome(changed={"bts_sites"})
    out.costs.append(CostLine(ctx.label, f"{target} power for {n} sites", n, n * unit_usd * ctx.usd,
                              -fuel_vnd + (0.0 if target == "grid" else
                                           ctx.p("solar_opex_share_per_year") * n * unit_usd * ctx.usd)))
    out.extra = {"sites": n, "diesel_sites_converted": n_diesel, "fuel_saved_litres_per_year": litres,
                 "fuel_saved_vnd_per_year": fuel_vnd, "co2_avoided_t_per_year": round(co2_t, 1)}
    out.notes.append(f"{n} sites to {target}: {litres:,.0f} L diesel and {co2_t:,.1f} t CO₂ avoided per year")
    return out


INTERVENTION = Intervention("power", {"to": ("solar", "grid"), "sites": SITE_SELECTION}, apply_power,
                            order=10)

"""The ``upgrade_sites`` intervention: technologies (4G, 5G) added to chosen sites.

::

    - type: upgrade_sites
      sites: {where: {has: 3G, lacks: 4G}}
      add: [4G]
"""

from __future__ import annotations

from ...io import Dataset
from ...layers import TECHNOLOGIES, parse_tech
from .._base import SITE_SELECTION, Context, CostLine, Intervention, Outcome, need_layer, select_sites
from ..fields import Checker


def apply_upgrade_sites(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Add technologies (4G, 5G) to chosen sites; optionally set their band."""
    bts = need_layer(ds, "bts_sites", "upgrade_sites").copy()
    add = set(parse_tech(",".join(spec["add"] if isinstance(spec["add"], list) else [spec["add"]])))
    mask = select_sites(bts, spec.get("sites") or {}, communes=ds.get("communes"))
    changed = 0
    new_tech = []
    for chosen, tech in zip(mask, bts["tech"], strict=True):
        have = set(parse_tech(tech))
        if chosen and not add <= have:
            changed += 1
            have |= add
        new_tech.append(",".join(t for t in TECHNOLOGIES if t in have))
    bts["tech"] = new_tech
    if spec.get("band_mhz") is not None:
        bts.loc[mask, "band_mhz"] = float(spec["band_mhz"])
    ds.layers["bts_sites"] = bts
    capex = changed * ctx.p("site_upgrade_usd") * ctx.usd * len(add)
    out = Outcome(changed={"bts_sites"})
    out.costs.append(CostLine(ctx.label, f"add {'/'.join(sorted(add))} to {changed} sites", changed, capex,
                              capex * ctx.p("opex_share_per_year")))
    out.extra = {"sites_upgraded": changed}
    out.notes.append(f"{'/'.join(sorted(add))} added to {changed} sites ({int(mask.sum()) - changed} had it)")
    return out


def check(chk: Checker, path: tuple, spec: dict) -> None:
    """Allow adding only 3G, 4G and 5G."""
    if isinstance(spec.get("add"), list):
        for j, tech in enumerate(spec["add"]):
            if str(tech).upper() not in ("4G", "5G", "3G"):
                chk.add((*path, "add", j), f"cannot add technology {tech!r} (4G, 5G)")


INTERVENTION = Intervention("upgrade_sites", {"add": list, "sites": SITE_SELECTION, "band_mhz": float},
                            apply_upgrade_sites, required=("add",), check=check,
                            order=20)

"""The ``retire`` intervention: a technology switched off (2G/3G sunset).

::

    - type: retire
      technology: 3G
"""

from __future__ import annotations

from ...io import Dataset
from ...layers import TECHNOLOGIES, parse_tech
from .._base import SITE_SELECTION, Context, Intervention, Outcome, need_layer, select_sites


def apply_retire(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Switch a technology off (2G/3G sunset); sites left with no technology are removed."""
    bts = need_layer(ds, "bts_sites", "retire").copy()
    drop = set(parse_tech(spec["technology"]))
    mask = select_sites(bts, spec.get("sites") or {}, communes=ds.get("communes"))
    before = [set(parse_tech(t)) for t in bts["tech"]]
    affected = int(sum(bool(chosen and drop & have) for chosen, have in zip(mask, before, strict=True)))
    bts["tech"] = [",".join(t for t in TECHNOLOGIES if t in (have - drop if chosen else have))
                   for chosen, have in zip(mask, before, strict=True)]
    empty = bts["tech"] == ""
    ds.layers["bts_sites"] = bts[~empty].copy()
    out = Outcome(changed={"bts_sites"})
    out.extra = {"sites_affected": affected, "sites_removed": int(empty.sum())}
    out.notes.append(f"{'/'.join(sorted(drop))} switched off; {int(empty.sum())} sites left with nothing removed")
    return out


INTERVENTION = Intervention("retire", {"technology": ("2G", "3G", "4G", "5G"), "sites": SITE_SELECTION}, apply_retire,
                            required=("technology",),
                            order=30)

"""Administrative structures: the official unit list and the 2025 reform.

Before 1 July 2025 Điện Biên had 10 districts and 129 commune-level units (115 xã, 9 phường, 5 thị trấn). NQ
1661/NQ-UBTVQH15 abolished districts and merged the units into 45 communes (42 xã, 3 phường); every new unit is a
union of whole old ones, so its boundary is the dissolve of theirs. Joins are on GSO codes, never on names
(spellings differ between sources).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

import geopandas as gpd
import pandas as pd

from ._errors import LayerError, Problem
from ._validate import match_codes_hint
from .layers import fold, split_commune_name

logger = logging.getLogger(__name__)

STRUCTURES = ("2019", "2025")

# Spelling variants seen between sources (folded): the GSO spelling first.
NAME_VARIANTS = {"huoi lech": "huoi lenh", "pu luong": "phu luong", "xa long": "sa long"}


@lru_cache(maxsize=1)
def units() -> pd.DataFrame:
    """Return the official list of Điện Biên's 129 pre-2025 units with their 2025 commune.

    Columns: code (GSO 5-digit), name, kind (xa/phuong/thi_tran), dist_code, district, nq1661_item,
    unit_2025 (name of the commune after 1 July 2025) and kind_2025.
    """
    text = resources.files("ictgis").joinpath("data/units_dienbien.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    frame = pd.DataFrame(rows).astype(str)
    frame["nq1661_item"] = frame["nq1661_item"].astype(int)
    return frame


def code_2025(item: int) -> str:
    """Return the id ictgis gives a 2025 commune: its item number in NQ 1661 (e.g. ``"NQ1661-44"``)."""
    return f"NQ1661-{int(item):02d}"


def aggregate_2025(communes: gpd.GeoDataFrame, *, file: str = "communes") -> gpd.GeoDataFrame:
    """Dissolve pre-2025 communes into the 45 communes of the 2025 structure.

    Parameters
    ----------
    communes
        Commune layer with GSO `code`, and optionally `population`, `households`, `radio`.
    file
        Name of the communes file, for error messages.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per 2025 commune: `code` (``NQ1661-NN``), `name`, `kind` (xa/phuong), summed `population` and
        `households`, `radio` and `radio_it` (any of its old units had one), `n_old` (old units merged) and `old_codes`.

    Raises
    ------
    LayerError
        If a commune code is not in the official list (the merge map is by code).
    """
    table = units().set_index("code")
    unknown = [(i, c) for i, c in enumerate(communes["code"]) if c not in table.index]
    if unknown:
        other = [c for _, c in unknown if not (isinstance(c, str) and len(c) == 5 and c.isdigit())]
        problems = []
        if other:  # another numbering, or no code: one problem for the file, with the command that fixes it
            detail = f"{len(other)} of {len(communes)}, e.g. {other[0]!r}"
            problems.append(Problem(file, f"{match_codes_hint(file, detail=detail)}; the 2025 structure is joined on "
                                    "GSO codes", column="code"))
        problems += [Problem(file, f"code {c!r} is not in the official list of the province's units; the 2025 "
                             "structure is joined on GSO codes", row=i + 1, column="code")
                     for i, c in unknown if c not in other]
        raise LayerError("cannot aggregate to the 2025 structure:", problems)
    frame = communes.copy()
    frame["_item"] = frame["code"].map(table["nq1661_item"])
    agg: dict[str, tuple[str, str]] = {"n_old": ("code", "size")}
    for column in ("population", "households"):
        if column in frame:
            frame[column] = frame[column].astype("Float64")
            agg[column] = (column, "sum")
    for column in ("radio", "radio_it"):
        if column in frame:
            frame[column] = frame[column].astype("boolean").fillna(False).astype(bool)
            agg[column] = (column, "any")
    stats = frame.groupby("_item").agg(**agg)
    stats["old_codes"] = frame.groupby("_item")["code"].apply(lambda s: ",".join(sorted(s)))
    geoms = frame[["_item", frame.geometry.name]].dissolve(by="_item")
    out = geoms.join(stats)
    names = table.reset_index().drop_duplicates("nq1661_item").set_index("nq1661_item")
    out["name"] = names.loc[out.index, "unit_2025"].to_numpy()
    out["kind"] = names.loc[out.index, "kind_2025"].to_numpy()
    out["code"] = [code_2025(i) for i in out.index]
    for column in ("population", "households"):
        if column in out:
            out[column] = out[column].round().astype("Int64")
    out = out.reset_index(drop=True)
    columns = ["code", "name", "kind", *[c for c in ("population", "households", "radio", "radio_it") if c in out],
               "n_old", "old_codes", out.geometry.name]
    return gpd.GeoDataFrame(out[columns], geometry=out.geometry.name, crs=communes.crs)


def match_gso_codes(communes: gpd.GeoDataFrame, *, district_column: str = "district") -> gpd.GeoDataFrame:
    """Give communes from another source their GSO codes, matching district and folded name.

    Names are compared without diacritics, prefixes and case, with the known spelling variants
    (Lếch/Lếnh, Pu/Phu Luông, Xá/Sa Lông). Without a `district_column`, the GSO district code `dist_code` is used,
    or else the name alone where it is unique in the province. Units that match nothing keep `code` None and are
    logged (``ictgis match-codes`` lists them with their rows).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with `code` (GSO) and `source_code` (the code it had).
    """
    out = communes.copy()
    out["source_code"] = out.get("code", None)
    if district_column in out:
        districts = out[district_column].tolist()
    elif "dist_code" in out:  # the GSO district code instead of its name
        table = units()
        names = dict(zip(table["dist_code"], table["district"], strict=True))
        districts = [names.get(str(c), "") for c in out["dist_code"]]
    else:  # no district: the name alone, when it is unique in the province
        districts = None
    matched = _codes_by_name(out["name"], districts)
    out["code"] = matched
    missing = [n for n, c in zip(out["name"], matched, strict=True) if c is None]
    if missing:
        logger.warning("no GSO code for %d communes: %s", len(missing), ", ".join(map(str, missing)))
    return out


def _name_key(district: str, name: str) -> tuple[str, str]:
    bare = fold(split_commune_name(name)[0])
    bare = NAME_VARIANTS.get(bare, bare)
    dist = fold(district)
    for prefix in ("thanh pho ", "thi xa ", "huyen "):
        dist = dist.removeprefix(prefix)
    return dist, bare


def _codes_by_name(names: Iterable[object], districts: Iterable[object] | None) -> list[str | None]:
    """GSO code of each (district, name), or of the name alone when it is unique in the list; else None."""
    table = units()
    lookup = {_name_key(d, n): c for d, n, c in zip(table["district"], table["name"], table["code"], strict=True)}
    # Some units moved between districts (four from Điện Biên to TP Điện Biên Phủ in 2022): fall back to the
    # name alone when it is unique in the province.
    by_name: dict[str, list[str]] = {}
    for k, c in lookup.items():
        by_name.setdefault(k[1], []).append(c)
    names = list(names)
    districts = [""] * len(names) if districts is None else list(districts)
    matched: list[str | None] = []
    for d, n in zip(districts, names, strict=True):
        if not isinstance(n, str) or not n.strip():
            matched.append(None)
            continue
        k = _name_key(str(d) if isinstance(d, str) else "", n)
        code = lookup.get(k)
        if code is None and len(by_name.get(k[1], [])) == 1:
            code = by_name[k[1]][0]
        matched.append(code)
    return matched


def kinds_from_gso(codes: Iterable[object], *, names: Iterable[object] | None = None,
                   districts: Iterable[object] | None = None) -> list[str | None]:
    """Return the kind (xa, phuong, thi_tran) of each unit from the official GSO list the package ships.

    A unit is found by its GSO code; failing that, when `names` are given and at least half of them are names of
    the list (the file is of this province), by district and name as in `match_gso_codes`.

    Parameters
    ----------
    codes
        Commune codes (5-digit GSO codes; others match nothing).
    names
        Commune names, with or without their prefix.
    districts
        District names beside `names`.

    Returns
    -------
    list
        The kind of each unit, None where it is not in the list.

    Examples
    --------
    >>> kinds_from_gso(["03124", "03316", "99999"])
    ['phuong', 'xa', None]
    """
    table = units()
    by_code = dict(zip(table["code"], table["kind"], strict=True))
    out = [by_code.get(c) if isinstance(c, str) else None for c in codes]
    if names is None or all(k is not None for k in out):
        return out
    names = list(names)
    by_name = _codes_by_name(names, districts)
    if 2 * sum(c is not None for c in by_name) < len(names):
        return out
    return [k if k is not None else by_code.get(c) if c else None for k, c in zip(out, by_name, strict=True)]


def missing_units(codes: Iterable[object]) -> pd.DataFrame | None:
    """Return the units of the official list whose GSO code is not among `codes`.

    Parameters
    ----------
    codes
        The commune codes of a file.

    Returns
    -------
    pandas.DataFrame or None
        Rows of :func:`units` missing from `codes`; None when fewer than half of `codes` are GSO codes of the list
        (codes of another numbering or another province: nothing can be said).
    """
    given = {str(c) for c in codes if c is not None and not (isinstance(c, float) and c != c)}
    table = units()
    known = given & set(table["code"])
    if not given or len(known) < len(given) / 2:
        return None
    return table[~table["code"].isin(known)].reset_index(drop=True)

"""Do villages lie in the commune they name? A warning listing those that do not.

A village file states each village's commune (``commune``, the GSO code). A village whose point lies outside the
polygon of that commune by more than ``settings.village_commune_tolerance_m`` (100 m: border villages digitised on
another base map sit a few tens of metres across the line) is listed with the commune it actually lies in and its
distance to the stated one. It is a warning, not an error: either the point or the code is wrong, and only the
person who knows the village can tell which; indicators per commune count the village in the commune it names.
"""

from __future__ import annotations

import logging
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import settings
from ._errors import PlacementWarning

logger = logging.getLogger(__name__)

#: Villages a warning's text names before "… and N more" (`PlacementWarning.rows` keeps them all).
MAX_NAMED = 20
COLUMNS = ["id", "name", "commune", "commune_name", "lies_in", "lies_in_name", "distance_m"]


def villages_outside_communes(villages: gpd.GeoDataFrame, communes: gpd.GeoDataFrame, *,
                              tolerance_m: float | None = None) -> pd.DataFrame:
    """List the villages lying farther than `tolerance_m` outside the commune they name.

    Parameters
    ----------
    villages
        Village points with ``commune`` (the stated commune code), in the communes' (projected) CRS.
    communes
        Commune polygons with ``code`` (and ``name``).
    tolerance_m
        How far outside its stated commune a village may lie (default ``settings.village_commune_tolerance_m``).

    Returns
    -------
    pandas.DataFrame
        One row per such village, in file order: ``id``, ``name``, ``commune``, ``commune_name``, ``lies_in`` (the
        code of the commune containing it, None when none does), ``lies_in_name``, ``distance_m`` (to the stated
        commune, rounded to the metre), and ``row`` (1-based, in the village file). Villages without a commune or
        naming an unknown one are left out (`ictgis.io.load` reports those).

    Examples
    --------
    >>> from ictgis import io
    >>> ds = io.load()  # doctest: +SKIP
    >>> villages_outside_communes(ds["villages"], ds["communes"]).empty  # doctest: +SKIP
    True
    """
    tolerance_m = settings.village_commune_tolerance_m if tolerance_m is None else float(tolerance_m)
    empty = pd.DataFrame(columns=[*COLUMNS, "row"])
    if "commune" not in villages or "code" not in communes or villages.empty:
        return empty
    polygons = dict(zip(communes["code"], communes.geometry, strict=True))
    names = dict(zip(communes["code"], communes["name"] if "name" in communes else communes["code"], strict=True))
    stated = villages["commune"].to_numpy(dtype=object)
    geoms = np.asarray(villages.geometry.values, dtype=object)
    known = np.array([c in polygons and g is not None and not shapely.is_empty(g)
                      for c, g in zip(stated, geoms, strict=True)])
    if not known.any():
        return empty
    idx = np.flatnonzero(known)
    targets = np.asarray([polygons[c] for c in stated[idx]], dtype=object)
    dist = shapely.distance(targets, geoms[idx])
    far = idx[dist > tolerance_m]
    if not len(far):
        return empty
    points = gpd.GeoDataFrame(geometry=list(geoms[far]), crs=villages.crs)
    inside = gpd.sjoin(points, communes[["code", communes.geometry.name]], how="left", predicate="within")
    inside = inside[~inside.index.duplicated(keep="first")]["code"].reindex(points.index)
    ids = villages["id"] if "id" in villages else pd.Series([None] * len(villages), index=villages.index)
    vnames = villages["name"] if "name" in villages else pd.Series([None] * len(villages), index=villages.index)
    rows = []
    for k, i in enumerate(far):
        lies_in = inside.iloc[k]
        lies_in = None if pd.isna(lies_in) else str(lies_in)
        rows.append({"id": _text(ids.iloc[i]), "name": _text(vnames.iloc[i]), "commune": str(stated[i]),
                     "commune_name": _text(names.get(stated[i])), "lies_in": lies_in,
                     "lies_in_name": _text(names.get(lies_in)) if lies_in else None,
                     "distance_m": int(round(float(dist[np.searchsorted(idx, i)]))), "row": int(i) + 1})
    return pd.DataFrame(rows, columns=[*COLUMNS, "row"])


def _text(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def describe(found: pd.DataFrame, *, label: str, tolerance_m: float | None = None) -> str:
    """Say in one warning which villages lie outside their commune (the first `MAX_NAMED` of them)."""
    tolerance_m = settings.village_commune_tolerance_m if tolerance_m is None else tolerance_m
    parts = []
    for rec in found.head(MAX_NAMED).itertuples(index=False):
        where = f"{rec.lies_in} {rec.lies_in_name or ''}".strip() if rec.lies_in else "no commune"
        parts.append(f"{rec.id} {rec.name or ''} (row {rec.row}, commune {rec.commune}) lies in {where}, "
                     f"{rec.distance_m / 1000:.2f} km from {rec.commune}")
    rest = len(found) - len(parts)
    more = f"; … and {rest} more" if rest > 0 else ""
    n = len(found)
    subject = f"{n} villages lie" if n > 1 else "1 village lies"
    whose = "they name" if n > 1 else "it names"
    return (f"{label}: {subject} more than {tolerance_m:g} m outside the commune {whose} (the point or the commune "
            "code is wrong): " + "; ".join(parts) + more)


def warn_outside(villages: gpd.GeoDataFrame, communes: gpd.GeoDataFrame, *, label: str,
                 tolerance_m: float | None = None) -> str | None:
    """Warn (`PlacementWarning`, with every village in ``rows``) when villages lie outside their commune.

    Returns
    -------
    str or None
        The warning's text, or None when every village lies in (or near) its commune.
    """
    found = villages_outside_communes(villages, communes, tolerance_m=tolerance_m)
    if found.empty:
        return None
    message = describe(found, label=label, tolerance_m=tolerance_m)
    logger.debug(message)  # the warning is the one copy the user sees (commands print it as one line)
    rows = [{"layer": "villages", **rec} for rec in found.to_dict("records")]
    warnings.warn(PlacementWarning(message, rows), stacklevel=2)
    return message

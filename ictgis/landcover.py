"""Land cover for coverage: classes, the loss at a receiver per class, and the canopy the trees add to the terrain.

An optional ``landcover.tif`` in the data folder holds one class per pixel, by default the ESA WorldCover 2021
codes (`WORLDCOVER`). It is brought onto the DEM grid (`read_landcover`: the most common class of the pixels in a
DEM cell when the land cover is finer, the nearest pixel otherwise) and turned into two grids:

- the **clutter loss** at a receiver in each cell (`loss_grid`, `loss_tables`): ``settings.landcover_loss_db`` per
  class — built-up 8 dB (ITU-R P.2108-style terminal clutter loss, at the low end of its range; applied to sites of
  the rural, open-area Hata formula only: the urban and suburban formulas are fitted among buildings already,
  ``settings.landcover_in_hata``), tree cover 12 dB (vegetation loss of a terminal
  inside woodland, in the range ITU-R P.833 §2.2 gives at 0.9–2 GHz), shrubland 4 dB, wetland 2 dB, open classes
  0 (sources and reasoning in ``docs/sources.md`` §3.3);
- the **canopy** added to the ground where trees stand (`canopy_grid`): ``settings.landcover_canopy_m`` per class
  (trees 15 m, ITU-R P.1812 Table 2) on the obstacle profile of the diffraction only; the site and the receiver
  keep their ground height (the receiver's own clutter is its clutter loss).

Other class tables are mapped onto these codes in ``layers.yaml``, and the losses and heights overridden per class::

    landcover:
      file: lop_phu.tif          # default landcover.tif
      classes: {1: 10, 2: 40, 3: 50}   # the file's codes → WorldCover codes
      loss_db: {10: 15}          # per WorldCover class, over settings.landcover_loss_db
      canopy_m: {10: 20}
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from . import settings
from ._errors import LayerError, Problem
from ._validate import Collector
from .terrain import Dem
from .terrain.dem import WARP_MEM_MB

__all__ = [
    "LANDCOVER_NAMES", "MIN_DEM_SHARE", "WORLDCOVER", "canopy_grid", "check_landcover", "class_table",
    "find_landcover", "landcover_spec", "loss_grid", "loss_tables", "read_landcover", "table_classes",
]

logger = logging.getLogger(__name__)

#: ESA WorldCover 2021 classes: code → (English, Vietnamese).
WORLDCOVER: dict[int, tuple[str, str]] = {
    10: ("tree cover", "rừng, cây gỗ"), 20: ("shrubland", "cây bụi"), 30: ("grassland", "đồng cỏ"),
    40: ("cropland", "đất trồng trọt, ruộng"), 50: ("built-up", "khu dân cư, xây dựng"),
    60: ("bare / sparse vegetation", "đất trống"), 70: ("snow and ice", "băng tuyết"),
    80: ("permanent water", "mặt nước"), 90: ("herbaceous wetland", "đất ngập nước"),
    95: ("mangroves", "rừng ngập mặn"),
    100: ("moss and lichen", "rêu, địa y"),
}
#: File names of the land cover in a data folder.
LANDCOVER_NAMES = ("landcover.tif", "landcover.tiff")
_SPEC_KEYS = {"file", "classes", "loss_db", "canopy_m"}
#: Share of the DEM's cells (with an elevation) below which a land cover is reported as partial.
MIN_DEM_SHARE = 0.5


def landcover_spec(mapping: dict, *, file: str = "layers.yaml") -> dict:
    """Check the ``landcover:`` section of a data folder's mapping; return it with integer class keys.

    Raises
    ------
    LayerError
        Naming the key of every value that is not a class code or a number.
    """
    spec = mapping.get("landcover") or {}
    if isinstance(spec, str):
        spec = {"file": spec}
    problems: list[Problem] = []
    if not isinstance(spec, dict):
        raise LayerError(f"{file}: landcover must be a file name or a mapping",
                         [Problem(file, "expected a file name or a mapping", column="landcover")])
    for key in set(spec) - _SPEC_KEYS:
        problems.append(Problem(file, f"unknown key '{key}' (known: {', '.join(sorted(_SPEC_KEYS))})",
                                column=f"landcover.{key}"))
    out: dict = {"file": spec.get("file")}
    for key in ("classes", "loss_db", "canopy_m"):
        table = spec.get(key) or {}
        if not isinstance(table, dict):
            problems.append(Problem(file, "expected a mapping class → value", column=f"landcover.{key}"))
            continue
        clean = {}
        for k, v in table.items():
            try:
                clean[int(k)] = int(v) if key == "classes" else float(v)
            except (TypeError, ValueError):
                problems.append(Problem(file, f"{k}: {v!r} is not a {'class code' if key == 'classes' else 'number'}",
                                        column=f"landcover.{key}.{k}"))
        out[key] = clean
    if problems:
        raise LayerError(f"{file}: invalid landcover settings", problems)
    return out


def find_landcover(data_dir: str | Path | None, spec: dict | None = None) -> Path | None:
    """Return the land-cover GeoTIFF of a data folder (``landcover.tif`` or ``landcover: file:``), or None."""
    if data_dir is None:
        return None
    data_dir = Path(data_dir)
    if spec and spec.get("file"):
        path = data_dir / spec["file"]
        if not path.exists():
            raise LayerError(f"{path.name}: land cover not found", [Problem(path.name, "file not found")])
        return path
    for name in LANDCOVER_NAMES:
        if (data_dir / name).exists():
            return data_dir / name
    return None


def table_classes(spec: dict | None) -> set[int]:
    """Class codes that ``layers.yaml`` gives a table for (``loss_db`` or ``canopy_m``): known beside WorldCover's."""
    spec = spec or {}
    return {int(k) for key in ("loss_db", "canopy_m") for k in (spec.get(key) or {})}


def read_landcover(path: str | Path, dem: Dem, *, classes: dict[int, int] | None = None,
                   extra_classes: set[int] | None = None) -> np.ndarray:
    """Read a land-cover raster onto the DEM grid (uint8 class codes, 0 where there is none).

    Parameters
    ----------
    path
        GeoTIFF of class codes (any CRS).
    dem
        The grid to bring it onto.
    classes
        The file's codes → WorldCover codes (codes not listed are kept).
    extra_classes
        Codes known beside WorldCover's (`table_classes`: those ``layers.yaml`` gives a loss or canopy for).

    Returns
    -------
    numpy.ndarray
        uint8 array of the DEM's shape.

    Raises
    ------
    LayerError
        The file cannot be read or has no CRS; it covers no cell of the DEM (another place, or a wrong CRS); it
        has codes (after `classes`) that are neither WorldCover classes nor in `extra_classes`.
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    path = Path(path)
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise LayerError(f"{path.name}: cannot be read", [Problem(path.name, f"cannot be read: {exc}")]) from None
    with src:
        if src.crs is None:
            raise LayerError(f"{path.name}: the land cover has no CRS", [Problem(path.name, "no CRS")])
        finer = abs(src.transform.a) < dem.resolution_m * 0.75 if src.crs.is_projected else True
        out = np.zeros(dem.shape, dtype=np.uint8)
        reproject(rasterio.band(src, 1), out, dst_transform=dem.transform, dst_crs=dem.crs.to_wkt()
                  if not dem.crs.to_epsg() else f"EPSG:{dem.crs.to_epsg()}",
                  dst_nodata=0, resampling=Resampling.mode if finer else Resampling.nearest,
                  num_threads=os.cpu_count() or 1,  # GDAL's warper threads; the classes do not depend on them
                  warp_mem_limit=WARP_MEM_MB)
        crs_name = src.crs.to_string()
        bounds = tuple(round(v, 3) for v in src.bounds)
    if classes:
        lut = np.arange(256, dtype=np.uint8)
        for k, v in classes.items():
            if 0 <= k < 256 and 0 <= v < 256:
                lut[k] = v
        out = lut[out]
    if not out.any():
        dem_crs = f"EPSG:{dem.crs.to_epsg()}" if dem.crs.to_epsg() else dem.crs.name
        raise LayerError(f"{path.name}: the land cover covers none of the DEM", [Problem(
            path.name, f"covers none of the DEM: its extent {bounds} in {crs_name} does not overlap the DEM's "
            f"{tuple(round(v, 1) for v in dem.bounds)} in {dem_crs} (another area, or a wrong CRS?)")])
    present = np.flatnonzero(np.bincount(out.ravel(), minlength=256))
    unknown = [int(k) for k in present if k and k not in WORLDCOVER and k not in (extra_classes or set())]
    if unknown:
        listed = ", ".join(map(str, unknown[:20])) + (" …" if len(unknown) > 20 else "")
        raise LayerError(f"{path.name}: classes that are not ESA WorldCover codes", [Problem(
            path.name, f"classes {listed} are not ESA WorldCover codes ({', '.join(map(str, WORLDCOVER))}): map "
            "them with `landcover: classes: {code: WorldCover code}` in layers.yaml, or give their `loss_db` and "
            "`canopy_m` there", column="class")])
    return out


def check_landcover(data_dir: str | Path, dem: Dem | None, *, mapping: dict | None = None,
                    collector: Collector) -> list[str]:
    """Check a data folder's land cover as ``ictgis coverage`` reads it (for ``ictgis validate``).

    The ``landcover:`` settings of ``layers.yaml`` (`landcover_spec`), the file (`find_landcover`) and its
    reading onto the DEM grid (`read_landcover`: CRS, extent, class codes); every problem goes to `collector`.

    Returns
    -------
    list of str
        Warnings: the land cover covers less than `MIN_DEM_SHARE` of the DEM.
    """
    mapping = mapping or {}
    label = Path(mapping.get("_path", "layers.yaml")).name
    try:
        spec = landcover_spec(mapping, file=label) if mapping else {}
        path = find_landcover(data_dir, spec)
        if path is None or dem is None:
            return []
        grid = read_landcover(path, dem, classes=spec.get("classes"), extra_classes=table_classes(spec))
    except LayerError as exc:
        collector.problems.extend(exc.problems)
        return []
    valid = ~np.isnan(dem.elevation)
    share = float((grid[valid] > 0).mean()) if valid.any() else 1.0
    if share < MIN_DEM_SHARE:
        return [f"{path.name} covers {100 * share:.0f} % of the DEM: cells without land cover get no clutter loss "
                "nor canopy"]
    return []


def class_table(defaults: dict[int, float], *overrides: dict | None) -> dict[int, float]:
    """Per-class values: `defaults`, then each override in turn (class code → value; codes as int)."""
    table = {int(k): float(v) for k, v in defaults.items()}
    for extra in overrides:
        table.update({int(k): float(v) for k, v in (extra or {}).items()})
    return table


def _grid(classes: np.ndarray, table: dict[int, float]) -> np.ndarray:
    lut = np.zeros(256, dtype=np.float32)
    for k, v in table.items():
        if 0 <= k < 256:
            lut[k] = v
    return lut[classes]


def loss_tables(loss_db: dict[int, float], environments: np.ndarray, *,
                offsets_db: dict[int, float] | None = None) -> np.ndarray:
    """Clutter loss by class (n × 256, dB) for transmitters of the given Hata environments.

    The classes of ``settings.landcover_in_hata`` for an environment (built-up for urban and suburban Hata, whose
    formulas are fitted to measurements among buildings) add no clutter loss to its transmitters. `offsets_db` (a
    calibration's ``landcover_db``, class → dB) is then added to every transmitter's loss of the class: it corrects
    the model as a whole at receivers of that class, whatever serves them.
    """
    out = np.zeros((len(environments), 256))
    base = np.zeros(256)
    for k, v in loss_db.items():
        if 0 <= k < 256:
            base[k] = v
    for name in set(environments):
        row = base.copy()
        row[list(settings.landcover_in_hata.get(name, ()))] = 0.0
        for k, v in (offsets_db or {}).items():
            if 0 <= int(k) < 256:
                row[int(k)] += float(v)
        out[np.asarray(environments) == name] = row
    return out


def loss_grid(classes: np.ndarray, loss_db: dict[int, float] | None = None) -> np.ndarray:
    """Clutter loss (dB, float32) at a receiver in every cell: `loss_db` (default ``settings.landcover_loss_db``)."""
    return _grid(classes, settings.landcover_loss_db if loss_db is None else loss_db)


def canopy_grid(classes: np.ndarray, canopy_m: dict[int, float] | None = None) -> np.ndarray:
    """Canopy height (m, float32) of every cell: `canopy_m` (default ``settings.landcover_canopy_m``)."""
    return _grid(classes, settings.landcover_canopy_m if canopy_m is None else canopy_m)

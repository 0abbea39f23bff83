"""Coverage outputs: GeoTIFFs, CSV tables, the summary JSON, a KMZ for Google Earth and PNG overlays for maps.

Every writer takes a :class:`~ictgis.coverage.model.CoverageResult`; the colours are the `RSRP_CLASSES`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .._files import atomic_dir, atomic_path
from ..sheets import write_csv
from ..terrain import write_raster
from .model import CoverageResult

__all__ = ["NO_SIGNAL_DBM", "RSRP_CLASSES", "colorize", "overlay_png", "write", "write_kmz"]

#: Nodata of ``rsrp_<tech>.tif``: cells where no site rises above the run's floor (``floor_dbm`` of the summary).
NO_SIGNAL_DBM = -9999.0
#: RSRP classes (lower bound in dBm, RGBA) of the map overlays, strongest first; the weakest ends at the default
#: floor of a run (−115 dBm: the threshold less `RADIUS_MARGIN_DB`), below which nothing is computed.
RSRP_CLASSES = ((-80.0, (0, 104, 55, 210)), (-90.0, (26, 152, 80, 200)), (-100.0, (102, 189, 99, 190)),
                (-110.0, (217, 239, 139, 180)), (-115.0, (254, 224, 139, 150)))


def colorize(rsrp: np.ndarray, *, threshold_dbm: float) -> np.ndarray:
    """RGBA image of RSRP classes (≥ −80, −90, −100, −110, −115 dBm); transparent below −115 or where no signal."""
    from ..rasterpng import classify

    return classify(rsrp, RSRP_CLASSES)


def write(result: CoverageResult, out_dir: str | Path, *, kmz: bool = True) -> Path:
    """Write the coverage outputs into `out_dir` atomically (temporary folder, then renamed).

    Files: ``rsrp_<tech>.tif`` (best-server dBm, float32, tiled, overviews), ``server_<tech>.tif`` (index of
    the serving cell, -1 none; int16, int32 beyond 32,767 transmitters) with ``servers_<tech>.csv`` (index → site
    id and cell id; the cell id is the site id of an omnidirectional site), ``villages_<tech>.csv``,
    ``communes_<tech>.csv``, ``summary_<tech>.json`` and ``coverage_<tech>.kmz`` (PNG overlay for Google Earth).
    """
    out_dir = Path(out_dir)
    tag = result.technology.lower()
    with atomic_dir(out_dir, merge=True) as tmp:
        # NaN (no site above the floor) is written as NO_SIGNAL_DBM by write_raster
        write_raster(tmp / f"rsrp_{tag}.tif", result.rsrp_dbm, result.dem, nodata=NO_SIGNAL_DBM, dtype="float32")
        # int16 while the transmitters fit (half the bytes to compress and read; the indices are the same)
        server_type = "int16" if len(result.site_ids) <= np.iinfo(np.int16).max else "int32"
        write_raster(tmp / f"server_{tag}.tif", result.server, result.dem, nodata=-1, dtype=server_type)
        write_csv(pd.DataFrame({"index": range(len(result.site_ids)), "site_id": result.site_ids,
                                "cell_id": result.cell_ids or result.site_ids}),
                  tmp / f"servers_{tag}.csv")
        write_csv(result.villages, tmp / f"villages_{tag}.csv")
        write_csv(result.communes, tmp / f"communes_{tag}.csv")
        (tmp / f"summary_{tag}.json").write_text(json.dumps(result.summary, ensure_ascii=False, indent=2),
                                                 encoding="utf-8")
        if kmz:
            write_kmz(result, tmp / f"coverage_{tag}.kmz")
    return out_dir


def write_kmz(result: CoverageResult, path: Path, *, max_size: int = 4096) -> Path:
    """Write a KMZ with the RSRP classes as a PNG ground overlay in EPSG:4326 (for Google Earth).

    The PNG is paletted (one byte a pixel, the class colours with their alpha in PLTE/tRNS): the pixels are those
    of ``classify`` on the grid warped with ``max`` (`ictgis.rasterpng.warp_classes`: each pixel the class of the
    best RSRP of the cells it covers), for a quarter of the bytes to warp, colour and encode. Its longer side is at
    most `max_size` pixels.
    """
    import zipfile

    from ..rasterpng import class_palette, encode_png, warp_classes

    index, transform = warp_classes(result.rsrp_dbm, RSRP_CLASSES, transform=result.dem.transform,
                                    crs=result.dem.crs, dst_crs="EPSG:4326", max_px=max_size)
    height, width = index.shape
    png = encode_png(index, colormap=class_palette(RSRP_CLASSES))
    west, north = transform.c, transform.f
    east, south = west + width * transform.a, north + height * transform.e
    name = f"{result.technology} RSRP ≥ {result.threshold_dbm:g} dBm"
    kml = f"""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>{name}</name>
<GroundOverlay><name>{name}</name><color>ffffffff</color><Icon><href>rsrp.png</href></Icon>
<LatLonBox><north>{north:.6f}</north><south>{south:.6f}</south><east>{east:.6f}</east><west>{west:.6f}</west></LatLonBox>
</GroundOverlay></Document></kml>
"""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("doc.kml", kml)
        zf.writestr("rsrp.png", png)
    return path



def overlay_png(result: CoverageResult, *, max_px: int = 1600) -> tuple[bytes, list[list[float]]]:
    """RSRP classes of a result as a PNG aligned with Leaflet (EPSG:3857), and ``[[south, west], [north, east]]``."""
    from ..rasterpng import classed_png

    return classed_png(result.rsrp_dbm, transform=result.dem.transform, crs=result.dem.crs, classes=RSRP_CLASSES,
                       dst_crs="EPSG:3857", max_px=max_px, resampling="max")

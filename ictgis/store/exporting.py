"""Export a state of the store as a plain data folder that `ictgis.io.load` reads back to the same dataset."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from .._files import atomic_dir
from ..io import write_layer


def export(store, out_dir, *, as_of=None) -> Path:
    """Write ``<layer>.gpkg``, ``dem.tif``, ``landcover.tif``, ``cells.csv``, ``layers.yaml`` (`Store.export`).

    GDAL stamps each GeoPackage with the time it was written; the stamp is set to the changeset's time instead,
    so exporting one state twice gives identical files.
    """
    number = store.resolve(as_of)
    ds = store.dataset(number)
    stamp = store.changeset(number).time.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        for name, frame in ds.layers.items():
            path = write_layer(frame, tmp / f"{name}.gpkg", layer=name)
            with sqlite3.connect(path) as db:
                db.execute("UPDATE gpkg_contents SET last_change = ?", (stamp,))
            db.close()
        if ds.dem_path is not None:
            shutil.copyfile(ds.dem_path, tmp / "dem.tif")
        if ds.landcover_path is not None:
            shutil.copyfile(ds.landcover_path, tmp / "landcover.tif")
        if ds.cells is not None:
            ds.cells.to_csv(tmp / "cells.csv", index=False, lineterminator="\n", encoding="utf-8")
        if ds.area_km2 is not None:
            (tmp / "layers.yaml").write_text(f"area_km2: {ds.area_km2!r}\n", encoding="utf-8")
    return out_dir

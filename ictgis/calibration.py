"""Calibration of the coverage model against measured signal levels (drive tests, crowdsourced measurements).

``ictgis calibrate`` reads measured points, predicts the level at each with the model the coverage map uses, fits
path-loss offsets per environment and per land-cover class, and writes ``calibration.json``, a scatter plot and a
residuals layer. ``ictgis coverage --calibration FILE`` (and ``calibration:`` in scenario parameters) applies it.

Predictions
    The uncalibrated best-server RSRP **raster** (``ictgis.coverage.compute`` with all offsets 0) is sampled at the
    cell holding each point: the value the coverage map and the village table show, with the serving site the
    phone would camp on (drive-test tools log the serving cell's level). The point-to-point model
    (:func:`ictgis.coverage.coverage_matrix`) gives the same within a few dB but would need the serving site of every
    point; sampling keeps "what was calibrated" identical to "what is mapped".
Groups
    The environment of a point is that of its serving site (the environment's offset is added to that site's
    path loss, `ictgis.coverage.loss_coefficients`); its land-cover class is that of the data folder's land cover
    (``landcover.tif``, :func:`ictgis.landcover.read_landcover`) in the DEM cell of the point (ESA WorldCover
    codes: 10 tree cover, 20 shrubland, 30 grassland, 40 cropland, 50 built-up, 60 bare, 80 water, 90 wetland …),
    when there is one. Land-cover offsets are receiver-side: they are added to the clutter loss of their class for
    every transmitter (:func:`ictgis.landcover.loss_tables`), whatever serves the cell.
Fit
    With e = predicted − measured (dB; > 0: the model is too optimistic), the offsets θ (one per environment, added
    to the sites' path loss) and φ (one per land-cover class, added at the receiver) minimise
    ``Σ (e_i − θ_env(i) − φ_class(i))² + λ (Σ θ² + Σ φ²)`` (ridge regression; λ =
    ``settings.calibration_ridge_points``, 10) under ``Σ_c n_c φ_c = 0`` (the classes' offsets average to 0 over
    the points: without it a constant moves freely between the two groupings; the environments take the common
    level, the classes the differences). With environments only, θ_g = Σ e / (n_g + λ), as if each group had λ
    more points with no error: a group of 3 points keeps 3/13 of its mean error, one of 300 keeps 97 %. The
    cross-validated RMSE (k folds, 5 by default, shuffled with a fixed seed) is the error to
    expect on new measurements; "after" is the in-sample RMSE of the fitted offsets applied linearly to the
    predictions (a change of server by the offsets is not followed).
Excluded points
    Levels below ``settings.measurement_floor_dbm`` (−140 dBm, the lowest RSRP a phone reports) and points where no
    site of the technology reaches (the raster has no value, or the point lies outside the DEM) are counted apart
    and left out of the fit.

Acceptance: an RMSE of ≤ 8 dB after calibration is the usual level for a calibrated macro-cell model; the file
reports the figure and whether it is met, it does not assume it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from . import settings
from ._errors import LayerError, Problem
from ._files import atomic_dir
from ._validate import Collector
from .layers import fold

logger = logging.getLogger(__name__)

__all__ = [
    "ACCEPTANCE_RMSE_DB", "FORMAT", "LEVEL_NAMES", "Calibration", "calibrate", "cross_validated_rmse", "fit_offsets",
    "read_calibration", "read_measurements",
]

FORMAT = "ictgis-calibration/1"
#: Usual acceptance level of a calibrated macro model (RMSE, dB).
ACCEPTANCE_RMSE_DB = 8.0
#: Accepted names of the measured level (folded: lower case, no diacritics, "_" as space).
LEVEL_NAMES = ("rsrp dbm", "rsrp", "level", "signal dbm", "rxlev", "rscp", "ss rsrp", "muc thu")
_OPTIONAL = {"cell": ("cell", "cell id", "cellid", "ci", "eci", "ecgi", "pci"), "site": ("site", "site id", "bts",
                                                                                          "enodeb", "gnodeb"),
             "operator": ("operator", "network", "nha mang", "mnc"),
             "time": ("time", "timestamp", "datetime", "date time", "thoi gian")}
_VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb", ".kml")


@dataclass(frozen=True)
class Calibration:
    """Offsets added to the path loss, read from a ``calibration.json`` (`read_calibration`).

    Attributes
    ----------
    environment_db
        Per environment ("urban", "suburban", "rural" …), added to each site's loss.
    landcover_db
        Per land-cover class code, added to the loss at receivers of that class.
    name, sha256
        File name and SHA-256 of the file (recorded in the coverage summary).
    technology
        The technology it was fitted for.
    """

    environment_db: dict[str, float]
    landcover_db: dict[int, float] = field(default_factory=dict)
    name: str = ""
    sha256: str = ""
    technology: str = ""

    def describe(self) -> dict:
        """Return what a coverage summary records: file, hash, technology and offsets."""
        return {"file": self.name, "sha256": self.sha256, "technology": self.technology,
                "environment_db": self.environment_db,
                "landcover_db": {str(k): v for k, v in self.landcover_db.items()}}


def read_calibration(path: str | Path) -> Calibration:
    """Read a ``calibration.json`` written by ``ictgis calibrate``.

    Raises
    ------
    LayerError
        When the file is missing, not JSON, or its offsets are not numbers.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
        doc = json.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LayerError("unreadable calibration", [Problem(path.name, f"not a calibration.json: {exc}")]) from None
    problems = []
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        problems.append(Problem(path.name, f"not a calibration file (expected \"format\": \"{FORMAT}\")"))
        raise LayerError("unreadable calibration", problems)
    env, lc = doc.get("environment_db") or {}, doc.get("landcover_db") or {}
    for key, table in (("environment_db", env), ("landcover_db", lc)):
        if not isinstance(table, dict):
            problems.append(Problem(path.name, f"{key} must be an object of numbers", column=key))
            continue
        for k, v in table.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                problems.append(Problem(path.name, f"{key}.{k} is {v!r}, expected a number of dB", column=key))
            elif key == "landcover_db" and not str(k).isdigit():
                problems.append(Problem(path.name, f"land-cover class {k!r} is not a class code", column=key))
    if problems:
        raise LayerError("invalid calibration", problems)
    return Calibration({str(k): float(v) for k, v in env.items()}, {int(k): float(v) for k, v in lc.items()},
                       name=path.name, sha256=hashlib.sha256(data).hexdigest(),
                       technology=str(doc.get("technology", "")))


# ------------------------------------------------------------------------------------------------ measurements
def read_measurements(path: str | Path, *, crs: object = None) -> gpd.GeoDataFrame:
    """Read measured points: CSV/XLSX with lon/lat (or x/y and `crs`) or a point layer (GPKG …), and a level.

    The level column is ``rsrp_dbm`` or one of its aliases (`LEVEL_NAMES`: Level, RSRP, rsrp, signal_dbm …);
    optional ``cell``, ``site``, ``operator``, ``time`` are kept. CSV as Excel writes it (``;`` and decimal
    commas, legacy encodings) is read by :func:`ictgis.tables.read_table`.

    Parameters
    ----------
    path
        The measurements file.
    crs
        CRS of x/y columns of a table (lon/lat are EPSG:4326; a vector layer has its own).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``rsrp_dbm`` (float), the optional ones found, and point geometries, in the file's CRS.

    Raises
    ------
    LayerError
        One error listing every problem: no level column, levels or coordinates that are not numbers (row and
        column named), no CRS, geometries that are not points.
    """
    from .tables import parse_decimal, points_from_table, read_table

    path = Path(path)
    label = path.name
    col = Collector()
    decimal_comma = False
    if not path.exists():
        raise LayerError("measurements not found", [Problem(label, "file not found")])
    if path.suffix.lower() in _VECTOR_SUFFIXES:
        try:
            frame = gpd.read_file(path)
        except Exception as exc:  # noqa: BLE001 - pyogrio raises several types for unreadable files
            raise LayerError("unreadable measurements", [Problem(label, str(exc))]) from None
        if frame.crs is None:
            col.add(label, "the layer has no CRS")
        bad = ~frame.geometry.geom_type.isin(["Point"]) | frame.geometry.is_empty
        for i in np.flatnonzero(bad.to_numpy()):
            col.add(label, "geometry is not a point", row=int(i) + 1, column="geometry")
        points = frame
    else:
        table = read_table(path, collector=col, label=label)
        if table is None:
            col.raise_if_any(label)
            raise AssertionError("read_table gives a table or collects a problem")
        points = points_from_table(table, crs=crs, collector=col, label=label)
        decimal_comma = table.decimal_comma
        if points is not None and points.crs is None:
            col.add(label, "x/y columns need a CRS (--measurements-crs, e.g. EPSG:9205); or give lon/lat")
    if points is None:
        col.raise_if_any(label)
    folded = {fold(c): c for c in points.columns if c != points.geometry.name}
    level_col = next((folded[n] for n in LEVEL_NAMES if n in folded), None)
    if level_col is None:
        col.add(label, "no signal level column: expected rsrp_dbm (or Level, RSRP, signal_dbm); columns: "
                + ", ".join(map(str, folded.values())))
        col.raise_if_any(label)
    raw = points[level_col]
    text = raw.astype(str).map(lambda v: parse_decimal(v, decimal_comma=decimal_comma))
    level = pd.to_numeric(text.str.replace(",", ".", regex=False).str.strip(), errors="coerce")
    for i in np.flatnonzero(level.isna().to_numpy()):
        col.add(label, f"level {raw.iloc[i]!r} is not a number of dBm", row=int(i) + 1, column=str(level_col))
    for i in np.flatnonzero(((level < -200) | (level > 0)).to_numpy()):
        col.add(label, f"level {raw.iloc[i]!r} is outside −200…0 dBm", row=int(i) + 1, column=str(level_col))
    col.raise_if_any(label)
    out = gpd.GeoDataFrame({"rsrp_dbm": level.to_numpy(dtype=float)}, geometry=points.geometry.to_numpy(),
                           crs=points.crs)
    for name, aliases in _OPTIONAL.items():
        found = next((folded[n] for n in aliases if n in folded), None)
        if found is not None:
            out[name] = points[found].astype(str).to_numpy()
    return out



# ----------------------------------------------------------------------------------------------------- the fit
def fit_offsets(error_db: np.ndarray, environments: np.ndarray, landcover: np.ndarray | None = None, *,
                ridge_points: float | None = None) -> tuple[dict[str, float], dict[int, float]]:
    """Least-squares offsets per environment and land-cover class, ridge-regularised (see the module docstring).

    Parameters
    ----------
    error_db
        predicted − measured level at each point (dB).
    environments
        Environment of each point (its serving site's).
    landcover
        Land-cover class of each point (-1: none, no class offset), or None.
    ridge_points
        λ: each offset is pulled towards 0 as if its group had λ more points with no error (default
        ``settings.calibration_ridge_points``).

    Returns
    -------
    (dict, dict)
        Offsets per environment and per class (dB, added to the path loss).
    """
    lam = settings.calibration_ridge_points if ridge_points is None else float(ridge_points)
    e = np.asarray(error_db, dtype=float)
    env = np.asarray(environments, dtype=object)
    groups = sorted(set(env))
    lc = None if landcover is None else np.asarray(landcover)
    classes = [] if lc is None else [int(c) for c in sorted(set(lc.tolist())) if c >= 0]
    x = np.column_stack([env == g for g in groups] + [lc == c for c in classes]).astype(float)
    p, q = len(groups), len(classes)
    # KKT system of the ridge least squares with the linear constraint Σ n_c φ_c = 0 (none without classes)
    m = p + q + (1 if q else 0)
    a = np.zeros((m, m))
    a[:p + q, :p + q] = x.T @ x + lam * np.eye(p + q)
    rhs = np.zeros(m)
    rhs[:p + q] = x.T @ e
    if q:
        counts = x[:, p:].sum(axis=0)
        a[-1, p:p + q] = counts
        a[p:p + q, -1] = counts
    beta = np.linalg.lstsq(a, rhs, rcond=None)[0]  # = solve() when λ > 0; also well defined with λ = 0
    env_db = {str(g): round(float(beta[i]), 2) for i, g in enumerate(groups)}
    lc_db = {c: round(float(beta[p + i]), 2) for i, c in enumerate(classes)}
    return env_db, lc_db


def _applied(error_db, environments, landcover, env_db, lc_db) -> np.ndarray:
    shift = np.array([env_db.get(str(v), 0.0) for v in environments], dtype=float)
    if landcover is not None:
        shift += np.array([lc_db.get(int(c), 0.0) for c in landcover], dtype=float)
    return np.asarray(error_db, dtype=float) - shift


def _stats(error_db: np.ndarray) -> dict:
    e = np.asarray(error_db, dtype=float)
    if e.size == 0:
        return {"mean_error_db": None, "rmse_db": None, "std_db": None}
    return {"mean_error_db": round(float(e.mean()), 2), "rmse_db": round(float(np.sqrt(np.mean(e * e))), 2),
            "std_db": round(float(e.std()), 2)}


def cross_validated_rmse(error_db, environments, landcover=None, *, folds: int = 5,
                         ridge_points: float | None = None, seed: int = 0) -> float | None:
    """RMSE of k-fold cross-validation: each fold's errors after offsets fitted on the other folds.

    Points are shuffled with a fixed `seed`; fewer points than `folds` gives leave-one-out; None under 2 points.
    """
    e = np.asarray(error_db, dtype=float)
    n = e.size
    if n < 2:
        return None
    env = np.asarray(environments, dtype=object)
    lc = None if landcover is None else np.asarray(landcover)
    k = min(int(folds), n)
    order = np.random.default_rng(seed).permutation(n)
    held = np.empty(n)
    for part in np.array_split(order, k):
        train = np.setdiff1d(order, part)
        env_db, lc_db = fit_offsets(e[train], env[train], None if lc is None else lc[train],
                                    ridge_points=ridge_points)
        held[part] = _applied(e[part], env[part], None if lc is None else lc[part], env_db, lc_db)
    return round(float(np.sqrt(np.mean(held * held))), 2)


# ----------------------------------------------------------------------------------------------------- calibrate
def calibrate(ds, measurements: str | Path, out_dir: str | Path, *, technology: str = "4G",
              measurements_crs: object = None, resolution_m: float | None = None, floor_dbm: float | None = None,
              ridge_points: float | None = None, folds: int = 5, progress=None) -> dict:
    """Fit the model's offsets to measured levels and write ``calibration.json``, a scatter PNG, a residuals layer.

    Parameters
    ----------
    ds
        The data folder (:class:`ictgis.io.Dataset`) with sites, communes and a DEM (and optionally
        ``landcover.tif``).
    measurements
        CSV/XLSX/GPKG of measured points (`read_measurements`).
    out_dir
        Output folder (written atomically): ``calibration.json``, ``residuals.gpkg``, ``calibration_scatter.png``
        (when matplotlib is installed).
    technology, resolution_m
        As for :func:`ictgis.coverage.compute` (the raster the predictions are sampled from).
    measurements_crs
        CRS of x/y columns in a table.
    floor_dbm, ridge_points
        Measurement floor (default ``settings.measurement_floor_dbm``) and ridge λ
        (``settings.calibration_ridge_points``).
    folds
        Folds of the cross-validation.
    progress
        Passed to :func:`ictgis.coverage.compute`.

    Returns
    -------
    dict
        The content of ``calibration.json``.

    Raises
    ------
    LayerError
        Bad measurements (every problem listed), or no point left to fit.
    """
    from . import landcover as lc
    from . import radio
    from .coverage import compute, site_environment, sites_of
    from .io import read_mapping

    measurements = Path(measurements)
    floor = settings.measurement_floor_dbm if floor_dbm is None else float(floor_dbm)
    lam = settings.calibration_ridge_points if ridge_points is None else float(ridge_points)
    points = read_measurements(measurements, crs=measurements_crs).to_crs(ds.crs)
    # predicted down to the measurement floor: a point measured at −125 dBm where the model says −130 is a residual
    # to fit, not a point out of reach (the default floor of a coverage run is −115 dBm)
    result = compute(ds, technology=technology, resolution_m=resolution_m,
                     floor_dbm=min(floor, settings.rsrp_threshold_dbm),
                     calibration_db=dict.fromkeys(radio.CALIBRATION_DB, 0.0), progress=progress)
    dem = result.dem
    rows, cols = dem.cell_of(points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
    inside = (rows >= 0) & (rows < dem.shape[0]) & (cols >= 0) & (cols < dem.shape[1])
    predicted = np.full(len(points), np.nan)
    server = np.full(len(points), -1)
    predicted[inside] = result.rsrp_dbm[rows[inside], cols[inside]]
    server[inside] = result.server[rows[inside], cols[inside]]
    measured = points["rsrp_dbm"].to_numpy()
    below = measured < floor
    unreached = ~below & (np.isnan(predicted) | (server < 0))
    used = ~below & ~unreached
    sites = sites_of(ds, technology)
    env_by_id = dict(zip(sites["id"].astype(str), site_environment(sites, ds["communes"]), strict=True))
    # the server raster numbers transmitters (one per cell of a sectored site): their site's environment
    environment = np.array([env_by_id[result.site_ids[s]] if s >= 0 else None for s in server], dtype=object)
    # the classes the coverage saw: the land cover on the DEM grid (layers.yaml's class mapping applied)
    mapping = read_mapping(Path(ds.data_dir), Collector()) if ds.data_dir is not None else {}
    spec = lc.landcover_spec(mapping) if mapping else {}
    lc_path = lc.find_landcover(ds.data_dir, spec)
    landcover = None
    if lc_path is not None:
        grid = lc.read_landcover(lc_path, dem, classes=spec.get("classes"), extra_classes=lc.table_classes(spec))
        landcover = np.full(len(points), -1, dtype=np.int64)
        landcover[inside] = grid[rows[inside], cols[inside]]
        landcover[landcover == 0] = -1
    if not used.any():
        raise LayerError("no measurement to calibrate with", [Problem(measurements.name, (
            f"{int(below.sum())} level(s) below the floor of {floor:g} dBm and {int(unreached.sum())} point(s) that no "
            f"{technology.upper()} site reaches, of {len(points)}"))])
    error = predicted - measured
    lc_used = None if landcover is None else landcover[used]
    env_db, lc_db = fit_offsets(error[used], environment[used], lc_used, ridge_points=lam)
    after = np.full(len(points), np.nan)
    after[used] = _applied(error[used], environment[used], lc_used, env_db, lc_db)
    cv = cross_validated_rmse(error[used], environment[used], lc_used, folds=folds, ridge_points=lam)
    before_stats, after_stats = _stats(error[used]), _stats(after[used])
    doc = {
        "format": FORMAT, "technology": technology.upper(),
        "measurements": {"file": measurements.name,
                         "sha256": hashlib.sha256(measurements.read_bytes()).hexdigest()},
        "prediction": "uncalibrated best-server RSRP raster sampled at the cell of each point "
                      f"({dem.resolution_m:g} m); error = predicted − measured",
        "model": result.summary["model"]["path_loss"],
        "floor_dbm": floor, "ridge_points": lam, "folds": folds,
        "counts": {"read": len(points), "used": int(used.sum()), "below_floor": int(below.sum()),
                   "out_of_reach": int(unreached.sum())},
        "environment_db": env_db, "landcover_db": {str(k): v for k, v in lc_db.items()},
        "points": {"environment": {k: int(np.sum(environment[used] == k)) for k in env_db},
                   "landcover": {str(k): int(np.sum(lc_used == k)) for k in lc_db}},
        "before": before_stats, "after": after_stats, "cross_validated_rmse_db": cv,
        "acceptance": {"rmse_db_max": ACCEPTANCE_RMSE_DB,
                       "met": cv is not None and cv <= ACCEPTANCE_RMSE_DB,
                       "note": "judged on the cross-validated RMSE"},
        "landcover": lc_path.name if landcover is not None and lc_path is not None else None,
    }
    site_ids = result.site_ids
    residuals = gpd.GeoDataFrame({
        "measured_dbm": measured, "predicted_dbm": np.round(predicted, 2),
        "calibrated_dbm": np.round(measured + after, 2), "error_db": np.round(error, 2),
        "error_after_db": np.round(after, 2),
        "status": np.where(below, "below_floor", np.where(unreached, "out_of_reach", "used")),
        "serving_site": [site_ids[s] if s >= 0 else None for s in server],
        "environment": environment, "landcover": landcover if landcover is not None else -1,
    }, geometry=points.geometry.to_numpy(), crs=points.crs)
    for name in _OPTIONAL:
        if name in points:
            residuals[name] = points[name].to_numpy()
    with atomic_dir(out_dir) as tmp:
        residuals.to_file(tmp / "residuals.gpkg", layer="residuals", driver="GPKG")
        doc["scatter_png"] = _scatter(tmp / "calibration_scatter.png", measured[used], predicted[used],
                                      measured[used] + after[used], doc)
        (tmp / "calibration.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    return doc


def _scatter(path: Path, measured, before, after, doc) -> str | None:
    """Predicted vs measured (before and after), or None with a log message without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        logger.warning("no scatter plot: matplotlib is not installed (pip install \"ictgis[plot]\")")
        return None
    fig = Figure(figsize=(6, 6), layout="constrained")
    ax = fig.add_subplot()
    lo = float(np.nanmin([measured.min(), before.min(), after.min()])) - 3
    hi = float(np.nanmax([measured.max(), before.max(), after.max()])) + 3
    ax.plot([lo, hi], [lo, hi], color="#555555", lw=1, label="predicted = measured")
    ax.scatter(measured, before, s=8, alpha=0.5, color="#c0392b",
               label=f"before: RMSE {doc['before']['rmse_db']} dB")
    ax.scatter(measured, after, s=8, alpha=0.5, color="#1f4e9c", label=f"after: RMSE {doc['after']['rmse_db']} dB "
               f"(cross-validated {doc['cross_validated_rmse_db']})")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("measured (dBm)")
    ax.set_ylabel("predicted (dBm)")
    ax.set_title(f"{doc['technology']} calibration: {doc['counts']['used']} points")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=100)
    return path.name


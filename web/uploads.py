"""Upload a layer: checked, validated with ictgis.io on a copy of the served data, recorded as a store changeset.

An upload is checked in a work folder ``<instance>/datasets/.new-*``: the files of the served state (hard links to
its export, never modified), minus the replaced layer's files, plus the new file named after its layer. A valid
folder is recorded as one ``upload`` changeset (`web.changes.record_upload`: author, file name, message, counts
added / changed / removed); a refused upload records nothing and shows the problem list (Vietnamese first, by the
problem's kind: `web.i18n.problem_text`). The work folder is removed either way.

Uploads of one instance hold an exclusive ``fcntl.flock`` on ``<instance>/datasets.lock`` (`web.data.version_lock`)
from reading the served state through the changeset: each derives from the one before. An upload that cannot get
the lock within ``UPLOAD_LOCK_TIMEOUT_S`` seconds is refused with 409 (try again). Another server process sharing
the store may still record a changeset meanwhile: the store refuses a changeset whose parent is no longer the
latest (`ictgis.store.importer.StaleStateError`) and the upload is built again on the new state. A full disk gives
507 and leaves nothing behind.

A file without a CRS (a Shapefile without .prj, a CSV with x/y columns) gets one from the form (``crs``: one of
`crs_choices` or ``crs_epsg``: any EPSG code): it is written as ``crs:`` of the layer in the work folder's
layers.yaml, so the store import reads the file in that CRS; the engine checks the coordinates against it as for
any file (degrees in a metre CRS, data outside the province …). Villages lying outside the commune they name are
shown as a warning with the accepted upload.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import secrets
import shutil
import time
import warnings
from http import HTTPStatus
from pathlib import Path, PurePosixPath

import pyogrio
import yaml
from flask import Blueprint, abort, current_app, g, redirect, render_template, request, send_from_directory, url_for

from ictgis import CRSError, IctgisError, LayerError, PlacementWarning, Problem, io
from ictgis.crs import parse_crs, working_crs
from ictgis.layers import SCHEMAS
from ictgis.store.importer import StaleStateError

from . import changes, data
from .archive import ZipLimits, check_zip, copy_tree_links, extract_layer
from .auth import login_required, planner_required
from .data import LOCK_FILE as LOCK_FILE  # the lock's home is web.data; kept importable from here
from .data import UploadBusyError as UploadBusyError
from .data import version_lock
from .i18n import TEXT, placement_text, problem_text, t
from .paths import is_public_file

logger = logging.getLogger(__name__)
bp = Blueprint("uploads", __name__, url_prefix="/data")
ACCEPTED = (".zip", ".gpkg", ".geojson", ".json", ".kml", ".kmz", ".csv", ".xlsx")
#: Single files that are zip containers: their entries get the same limits as a zipped layer (no zip bomb).
ZIP_CONTAINERS = (".kmz", ".xlsx")
#: Headline of the upload page per refusal status (keys of `web.i18n.TEXT`).
REFUSAL_HEADLINES = {409: "upload_busy", 507: "disk_full"}
#: The CRSs a file without one is most likely in (besides the province's working CRS, listed first): VN-2000
#: geographic, WGS 84 (GPS, web maps), WGS 84 / UTM 48N and VN-2000 / UTM 48N. Any other: an EPSG code.
USUAL_CRS = ("EPSG:4756", "EPSG:4326", "EPSG:32648", "EPSG:3405")


def crs_choices() -> list[str]:
    """Return the CRSs the upload form offers for files without one: the working CRS first, then `USUAL_CRS`."""
    code = f"EPSG:{working_crs().to_epsg()}"
    return [code, *(c for c in USUAL_CRS if c != code)]


def chosen_crs(form) -> str | None:
    """Return the CRS the form states (``crs_epsg`` typed, else ``crs`` chosen) as ``EPSG:n``, None when none.

    Raises
    ------
    CRSError
        When the typed value is not a CRS pyproj knows.
    """
    typed = (form.get("crs_epsg") or "").strip()
    value = typed or (form.get("crs") or "").strip()
    if not value:
        return None
    if typed.isdigit():
        value = f"EPSG:{typed}"
    try:
        crs = parse_crs(value, source="crs")
    except CRSError as exc:
        raise CRSError(f"unknown CRS {value!r}", [Problem("crs", f"{value!r} is not a CRS (write an EPSG code such "
                                                                 "as EPSG:9205)", column="crs", kind="bad_crs",
                                                          params=(("value", value),))]) from exc
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else value


def is_disk_full(exc: OSError) -> bool:
    """Tell whether an OSError says the disk (or the user's quota) is full."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def _remove_debris(root: Path) -> None:
    """Remove work folders of creators that died (only called under the lock: no creator is running)."""
    for part in root.glob(".new-*"):
        logger.warning("removing the unfinished dataset version %s", part.name)
        shutil.rmtree(part, ignore_errors=True)


def limits() -> ZipLimits:
    """Return the app's zip limits."""
    cfg = current_app.config
    return ZipLimits(max_entries=int(cfg["UPLOAD_MAX_ENTRIES"]), max_total_bytes=int(cfg["UPLOAD_MAX_UNZIPPED"]),
                     max_ratio=float(cfg["UPLOAD_MAX_RATIO"]))


def _layer_files(folder: Path, layer: str, source: str | None, mapping: dict, sources: dict) -> set[str]:
    """Names of the files that hold a layer in a folder (its source and, for shapefiles, the sidecars)."""
    names: set[str] = set()
    if source:
        src = Path(source)
        shared = any(Path(s) == src for other, s in sources.items() if other != layer)
        if not shared:
            names |= {p.name for p in folder.iterdir() if p.is_file() and p.stem.lower() == src.stem.lower()
                      and (p.suffix.lower() in (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")
                           or p.name == src.name)}
    names |= {p.name for p in folder.iterdir() if p.is_file() and p.stem.lower() == layer
              and p.suffix.lower() in (*io.VECTOR_SUFFIXES, ".shx", ".dbf", ".prj", ".cpg")}
    return names


def _save_single(upload_path: Path, dest: Path, layer: str, suffix: str) -> Path:
    suffix = ".geojson" if suffix == ".json" else suffix
    target = dest / f"{layer}{suffix}"
    shutil.copyfile(upload_path, target)
    return target


def _gpkg_layer(path: Path, layer: str, label: str) -> str | None:
    try:
        names = [str(n) for n, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises several kinds for unreadable files
        raise LayerError(f"{label}: cannot be read", [Problem(label, f"cannot be read: {exc}")]) from exc
    if layer in names:
        return layer
    if len(names) == 1:
        return names[0]
    raise LayerError(f"{label}: several layers", [Problem(label, f"the GeoPackage holds {len(names)} layers "
                                                                 f"({', '.join(names)}); name one '{layer}'")])


def create_version(upload_path: Path, original_name: str, layer: str, *, user: str | None,
                   crs: str | None = None, message: str | None = None) -> dict:
    """Validate an uploaded file as `layer` on a copy of the served folder; keep it as a new version.

    Parameters
    ----------
    crs
        CRS of the file when it has none (``EPSG:n``), kept as ``crs:`` of the layer in the version's layers.yaml.

    Returns
    -------
    dict
        The new version's metadata (``n``, ``layer``, ``file``, ``notes`` …).

    Raises
    ------
    LayerError
        Every problem found in the file or in the folder with it (nothing is kept then).
    UploadBusyError
        When another upload holds the dataset versions for longer than ``UPLOAD_LOCK_TIMEOUT_S``.
    OSError
        From the file system (a full disk …); nothing is kept then either.
    """
    label = PurePosixPath(original_name.replace("\\", "/")).name or "upload"
    suffix = PurePosixPath(label).suffix.lower()
    if layer not in SCHEMAS:
        raise LayerError(f"unknown layer {layer!r}", [Problem(label, f"unknown layer {layer!r}", column="layer",
                                                              kind="unknown_layer", params=(("layer", layer),))])
    if suffix not in ACCEPTED:
        raise LayerError(f"{label}: format not accepted", [Problem(label, "accepted: " + ", ".join(ACCEPTED),
                                                                   kind="format_not_accepted",
                                                                   params=(("accepted", ", ".join(ACCEPTED)),))])
    root = data.versions_dir()
    with version_lock(root, timeout_s=float(current_app.config.get("UPLOAD_LOCK_TIMEOUT_S", 60.0))):
        _remove_debris(root)
        for attempt in range(3):  # another server process sharing the store may record a changeset meanwhile
            work = root / f".new-{secrets.token_hex(6)}"
            try:
                parent = data.refresh()
                meta, loaded = _build_version(upload_path, label, suffix, layer, work, user=user, crs=crs)
                recorded = changes.record_upload(loaded, parent=parent, user=user, label=label, layer=layer,
                                                 message=message)
                break
            except StaleStateError:
                if attempt == 2:
                    raise
            finally:
                if work.exists():
                    shutil.rmtree(work, ignore_errors=True)
    logger.info("upload of %s from %s: %s", layer, label, recorded)
    return meta | recorded


def _build_version(upload_path: Path, label: str, suffix: str, layer: str, work: Path, *, user: str | None,
                   crs: str | None = None) -> tuple[dict, io.Dataset]:
    """Write the candidate version into `work` and validate it (under the lock); return its metadata and data."""
    current = data.current_dir()
    served = data.dataset()
    mapping_path = next((current / n for n in io.MAPPING_NAMES if (current / n).exists()), None)
    mapping = yaml.safe_load(mapping_path.read_text(encoding="utf-8")) if mapping_path else None
    mapping = mapping if isinstance(mapping, dict) else None
    skip = _layer_files(current, layer, served.sources.get(layer), mapping or {}, served.sources)
    copy_tree_links(current, work, skip=skip | {data.VERSION_FILE})
    if suffix == ".zip":
        new_file = extract_layer(upload_path, work, layer, limits(), label=label)
    else:
        if suffix in ZIP_CONTAINERS:
            check_zip(upload_path, limits(), label=label)
        new_file = _save_single(upload_path, work, layer, suffix)
    spec_layer = _gpkg_layer(new_file, layer, label) if new_file.suffix == ".gpkg" else None
    mapped = mapping is not None and layer in (mapping.get("layers") or {})
    if mapped or spec_layer is not None or crs is not None:
        mapping = mapping if mapping is not None else {}
        layers = mapping.get("layers") if isinstance(mapping.get("layers"), dict) else {}
        spec = layers.get(layer)
        spec = {"file": spec} if isinstance(spec, str) else dict(spec or {})
        spec["file"] = new_file.name
        spec.pop("layer", None)
        if spec_layer:
            spec["layer"] = spec_layer
        spec.pop("crs", None)  # the previous file's CRS does not hold for this one
        if crs is not None:
            spec["crs"] = crs
        mapping["layers"] = {**layers, layer: spec}
        target = work / (mapping_path.name if mapping_path else io.MAPPING_NAMES[0])
        target.unlink(missing_ok=True)  # a hard link to the previous version: replace, never write through
        target.write_text(yaml.safe_dump(mapping, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            loaded = io.load(work)
        except IctgisError as exc:  # the problems of the new file name the file the planner sent
            saved = {new_file.name, f"{new_file.name}:{spec_layer}"}
            exc.problems = [dataclasses.replace(p, file=label) if p.file in saved else p for p in exc.problems]
            raise
    placed = [row for w in caught if isinstance(w.message, PlacementWarning) for row in w.message.rows]
    meta = {"base": str(data.base_dir()), "parent": str(current), "layer": layer,
            "file": new_file.name, "uploaded_name": label, "user": user, "created": time.time(), "crs": crs,
            "features": len(loaded[layer]) if layer in loaded else None,
            "outside_commune": placed[:500],
            "notes": [str(w.message) for w in caught if not isinstance(w.message, PlacementWarning)][:50]}
    (work / data.VERSION_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    return meta, loaded


def page(*, problems: list[str] | None = None, accepted: dict | None = None, headline: str | None = None,
          form: dict | None = None, rolled: int | None = None) -> str:
    """Render the data page: the upload form, the changesets table, and what the last action gave."""
    choices = [(c, t(f"crs_{c}") if f"crs_{c}" in TEXT else f"{parse_crs(c).name} — {c}") for c in crs_choices()]
    return render_template("upload.html", versions=changes.history(), served=data.served_version(),
                           layers=list(SCHEMAS),
                           crs_choices=choices, problems=problems, accepted=accepted,
                           placement=[placement_text(r) for r in (accepted or {}).get("outside_commune") or []],
                           headline=headline or "upload_refused", form=form or {}, rolled=rolled)


@bp.get("/")
@login_required
def index():
    """Show the dataset versions and the upload form."""
    return page(rolled=request.args.get("served", type=int))


@bp.post("/upload")
@planner_required
def upload():
    """Accept a layer file (planners).

    201 with the new version; 400 with the problem list; 409 while another upload holds the dataset versions;
    507 when the disk is full (nothing is kept in any refusal).
    """
    tmp = Path(current_app.instance_path) / "tmp"
    upload_path = tmp / f"upload-{secrets.token_hex(8)}"
    status, problems, accepted = 201, None, None
    form = {k: request.form.get(k, "") for k in ("layer", "crs", "crs_epsg", "message")}
    try:
        layer = request.form.get("layer", "")
        file = request.files.get("file")
        if file is None or not file.filename:
            abort(400, description="choose a file to upload")
        crs = chosen_crs(request.form)
        tmp.mkdir(parents=True, exist_ok=True)
        file.save(upload_path)
        accepted = create_version(upload_path, file.filename, layer, user=g.user.name, crs=crs,
                                  message=request.form.get("message"))
    except IctgisError as exc:
        status = exc.http_status
        problems = [problem_text(p) for p in exc.problems] or [problem_text(exc)]
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        logger.error("upload refused, the disk is full: %s", exc, exc_info=True)
        status = HTTPStatus.INSUFFICIENT_STORAGE.value
        problems = [exc.strerror or str(exc)]
    finally:
        upload_path.unlink(missing_ok=True)
    return page(problems=problems, accepted=accepted, headline=REFUSAL_HEADLINES.get(status, "upload_refused"),
                 form=form if status != 201 else None), status


@bp.post("/rollback/<int:target>")
@planner_required
def rollback(target: int):
    """Roll back to changeset `target` from the versions table (planners): a new changeset; 303 to the page."""
    try:
        cs = changes.rollback_audited(target, message=request.form.get("message"))
    except IctgisError as exc:
        return page(problems=[problem_text(p) for p in exc.problems] or [problem_text(exc)],
                    headline="rollback_refused"), changes.error_status(exc)
    return redirect(url_for("uploads.index", served=cs.id if cs is not None else 0), code=303)


@bp.get("/versions/<int:n>/<path:filename>")
@login_required
def download(n: int, filename: str):
    """Download a file of a dataset version (paths outside the version folder are refused)."""
    if n not in {v["n"] for v in data.versions()}:
        abort(404, description=f"no dataset version {n}")
    if not is_public_file(filename, hidden=(data.VERSION_FILE,)):  # no ./, ../, hidden or metadata files
        abort(404)
    return send_from_directory(data.version_folder(n), filename, as_attachment=True)

"""Upload a layer: checked, validated with ictgis.io on a copy of the data folder, kept as a new dataset version.

An accepted upload becomes ``<instance>/datasets/<n>/``: the files of the served version (hard links, never
modified), minus the replaced layer's files, plus the new file named after its layer. The previous version is
never overwritten; a refused upload leaves nothing behind and shows the problem list.

Creating a version derives from the version served when it starts: two planners uploading at the same moment
(threads of one server, or several server processes sharing the instance folder) must not both derive from the
same parent, or the second silently drops the first one's layer. `create_version` therefore holds an exclusive
``fcntl.flock`` on ``<instance>/datasets.lock`` from reading the served version through the rename of the new
one: uploads are checked one after the other and each derives from the one before. An upload that cannot get the
lock within ``UPLOAD_LOCK_TIMEOUT_S`` seconds is refused with 409 (try again). A full disk gives 507 and leaves
nothing behind.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
import shutil
import time
import warnings
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path, PurePosixPath

import pyogrio
import yaml
from flask import Blueprint, abort, current_app, g, render_template, request, send_from_directory

from ictgis import IctgisError, LayerError, Problem, io
from ictgis.layers import SCHEMAS
from ictgis.store.importer import StaleStateError

from . import data
from .archive import ZipLimits, check_zip, copy_tree_links, extract_layer
from .auth import login_required, planner_required
from .paths import is_public_file, public

logger = logging.getLogger(__name__)
bp = Blueprint("uploads", __name__, url_prefix="/data")
ACCEPTED = (".zip", ".gpkg", ".geojson", ".json", ".kml", ".kmz", ".csv", ".xlsx")
#: Single files that are zip containers: their entries get the same limits as a zipped layer (no zip bomb).
ZIP_CONTAINERS = (".kmz", ".xlsx")
#: Lock file of the dataset versions, beside the versions' folder (``<instance>/datasets.lock``).
LOCK_FILE = "datasets.lock"
#: Headline of the upload page per refusal status (keys of `web.i18n.TEXT`).
REFUSAL_HEADLINES = {409: "upload_busy", 507: "disk_full"}


class UploadBusyError(IctgisError):
    """Another upload is creating a dataset version and did not finish in time (409: try again)."""

    http_status = 409


def is_disk_full(exc: OSError) -> bool:
    """Tell whether an OSError says the disk (or the user's quota) is full."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def version_lock(root: Path, *, timeout_s: float) -> Iterator[None]:
    """Hold the exclusive lock of the dataset versions in `root` (across threads and processes).

    An ``fcntl.flock`` on `LOCK_FILE` beside `root`, taken on a descriptor of its own: two threads of one process
    exclude each other as two processes do. The lock goes with the descriptor: a process that dies releases it.

    Parameters
    ----------
    root
        Folder of the dataset versions (created when missing).
    timeout_s
        Seconds to wait for the lock.

    Raises
    ------
    UploadBusyError
        When the lock is still held by another upload after `timeout_s`.
    """
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root.parent / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise UploadBusyError(
                        "another upload is being checked: try again in a moment",
                        [Problem("upload", f"another upload held the dataset versions for more than {timeout_s:g} s;"
                                           " nothing was kept: send the file again")]) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


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


def record_upload(work: Path, *, parent: int, user: str | None, label: str, layer: str,
                  message: str | None) -> dict:
    """Record a validated work folder as an upload changeset of the store (see `web.changes.record_upload`)."""
    from .changes import record_upload as record

    return record(work, parent=parent, user=user, label=label, layer=layer, message=message)


def create_version(upload_path: Path, original_name: str, layer: str, *, user: str | None,
                   message: str | None = None) -> dict:
    """Validate an uploaded file as `layer` on a copy of the served folder; keep it as a new version.

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
        raise LayerError(f"unknown layer {layer!r}", [Problem(label, f"unknown layer {layer!r}", column="layer")])
    if suffix not in ACCEPTED:
        raise LayerError(f"{label}: format not accepted", [Problem(label, "accepted: " + ", ".join(ACCEPTED))])
    root = data.versions_dir()
    with version_lock(root, timeout_s=float(current_app.config.get("UPLOAD_LOCK_TIMEOUT_S", 60.0))):
        _remove_debris(root)
        for attempt in range(3):  # another server process sharing the store may record a changeset meanwhile
            work = root / f".new-{secrets.token_hex(6)}"
            try:
                parent = data.refresh()
                meta = _build_version(upload_path, label, suffix, layer, work, user=user)
                changes = record_upload(work, parent=parent, user=user, label=label, layer=layer, message=message)
                break
            except StaleStateError:
                if attempt == 2:
                    raise
            finally:
                if work.exists():
                    shutil.rmtree(work, ignore_errors=True)
    logger.info("upload of %s from %s: %s", layer, label, changes)
    return meta | changes


def _build_version(upload_path: Path, label: str, suffix: str, layer: str, work: Path, *, user: str | None) -> dict:
    """Write the candidate version into `work` and validate it (under the lock); return its metadata."""
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
    if mapped or spec_layer is not None:
        mapping = mapping if mapping is not None else {}
        layers = mapping.get("layers") if isinstance(mapping.get("layers"), dict) else {}
        spec = layers.get(layer)
        spec = {"file": spec} if isinstance(spec, str) else dict(spec or {})
        spec["file"] = new_file.name
        spec.pop("layer", None)
        if spec_layer:
            spec["layer"] = spec_layer
        mapping["layers"] = {**layers, layer: spec}
        target = work / (mapping_path.name if mapping_path else io.MAPPING_NAMES[0])
        target.unlink(missing_ok=True)  # a hard link to the previous version: replace, never write through
        target.write_text(yaml.safe_dump(mapping, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = io.load(work)
    meta = {"base": str(data.base_dir()), "parent": str(current), "layer": layer, "file": new_file.name,
            "uploaded_name": label, "user": user, "created": time.time(),
            "features": len(loaded[layer]) if layer in loaded else None,
            "notes": [str(w.message) for w in caught][:50]}
    (work / data.VERSION_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    return meta


@bp.get("/")
@login_required
def index():
    """Show the dataset versions and the upload form."""
    return render_template("upload.html", versions=data.versions(), layers=list(SCHEMAS), served=data.served_version(),
                           base=data.base_dir(), problems=None, accepted=None)


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
    try:
        layer = request.form.get("layer", "")
        file = request.files.get("file")
        if file is None or not file.filename:
            abort(400, description="choose a file to upload")
        tmp.mkdir(parents=True, exist_ok=True)
        file.save(upload_path)
        accepted = create_version(upload_path, file.filename, layer, user=g.user.name,
                                  message=request.form.get("message"))
    except IctgisError as exc:
        status = exc.http_status
        problems = [public(p) for p in exc.problems] or [public(exc)]
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        logger.error("upload refused, the disk is full: %s", exc, exc_info=True)
        status = HTTPStatus.INSUFFICIENT_STORAGE.value
        problems = [exc.strerror or str(exc)]
    finally:
        upload_path.unlink(missing_ok=True)
    return render_template("upload.html", versions=data.versions(), layers=list(SCHEMAS), served=data.served_version(),
                           base=data.base_dir(), problems=problems, accepted=accepted,
                           headline=REFUSAL_HEADLINES.get(status, "upload_refused")), status


@bp.get("/versions/<int:n>/<path:filename>")
@login_required
def download(n: int, filename: str):
    """Download a file of a dataset version (paths outside the version folder are refused)."""
    if n not in {v["n"] for v in data.versions()}:
        abort(404, description=f"no dataset version {n}")
    if not is_public_file(filename, hidden=(data.VERSION_FILE,)):  # no ./, ../, hidden or metadata files
        abort(404)
    return send_from_directory(data.version_folder(n), filename, as_attachment=True)

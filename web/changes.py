"""The store's changesets on the web: uploads recorded as changesets, the dated list of changes, roll back.

- `record_upload` turns a validated upload folder into one ``upload`` changeset (author: the logged-in user,
  source: the uploaded file's name): the uploaded layer's features replace the current ones, matched by feature key
  (added / changed / removed), in one transaction; the other layers are the served state and do not change.
- ``GET /data/changes`` lists the changesets, newest first: who, when, what kind, the message and the counts
  added / changed / removed per layer (``?format=json`` or ``Accept: application/json`` for JSON).
- ``POST /data/changes/<id>/rollback`` (planners) records a **new** changeset whose state equals the state as of
  changeset ``<id>``: history is never rewritten, the roll back itself can be rolled back, and it is written to
  the audit log (``rollback``, with the target and the new changeset).

The counts of a changeset never change: they are computed once (a diff with the changeset before) and kept per
app in a bounded cache.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from cachetools import LRUCache
from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, request, url_for

from ictgis import IctgisError, io
from ictgis.store import StoreError

from . import data, i18n
from .auth import guard, login_required, planner_required
from .i18n import local_time

logger = logging.getLogger(__name__)
bp = Blueprint("changesets", __name__, url_prefix="/data/changes")
#: Changesets listed on the page (the newest ones).
PAGE_SIZE = 100
_lock = threading.Lock()

WORDS = {
    "changes": {"vi": "Lịch sử thay đổi dữ liệu", "en": "Data change history"},
    "changes_link": {"vi": "Lịch sử thay đổi và khôi phục", "en": "Change history and roll back"},
    "change_when": {"vi": "Thời gian (giờ Việt Nam)", "en": "Time (Vietnam)"},
    "change_who": {"vi": "Người thực hiện", "en": "Author"},
    "change_kind": {"vi": "Loại", "en": "Kind"},
    "change_message": {"vi": "Nội dung", "en": "Message"},
    "change_counts": {"vi": "Thay đổi theo lớp", "en": "Changes by layer"},
    "kind_import": {"vi": "nhập dữ liệu", "en": "import"},
    "kind_upload": {"vi": "tải lên", "en": "upload"},
    "kind_edit": {"vi": "sửa trên bản đồ", "en": "map edit"},
    "added": {"vi": "thêm", "en": "added"},
    "changed": {"vi": "sửa", "en": "changed"},
    "removed": {"vi": "xoá", "en": "removed"},
    "rollback": {"vi": "Khôi phục về phiên bản này", "en": "Roll back to this version"},
    "rollback_ok": {"vi": "Đã khôi phục: thay đổi mới", "en": "Rolled back: new changeset"},
    "rollback_refused": {"vi": "Không khôi phục được", "en": "Not rolled back"},
    "rollback_same": {"vi": "Dữ liệu hiện tại đã giống phiên bản này: không ghi gì.",
                      "en": "The current data already equals this version: nothing recorded."},
    "rollback_help": {"vi": "Khôi phục tạo một thay đổi mới; lịch sử không bị xoá.",
                      "en": "A roll back records a new changeset; history is never rewritten."},
    "change_message_label": {"vi": "Nội dung thay đổi", "en": "Change message"},
    "edit_conflict": {"vi": "Đối tượng đã bị người khác sửa trước bạn. Không có gì bị mất: hãy xem bản hiện tại "
                                "và sửa lại.",
                      "en": "Someone else saved this feature first. Nothing was lost: look at the current version "
                            "and apply your change again."},
}
i18n.TEXT.update({k: v for k, v in WORDS.items() if k not in i18n.TEXT})


def _counts_cache() -> LRUCache:
    cache = current_app.extensions.get("ictgis_change_counts")
    if cache is None:
        with _lock:
            cache = current_app.extensions.setdefault("ictgis_change_counts", LRUCache(maxsize=4096))
    return cache


def counts(number: int) -> dict[str, dict[str, int]]:
    """Return the counts added / changed / removed per layer of changeset `number` (computed once)."""
    cache = _counts_cache()
    with _lock:
        found = cache.get(number)
    if found is not None:
        return found
    diff = data.store().diff(number - 1, number)
    out = {layer: {k: len(v) for k, v in d.items()} for layer, d in diff.items() if any(d.values())}
    with _lock:
        cache[number] = out
    return out


def history(*, limit: int = PAGE_SIZE) -> list[dict]:
    """Return the newest `limit` changesets, newest first, each with its ``counts`` per layer."""
    found = data.versions()[-limit:]
    return [v | {"counts": counts(v["n"])} for v in reversed(found)]


def record_upload(work: Path | io.Dataset, *, parent: int, user: str | None, label: str, layer: str,
                  message: str | None) -> dict:
    """Record a validated upload folder (the served state with one layer replaced) as an ``upload`` changeset.

    Parameters
    ----------
    work
        The data folder (or the dataset `ictgis.io.load` read from it, warnings already shown): the state of
        changeset `parent` with the uploaded layer in place of its files.
    parent
        The changeset the folder was built on; if another one landed since, nothing is recorded.
    user, label, layer, message
        The author, the uploaded file's name (the source), the layer and the planner's message.

    Returns
    -------
    dict
        ``n`` (the changeset served afterwards), ``changeset`` (None when the upload equals the served layer)
        and ``counts`` of the uploaded layer.

    Raises
    ------
    ictgis.store.importer.StaleStateError
        When another changeset landed after `parent` (409; the caller builds the folder again).
    LayerError
        When the folder does not validate.
    """
    text = (message or "").strip() or f"Tải lên / upload {layer}: {label}"
    cs = data.store().import_dataset(work, author=user or "?", message=text, kind="upload", source=label,
                                     parent=parent)
    number = data.refresh()
    data.dataset(wait=True)
    if cs is None:
        return {"n": number, "changeset": None, "counts": {}}
    logger.info("upload %s by %s: changeset %d %s", label, user, cs.id, cs.counts)
    return {"n": cs.id, "changeset": cs.id, "counts": (cs.counts or {}).get(layer, {})}


def rollback(target: int, *, user: str, message: str | None = None):
    """Record a new changeset whose state equals the state as of changeset `target` (None when it already does).

    Holds the instance's upload lock (`web.data.version_lock`): an upload of this instance runs before or after it,
    never on the state it replaces; another process's changeset landing meanwhile makes the store refuse it (409).

    Raises
    ------
    StoreError
        When `target` is not a changeset of the store (404), or the state changed meanwhile (409).
    web.data.UploadBusyError
        When an upload holds the lock for longer than ``UPLOAD_LOCK_TIMEOUT_S`` (409).
    """
    store = data.store()
    if target not in {v["n"] for v in data.versions()}:
        raise StoreError(f"no changeset {target} / không có phiên bản {target}")
    timeout_s = float(current_app.config.get("UPLOAD_LOCK_TIMEOUT_S", 60.0))
    with data.version_lock(data.versions_dir(), timeout_s=timeout_s):  # one at a time with this instance's uploads
        parent = data.refresh()
        old = store.dataset(target, dem_dir=Path(current_app.instance_path) / "cache" / "dem")
        text = (message or "").strip() or f"Khôi phục về / roll back to #{target}"
        cs = store.import_dataset(old, author=user, message=text, kind="import", source=f"changeset {target}",
                                  parent=parent)
    data.refresh()
    data.dataset(wait=True)
    return cs


def _wants_json() -> bool:
    if request.args.get("format") == "json":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


@bp.get("/")
@login_required
def index():
    """Show the dated list of changesets with their counts per layer; roll back buttons for planners."""
    found = history()
    if _wants_json():
        return jsonify(served=data.served_version(), changesets=found)
    return render_template("changes.html", local_time=local_time, changes=found, served=data.served_version(),
                           done=request.args.get("done", type=int))


def error_status(exc: IctgisError) -> int:
    """HTTP status of a refused roll back: 404 for an unknown changeset, else the error's own."""
    return 404 if "no changeset" in str(exc) else exc.http_status


def rollback_audited(target: int, *, message: str | None = None):
    """Roll back to changeset `target` as the logged-in planner (`rollback`) and write it to the audit log."""
    cs = rollback(target, user=g.user.name, message=message)
    guard().audit("rollback", g.user.name, request.remote_addr or "-", target=target,
                  changeset=None if cs is None else cs.id)
    return cs


@bp.post("/<int:target>/rollback")
@planner_required
def rollback_view(target: int):
    """Roll back to changeset `target` (planners): a new changeset; audited. JSON 201 or the page again."""
    body = request.get_json(silent=True) if request.is_json else None
    message = (body or {}).get("message") if isinstance(body, dict) else request.form.get("message")
    try:
        cs = rollback_audited(target, message=message)
    except IctgisError as exc:
        abort(error_status(exc), description=str(exc))
    if request.is_json or _wants_json():
        return jsonify(target=target, changeset=None if cs is None else cs.to_dict(),
                       served=data.served_version()), 201 if cs is not None else 200
    return redirect(url_for("changesets.index", done=cs.id if cs is not None else 0))

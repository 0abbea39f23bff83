"""Edits on the map: a JSON API to read, add, change, move and delete single features of the store.

``/api/features/<layer>/<key>``, for the point layers planners keep on the map (`EDITABLE`):

- ``GET``: the feature's current version, attributes and point (WGS 84 ``lon``/``lat``) — what an edit starts from.
- ``POST`` (add), ``PATCH`` (change attributes and/or move), ``DELETE``: planners only (viewers 403); JSON body
  with ``message`` (the changeset's message), ``attributes``, ``geometry`` (GeoJSON Point in WGS 84) and, for
  ``PATCH``/``DELETE``, ``expected_version``: the version the planner saw. ``PATCH`` is partial: the attributes
  sent are merged into the current ones, those left out keep their current value (the map sends only the fields
  the planner changed, so a save after a conflict never puts back what another planner changed). The CSRF token
  goes in the ``X-CSRF-Token`` header (`web.security`).

Each write is one ``edit`` changeset (author: the logged-in user), checked by the store like an imported row
(types, allowed values, the point inside the province, the commune code). Deleting a BTS site removes its cells
(sectors) in the same changeset; the changeset's message in the response says how many. A write based on a version
that is no longer current is refused with **409**: the message in Vietnamese and English, the ``current`` feature
(or null when it was deleted) and ``by``, the author of its version, so the planner can look and apply the change
again — nothing is written, nothing lost. Every write is in the audit log (``feature_add`` / ``feature_edit`` /
``feature_delete``).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import geopandas as gpd
import shapely
from flask import Blueprint, Flask, abort, g, jsonify, request

from ictgis.labels import FIELDS
from ictgis.store import EditConflictError, Feature

from . import data, i18n
from .auth import guard, planner_required
from .changes import WORDS

logger = logging.getLogger(__name__)
bp = Blueprint("features", __name__, url_prefix="/api/features")
#: Layers edited on the map: attributes and place of these point layers.
EDITABLE = ("bts_sites", "post_offices", "villages")
#: Layers whose features planners may add or delete on the map (villages come from the census: change only).
ADDABLE = ("bts_sites", "post_offices")
MAX_MESSAGE = 500

#: Words of the map's edit panel (`edit_words`, read by ``static/ictgis-edit.js``); page words go to `web.i18n`.
EDIT_WORDS: dict[str, dict[str, str]] = {
    "hint": {"vi": "Bấm vào một trạm BTS, điểm bưu chính hoặc thôn bản để sửa; kéo điểm để dời.",
             "en": "Click a BTS site, post office or village to edit it; drag the point to move it."},
    "click_to_add": {"vi": "Bấm vào bản đồ tại vị trí mới.", "en": "Click the map where the new one stands."},
    "drag_hint": {"vi": "Kéo điểm để chỉnh vị trí, nhập thông tin rồi Lưu.",
                  "en": "Drag the point to adjust, fill in the form, then Save."},
    "moved": {"vi": "Đã dời vị trí (chưa lưu).", "en": "Moved (not saved yet)."},
    "saving": {"vi": "Đang lưu…", "en": "Saving…"},
    "saved": {"vi": "Đã lưu: thay đổi", "en": "Saved: changeset"},
    "unchanged": {"vi": "Không có gì thay đổi.", "en": "Nothing changed."},
    "failed": {"vi": "Không lưu được", "en": "Could not save"},
    "need_message": {"vi": "Cần nhập nội dung thay đổi.", "en": "A change message is required."},
    "need_id": {"vi": "Cần nhập mã.", "en": "An id is required."},
    "current_is": {"vi": "Bản hiện tại", "en": "Current"},
    "deleted": {"vi": "Đối tượng đã bị xoá.", "en": "The feature was deleted."},
    "confirm_delete": {"vi": "Xoá đối tượng này? Lịch sử vẫn được giữ.",
                       "en": "Delete this feature? Its history is kept."},
    "version": {"vi": "phiên bản", "en": "version"},
    "conflict_title": {"vi": "Xung đột: đối tượng đã bị người khác lưu trước bạn.",
                       "en": "Conflict: someone else saved this feature before you."},
    "conflict_by": {"vi": "đã sửa", "en": "changed"},
    "conflict_nothing": {"vi": "không đổi thuộc tính nào (có thể đã dời vị trí)",
                         "en": "no attribute (maybe moved it)"},
    "conflict_yours": {"vi": "Thay đổi của bạn được giữ lại", "en": "Your changes are kept"},
    "conflict_none_yours": {"vi": "Bạn chưa đổi thuộc tính nào.", "en": "You changed no attribute."},
    "conflict_both": {"vi": "Cả hai cùng sửa (giá trị của bạn đang hiển thị, hãy kiểm tra)",
                      "en": "Both changed (your value is shown, check it)"},
    "conflict_confirm": {"vi": "Biểu mẫu hiển thị bản hiện tại cộng thay đổi của bạn. Kiểm tra rồi bấm Lưu lại "
                               "để xác nhận.",
                         "en": "The form shows the current version plus your changes. Check, then Save again to "
                               "confirm."},
    "someone": {"vi": "Người khác", "en": "Someone else"},
    "save": {"vi": "Lưu", "en": "Save"},
    "save_again": {"vi": "Lưu lại (xác nhận)", "en": "Save again (confirm)"},
    "new_feature": {"vi": "Thêm mới", "en": "New"},
    "layer_bts_sites": {"vi": "Trạm BTS", "en": "BTS site"},
    "layer_post_offices": {"vi": "Điểm bưu chính", "en": "Post office"},
    "layer_villages": {"vi": "Thôn bản", "en": "Village"},
    "field_id": {"vi": "Mã", "en": "Id"},
    "field_operator": {"vi": "Nhà mạng", "en": "Operator"},
    "field_tech": {"vi": "Công nghệ (2G,3G,4G,5G)", "en": "Technologies (2G,3G,4G,5G)"},
    "field_power": {"vi": "Nguồn điện", "en": "Power source"},
    "field_height_m": {"vi": "Độ cao ăng-ten (m)", "en": "Antenna height (m)"},
    "field_band_mhz": {"vi": FIELDS["band_mhz"].heading("vi"), "en": FIELDS["band_mhz"].heading("en")},
    "field_tower": {"vi": "Mã cột (dùng chung)", "en": "Shared tower id"},
    "field_name": {"vi": "Tên", "en": "Name"},
    "field_kind": {"vi": "Loại", "en": "Kind"},
    "field_fiber": {"vi": "Có cáp quang", "en": "Has fiber"},
    "value_grid": {"vi": "Điện lưới", "en": "Grid"},
    "value_diesel": {"vi": "Máy nổ", "en": "Diesel"},
    "value_solar": {"vi": "Năng lượng mặt trời", "en": "Solar"},
}
i18n.TEXT.update({k: v for k, v in {
    "edit_mode": {"vi": "Sửa dữ liệu", "en": "Edit data"},
    "edit_hint": EDIT_WORDS["hint"],
    "edit_add_site": {"vi": "+ Trạm BTS", "en": "+ BTS site"},
    "edit_add_post": {"vi": "+ Điểm bưu chính", "en": "+ Post office"},
    "edit_save": {"vi": "Lưu", "en": "Save"},
    "edit_delete": {"vi": "Xoá", "en": "Delete"},
    "edit_cancel": {"vi": "Đóng", "en": "Close"},
}.items() if k not in i18n.TEXT})


def edit_words() -> dict[str, str]:
    """Return the edit panel's words in the request's language."""
    lang = g.get("lang", "vi")
    return {k: v.get(lang, v["vi"]) for k, v in EDIT_WORDS.items()}


def install(app: Flask) -> None:
    """Register the edit API and the ``edit_words`` template function."""
    app.register_blueprint(bp)
    app.jinja_env.globals["edit_words"] = edit_words


def _layer(layer: str, *, add_or_delete: bool = False) -> None:
    allowed = ADDABLE if add_or_delete else EDITABLE
    if layer not in allowed:
        abort(404 if layer not in EDITABLE else 403,
              description=f"{layer}: not editable on the map here (editable: {', '.join(allowed)})")


def feature_json(feature: Feature | None) -> dict[str, Any] | None:
    """Return a feature as JSON: layer, key, version, attributes (JSON types) and ``lon``/``lat`` in WGS 84."""
    if feature is None:
        return None
    attrs = {k: _plain(v) for k, v in feature.attributes.items()}
    lon = lat = None
    if feature.geometry is not None and not feature.geometry.is_empty:
        point = gpd.GeoSeries([feature.geometry], crs=data.store().crs).to_crs(4326).iloc[0]
        lon, lat = round(point.x, 7), round(point.y, 7)
    return {"layer": feature.layer, "key": feature.key, "version": feature.version, "attributes": attrs,
            "lon": lon, "lat": lat}


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="send a JSON object / cần gửi một đối tượng JSON")
    return body


def _message(body: dict) -> str:
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        abort(400, description="a message saying why is required / cần nhập nội dung thay đổi")
    return message.strip()[:MAX_MESSAGE]


def _attributes(body: dict) -> dict[str, Any] | None:
    attrs = body.get("attributes")
    if attrs is None:
        return None
    if not isinstance(attrs, dict) or not all(isinstance(k, str) for k in attrs):
        abort(400, description="attributes must be a JSON object / thuộc tính phải là đối tượng JSON")
    return {k: (None if v == "" else v) for k, v in attrs.items()}


def _geometry(body: dict):
    """Return the body's GeoJSON Point (WGS 84) in the store's working CRS, or None."""
    geom = body.get("geometry")
    if geom is None:
        return None
    coords = geom.get("coordinates") if isinstance(geom, dict) and geom.get("type") == "Point" else None
    if (not isinstance(coords, list) or len(coords) != 2
            or not all(isinstance(c, (int, float)) and math.isfinite(c) for c in coords)
            or not (-180 <= coords[0] <= 180 and -90 <= coords[1] <= 90)):
        abort(400, description="geometry must be a GeoJSON Point [lon, lat] in WGS 84 / vị trí không hợp lệ")
    return gpd.GeoSeries([shapely.Point(coords)], crs=4326).to_crs(data.store().crs).iloc[0]


def _expected(body: dict) -> int:
    raw = body.get("expected_version")
    if isinstance(raw, bool) or not isinstance(raw, int):
        abort(400, description="expected_version (the version you saw) is required / thiếu phiên bản đã xem")
    return raw


def _conflict(exc: EditConflictError):
    """Return the 409: the message, the current feature and who saved it (``by``: the author of its changeset)."""
    store = data.store()
    current = store.feature(exc.layer, exc.key)
    words = WORDS["edit_conflict"]
    by = None
    if current is not None:
        by = store.changeset(current.version).author
    return jsonify(error="EditConflictError", message=f"{words['vi']} / {words['en']}", detail=str(exc),
                   expected=exc.expected, current=feature_json(current), by=by), 409


def _done(cs, layer: str, key: str, event: str, status: int = 200):
    data.refresh()
    data.dataset(wait=True)  # this planner's next reads (the map's layers) see the edit
    guard().audit(event, g.user.name, request.remote_addr or "-", layer=layer, key=key,
                  changeset=None if cs is None else cs.id)
    return jsonify(changeset=None if cs is None else cs.to_dict(),
                   feature=feature_json(data.store().feature(layer, key))), status


@bp.get("/<layer>/<key>")
def get_feature(layer: str, key: str):
    """Return the current version of a feature (404 when there is none)."""
    _layer(layer)
    feature = data.store().feature(layer, key)
    if feature is None:
        abort(404, description=f"{layer} {key}: no such feature / không tìm thấy")
    return jsonify(feature_json(feature))


@bp.post("/<layer>/<key>")
@planner_required
def add_feature(layer: str, key: str):
    """Add a feature at a point (planners): 201 with the changeset and the feature; 409 when the key is taken."""
    _layer(layer, add_or_delete=True)
    body = _body()
    message, geometry = _message(body), _geometry(body)
    if geometry is None:
        abort(400, description="a new feature needs a geometry (a point) / cần vị trí")
    try:
        cs = data.store().add(layer, key, attributes=_attributes(body) or {}, geometry=geometry,
                              author=g.user.name, message=message)
    except EditConflictError as exc:
        return _conflict(exc)
    return _done(cs, layer, key, "feature_add", 201)


@bp.patch("/<layer>/<key>")
@planner_required
def edit_feature(layer: str, key: str):
    """Change a feature's attributes and/or move it (planners), if still at ``expected_version`` (else 409)."""
    _layer(layer)
    body = _body()
    message, expected = _message(body), _expected(body)
    attributes, geometry = _attributes(body), _geometry(body)
    try:
        cs = data.store().edit(layer, key, expected_version=expected, author=g.user.name, message=message,
                               attributes=attributes, geometry=geometry)
    except EditConflictError as exc:
        return _conflict(exc)
    return _done(cs, layer, key, "feature_edit")


@bp.delete("/<layer>/<key>")
@planner_required
def delete_feature(layer: str, key: str):
    """Delete a feature (planners), if still at ``expected_version`` (else 409); its history is kept."""
    _layer(layer, add_or_delete=True)
    body = _body()
    message, expected = _message(body), _expected(body)
    try:
        cs = data.store().delete(layer, key, expected_version=expected, author=g.user.name, message=message)
    except EditConflictError as exc:
        return _conflict(exc)
    return _done(cs, layer, key, "feature_delete")

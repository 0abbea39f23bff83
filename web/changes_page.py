"""The "Biến động" page: what changed in the shared database between two dates or changesets, and when.

``/bien-dong`` (also ``/changes``) shows, for two states of the app's store (``STORE_URL``; `web.history`):

- counts of added, removed and changed features by layer and by commune (sortable tables);
- a change map (Leaflet from the local npm copy, no CDN): added green, removed red, changed orange, a popup with
  the values before → after; its features come from ``/bien-dong/changes.geojson``;
- the changesets in the interval (who, when, what);
- the department's indicators as of a date or changeset beside today's, with the differences
  (``/bien-dong/indicators.json`` gives both as `ictgis.indicators.compute` returns them);
- each key indicator over the changesets' times against its target (`web.charts.time_chart`).

The 4G/3G populated-area coverage (`web.history.COVERAGE_KEYS`) needs a coverage raster per state: today's column
takes the app's background result for the served data (the same numbers as ``/api/indicators``); a past state's is
computed in the background, one state at a time, at the map's resolution, and kept by changeset id
(`web.history.coverage_values`). Until it lands its cell reads "đang tính…" and its chart point is hollow;
``/bien-dong/coverage.json`` (polled by ``static/ictgis-biendong.js``) starts the next and gives the cells and the
4G chart as they fill. The page never waits for a coverage.

Query parameters: ``from``/``to`` (a changeset id or a date/time as `ictgis.store.refs` reads them) or
``from_date``/``to_date`` (``YYYY-MM-DD``: the end of that day, Vietnam time); ``as_of`` or ``as_of_date`` for the
indicators (default: the ``from`` state). Defaults: the previous changeset and now. A bad value is a 400 naming it.
Without ``STORE_URL`` the page says the database is not configured.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection
from typing import NamedTuple

from flask import Blueprint, Flask, abort, current_app, g, jsonify, render_template, request, url_for

from ictgis import indicators as ind
from ictgis import labels
from ictgis.maps import labels as map_labels
from ictgis.store import VIETNAM, Store, StoreError

from . import formats
from .charts import time_chart
from .dashboard import format_value
from .history import (
    COVERAGE_KEYS,
    COVERAGE_TECHS,
    app_store,
    changes_between,
    coverage_values,
    headline_at,
    indicators_at,
    jsonable,
    sample_ids,
)
from .i18n import field, local_time
from .targets import targets

logger = logging.getLogger(__name__)
bp = Blueprint("changes", __name__)

#: Vietnam time (UTC+7): how the page writes changeset times and reads dates (`ictgis.store.VIETNAM`).
LOCAL_TZ = VIETNAM
#: Colours of the change map and its legend (kept in step with ``.change-swatch`` in ictgis.css).
COLOURS = {"added": "#1a9850", "removed": "#d73027", "changed": "#f28e2b"}
#: Key indicators charted over time, with their formatter.
TIME_INDICATORS: tuple[tuple[str, Callable[..., str]], ...] = (
    ("fiber.villages_fiber_pct", formats.percent),
    ("fiber.villages_without_fiber", formats.number),
    ("mobile.bts_sites", formats.number),
    ("mobile.sites_4g", formats.number),
    ("postal.service_points", formats.number),
    ("postal.service_radius_km", formats.km),
    ("postal.people_per_point", formats.number),
)
#: The coverage indicator charted over time (its points computed in the background, `web.history.coverage_values`).
COVERAGE_CHART = "mobile.populated_area_4g_pct"
#: How often the page asks for the coverage still being computed (milliseconds).
COVERAGE_POLL_MS = 3000
#: Points of a time chart at most (changesets sampled evenly beyond it, first and last kept): each is one
#: computation of the province totals on a past state the first time it is shown (`web.history.headline_at`,
#: 40–90 ms on the demo, against about 1 s for all indicators).
MAX_TIME_POINTS = 16
#: Quick picks: (word key, days back).
QUICK = (("last_quarter", 91), ("last_year", 365))

WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "nav": "Biến động", "title": "Biến động hạ tầng", "store_error": "Không đọc được cơ sở dữ liệu",
        "empty": "Cơ sở dữ liệu chưa có lần thay đổi nào.",
        "from": "Từ", "to": "Đến", "changeset": "Lần thay đổi", "or_date": "hoặc ngày", "show": "Xem",
        "before_first": "trước lần đầu", "now": "hiện tại", "quick": "Chọn nhanh", "last_quarter": "Quý vừa qua",
        "last_year": "Năm vừa qua", "all": "Toàn bộ", "summary": "Tóm tắt thay đổi", "by_layer": "Theo lớp",
        "by_commune": "Theo xã, phường", "layer": "Lớp", "commune": "Xã, phường", "district": "Huyện",
        "added": "Thêm mới", "removed": "Xóa bỏ", "changed": "Thay đổi", "total": "Tổng",
        "no_changes": "Không có thay đổi nào trong khoảng này.", "map": "Bản đồ biến động",
        "map_help": "Bấm vào một đối tượng để xem giá trị trước → sau.", "changesets": "Các lần thay đổi trong "
        "khoảng", "id": "Mã", "time": "Thời gian (giờ Việt Nam)", "author": "Người thực hiện",
        "message": "Nội dung", "kind": "Loại", "indicators": "Chỉ tiêu tại một thời điểm so với hiện tại",
        "as_of": "Tại", "today": "Hiện tại", "difference": "Chênh lệch", "indicator": "Chỉ tiêu", "unit": "Đơn vị",
        "coverage_note": "Tỷ lệ vùng dân cư có sóng 4G/3G của mỗi thời điểm được tính nền (vùng phủ sóng của trạng "
        "thái đó, cùng độ phân giải với bản đồ), lần lượt từng thời điểm; ô ghi “đang tính…” được điền khi tính "
        "xong, không cần tải lại trang.", "computing": "đang tính…",
        "charts": "Chỉ tiêu chính theo thời gian", "charts_help": "Mỗi điểm là một lần thay đổi; đường "
        "nét đứt là mục tiêu.", "sampled": "Có {n} lần thay đổi: biểu đồ lấy {k} lần trải đều.",
        "target": "mục tiêu", "moved": "Dời vị trí", "before": "Trước", "after": "Sau", "field": "Thuộc tính",
        "swapped": "Hai mốc đã được đổi chỗ để mốc đầu đứng trước.",
        "import": "nhập dữ liệu", "edit": "sửa trên bản đồ", "upload": "tải lên",
    },
    "en": {
        "nav": "Changes", "title": "Infrastructure changes", "store_error": "The database cannot be read",
        "empty": "The database has no changeset yet.",
        "from": "From", "to": "To", "changeset": "Changeset", "or_date": "or date", "show": "Show",
        "before_first": "before the first", "now": "now", "quick": "Quick picks", "last_quarter": "Last quarter",
        "last_year": "Last year", "all": "Everything", "summary": "Summary of changes", "by_layer": "By layer",
        "by_commune": "By commune", "layer": "Layer", "commune": "Commune", "district": "District",
        "added": "Added", "removed": "Removed", "changed": "Changed", "total": "Total",
        "no_changes": "Nothing changed in this interval.", "map": "Map of changes",
        "map_help": "Click a feature to see its values before → after.", "changesets": "Changesets in the interval",
        "id": "Id", "time": "Time (Vietnam)", "author": "Author", "message": "Message", "kind": "Kind",
        "indicators": "Indicators as of a date beside today's", "as_of": "As of", "today": "Today",
        "difference": "Difference", "indicator": "Indicator", "unit": "Unit",
        "coverage_note": "The 4G/3G populated-area coverage of each state is computed in the background (that "
        "state's coverage at the map's resolution), one state at a time; a cell reading “computing…” fills in when "
        "it is done, without reloading the page.", "computing": "computing…",
        "charts": "Key indicators over time", "charts_help": "One point per changeset; the dashed line is the "
        "target.", "sampled": "{n} changesets: the charts show {k} of them, evenly spread.",
        "target": "target", "moved": "Moved", "before": "Before", "after": "After", "field": "Attribute",
        "swapped": "The two bounds were swapped so that the first comes first.",
        "import": "import", "edit": "edit on the map", "upload": "upload",
    },
}


def words() -> dict[str, str]:
    """Return the page's words in the request's language."""
    return WORDS["en" if g.get("lang") == "en" else "vi"]


def local_date(moment: dt.datetime) -> str:
    """Write a changeset's date in Vietnam time (chart axes)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    local = moment.astimezone(LOCAL_TZ)
    return local.date().isoformat() if g.get("lang") == "en" else local.strftime("%d/%m/%Y")


def _bound(store: Store, name: str, default: int) -> int:
    """Resolve the ``name`` / ``name_date`` query parameters to a changeset id (400 naming a bad value)."""
    date_text = request.args.get(f"{name}_date", "").strip()
    text = request.args.get(name, "").strip()
    if date_text:
        try:
            day = dt.date.fromisoformat(date_text)
        except ValueError:
            abort(400, description=f"{name}_date={date_text[:40]!r}: không phải ngày YYYY-MM-DD / not a date "
                                   "(YYYY-MM-DD)")
        ref: str = dt.datetime.combine(day, dt.time(23, 59, 59, 999000), tzinfo=LOCAL_TZ).isoformat()
    elif text:
        ref = text[:64]
    else:
        return default
    try:
        return store.resolve(ref)
    except StoreError as exc:
        abort(400, description=f"{name}={ref!r}: {str(exc).splitlines()[0]}")


def _open() -> tuple[Store | None, str | None]:
    """Return the app's store, or None and the message the page shows instead."""
    store = app_store()
    try:
        store.srid  # noqa: B018 - opens the store: not initialised, not reachable → StoreError
    except StoreError as exc:
        logger.warning("changes page: %s", exc)
        return None, f"{words()['store_error']}: {str(exc).splitlines()[0]}"
    return store, None


def _interval(store: Store, ids: list[int]) -> tuple[int, int, bool]:
    to_id = _bound(store, "to", ids[-1] if ids else 0)
    from_id = _bound(store, "from", ids[-2] if len(ids) > 1 else 0)
    swapped = from_id > to_id
    return (to_id, from_id, True) if swapped else (from_id, to_id, False)


def _required_store() -> Store:
    store, message = _open()
    if store is None:
        abort(503, description=message)
    return store


def indicator_rows(before: dict | None, today: dict | None, *, lang: str, pending_then: Collection[str] = (),
                   pending_now: Collection[str] = ()) -> list[dict]:
    """Rows of the as-of table: each indicator's value then and today, and the difference (today − then).

    Keys in `pending_then` / `pending_now` are being computed: their text reads "đang tính…" (``pending``).
    """
    rows = []
    computing = words()["computing"]
    for key in ind.TABLE_INDICATORS:
        label = labels.INDICATORS[key]
        then = None if before is None else ind.lookup(before, key)
        now = None if today is None else ind.lookup(today, key)
        diff = None
        if isinstance(then, (int, float)) and isinstance(now, (int, float)) and not isinstance(then, bool):
            diff = round(float(now) - float(then), 2)
        decimals = 1 if label.unit == "%" else 2 if label.unit == "km" else None
        then_pending = key in pending_then and then is None
        now_pending = key in pending_now and now is None
        rows.append({"key": key, "label": label.text(lang), "unit": label.unit, "then": then, "now": now,
                     "then_text": computing if then_pending else format_value(key, then, lang=lang),
                     "now_text": computing if now_pending else format_value(key, now, lang=lang),
                     "then_pending": then_pending, "now_pending": now_pending,
                     "diff": diff, "coverage": key in COVERAGE_KEYS,
                     "diff_text": "" if diff is None or diff == 0 else formats.number(diff, decimals=decimals,
                                                                                      lang=lang, sign=True)})
    return rows


class Coverage(NamedTuple):
    """The coverage the page shows: then/now values by indicator key, those still computed, the chart's points."""

    then: dict[str, float | None]
    now: dict[str, float | None]
    pending_then: list[str]
    pending_now: list[str]
    chart: dict[int, float | None]
    pending_chart: list[int]


def page_coverage(store: Store, *, as_of: int, latest: int, shown: list) -> Coverage:
    """Return the coverage values of the as-of state, today's and the chart's changesets computed so far.

    Asks `web.history.coverage_values` in the order the page needs them: the as-of state (4G, 3G), today's, then
    the chart's points newest first; what is missing is being computed.
    """
    wanted = [(as_of, COVERAGE_TECHS[k]) for k in COVERAGE_KEYS] + [(latest, COVERAGE_TECHS[k]) for k in COVERAGE_KEYS]
    tech = COVERAGE_TECHS[COVERAGE_CHART]
    wanted += [(c.id, tech) for c in reversed(shown) if (c.id, tech) not in wanted]
    found = coverage_values(store, wanted)

    def side(number: int) -> tuple[dict, list[str]]:
        values = {k: found[(number, COVERAGE_TECHS[k])] for k in COVERAGE_KEYS if (number, COVERAGE_TECHS[k]) in found}
        return values, [k for k in COVERAGE_KEYS if k not in values and number > 0]

    then, pending_then = side(as_of)
    now, pending_now = side(latest)
    chart = {c.id: found[(c.id, tech)] for c in shown if (c.id, tech) in found}
    return Coverage(then, now, pending_then, pending_now, chart, [c.id for c in shown if c.id not in chart])


def with_values(result: dict | None, values: dict[str, float | None]) -> dict | None:
    """Return a copy of an indicator contract with `values` (``"mobile.<key>"`` → value) filled in where missing."""
    if result is None or not values:
        return result
    mobile = dict(result.get("mobile") or {})
    for key, value in values.items():
        name = key.split(".", 1)[1]
        if mobile.get(name) is None:
            mobile[name] = value
    return result | {"mobile": mobile}


def coverage_chart(shown: list, values: dict[int, float | None], *, lang: str) -> dict:
    """Return the 4G coverage over the (sampled) changesets against the plan's target, points computed so far."""
    goal = targets(current_app.config.get("INDICATOR_TARGETS")).get(COVERAGE_CHART)
    title = labels.INDICATORS[COVERAGE_CHART].text(lang)

    def show(v):
        return formats.percent(v, lang=lang)

    chart_id = f"time-{COVERAGE_CHART.replace('.', '-')}"
    svg = time_chart([(c.time, values.get(c.id)) for c in shown], title=title, fmt=show, date_fmt=local_date,
                     target=goal.value if goal else None,
                     target_text=f"{words()['target']} {show(goal.value)}" if goal else "",
                     higher_is_better=goal.higher_is_better if goal else True,
                     labels=[f"#{c.id} {c.message}" + ("" if c.id in values else f" ({words()['computing']})")
                             for c in shown], chart_id=chart_id)
    return {"id": chart_id, "title": title, "svg": svg, "computed": len(values), "points": len(shown)}


def time_charts(store: Store, log: list, *, lang: str, coverage: dict[int, float | None] | None = None) -> list[dict]:
    """Return each key indicator over the (sampled) changesets against its target: ``{"id", "title", "svg"}``.

    The first is the 4G populated-area coverage (`coverage_chart`) when `coverage` (changeset id → value computed
    so far) is given.
    """
    shown = sample_ids(log, MAX_TIME_POINTS)
    results = [headline_at(store, c.id) for c in shown]
    goals = targets(current_app.config.get("INDICATOR_TARGETS"))
    out = [] if coverage is None else [coverage_chart(shown, coverage, lang=lang)]
    for key, fmt in TIME_INDICATORS:
        title = labels.INDICATORS[key].text(lang)
        points = [(c.time, None if r is None else ind.lookup(r, key)) for c, r in zip(shown, results, strict=True)]

        def show(v, fmt=fmt):
            return fmt(v, lang=lang)

        goal = goals.get(key)
        svg = time_chart(points, title=title, fmt=show, date_fmt=local_date,
                         target=goal.value if goal else None,
                         target_text=f"{words()['target']} {show(goal.value)}" if goal else "",
                         higher_is_better=goal.higher_is_better if goal else True,
                         labels=[f"#{c.id} {c.message}" for c in shown],
                         chart_id=f"time-{key.replace('.', '-')}")
        out.append({"id": f"time-{key.replace('.', '-')}", "title": title, "svg": svg})
    return out


@bp.get("/bien-dong")
@bp.get("/changes", endpoint="index_en")
def index():
    """Serve the biến động page (see the module docstring)."""
    w = words()
    lang = g.get("lang", "vi")
    store, message = _open()
    if store is None:
        return render_template("bien_dong.html", w=w, message=message, store=None)
    log = store.log()
    if not log:
        return render_template("bien_dong.html", w=w, message=w["empty"], store=None)
    ids = [c.id for c in log]
    from_id, to_id, swapped = _interval(store, ids)
    as_of = _bound(store, "as_of", from_id or ids[0])
    changes = changes_between(store, from_id, to_id)
    layer_names = map_labels(lang)
    by_layer = [{"layer": name, "label": layer_names.get(name, name), **counts,
                 "total": sum(counts.values())} for name, counts in changes.by_layer().items()]
    totals = {kind: sum(r[kind] for r in by_layer) for kind in COLOURS}
    cov = page_coverage(store, as_of=as_of, latest=ids[-1], shown=sample_ids(log, MAX_TIME_POINTS))
    today = with_values(indicators_at(store, ids[-1]), cov.now)
    then = with_values(indicators_at(store, as_of), cov.then)
    today_local = dt.datetime.now(LOCAL_TZ).date()
    quick = [{"label": w[key], "url": url_for("changes.index", from_date=(today_local - dt.timedelta(days=days))
                                              .isoformat(), to=ids[-1])} for key, days in QUICK]
    quick.append({"label": w["all"], "url": url_for("changes.index", **{"from": 0, "to": ids[-1]})})
    by_id = {c.id: c for c in log}
    return render_template(
        "bien_dong.html", w=w, message=None, store=store, log=log, from_id=from_id, to_id=to_id,
        swapped=swapped, latest=ids[-1], quick=quick, by_layer=by_layer, totals=totals,
        by_commune=changes.by_commune(), colours=COLOURS,
        interval=[c for c in reversed(log) if from_id < c.id <= to_id],
        from_cs=by_id.get(from_id), to_cs=by_id.get(to_id), as_of=as_of, as_of_cs=by_id.get(as_of),
        rows=indicator_rows(then, today, lang=lang, pending_then=cov.pending_then, pending_now=cov.pending_now),
        charts=time_charts(store, log, lang=lang, coverage=cov.chart),
        coverage_pending=bool(cov.pending_then or cov.pending_now or cov.pending_chart),
        coverage_url=url_for("changes.coverage_json", **{"as_of": as_of}), poll_ms=COVERAGE_POLL_MS,
        sampled=len(log) > MAX_TIME_POINTS, n_log=len(log), max_points=MAX_TIME_POINTS,
        geojson_url=url_for("changes.changes_geojson", **{"from": from_id, "to": to_id}),
        communes_url=url_for("changes.communes_geojson", at=to_id or ids[0]),
        local_time=local_time)


@bp.get("/bien-dong/changes.geojson")
def changes_geojson():
    """Serve the changed features between ``from`` and ``to`` as GeoJSON (EPSG:4326) for the change map.

    Each feature's properties: ``layer``, ``layer_label``, ``key``, ``name``, ``change`` (added / removed /
    changed), ``class`` (``change-<kind>``), ``colour``, ``commune``, ``attrs`` (``[field, before, after]``),
    ``attr_labels`` (field → its heading in the page's language), ``moved_m`` and ``before_point`` (the old
    position of a moved point).
    """
    store = _required_store()
    ids = [c.id for c in store.log()]
    from_id, to_id, _ = _interval(store, ids)
    changes = changes_between(store, from_id, to_id)
    lang = g.get("lang", "vi")
    layer_names = map_labels(lang)
    w = words()
    features = []
    for name, frame in changes.frames.items():
        geom_col = frame.geometry.name
        for row in frame.to_dict("records"):
            geom = row[geom_col]
            code = jsonable(row["commune"])
            props = {"layer": name, "layer_label": layer_names.get(name, name), "key": str(row["feature_key"]),
                     "name": jsonable(row.get("name")), "change": row["change"],
                     "change_label": w[row["change"]], "class": f"change-{row['change']}",
                     "colour": COLOURS[row["change"]], "commune": code,
                     "commune_name": changes.communes.get(code or "", ("", ""))[0] or None,
                     "attrs": row["attrs"], "attr_labels": {a[0]: field(a[0]) for a in row["attrs"]},
                     "moved_m": jsonable(row["moved_m"]),
                     "before_point": row["before_point"] if isinstance(row["before_point"], list) else None}
            features.append({"type": "Feature", "properties": props,
                             "geometry": None if geom is None else geom.__geo_interface__})
    return jsonify({"type": "FeatureCollection", "from": from_id, "to": to_id, "features": features})


@bp.get("/bien-dong/communes.geojson")
def communes_geojson():
    """Serve the commune outlines of a state (``at``: a changeset id or date; default now), simplified."""
    from ictgis import settings
    from ictgis.crs import to_crs

    store = _required_store()
    at = _bound(store, "at", store.resolve(None))
    frame = store.layer("communes", as_of=at) if at > 0 else None
    if frame is None:
        return jsonify({"type": "FeatureCollection", "features": []})
    frame = frame[["code", "name", frame.geometry.name]].copy()
    frame[frame.geometry.name] = frame.geometry.simplify(50.0)
    shown = to_crs(frame, settings.display_crs)
    return current_app.response_class(shown.to_json(drop_id=True, to_wgs84=False), mimetype="application/geo+json")


@bp.get("/bien-dong/indicators.json")
def indicators_json():
    """Serve the indicators as of ``as_of`` (default: the previous changeset) and today's, as computed.

    ``result`` and ``today_result`` are `ictgis.indicators.compute` on those states; ``coverage`` and
    ``today_coverage`` the populated-area coverage computed so far (`COVERAGE_KEYS` → %), ``pending`` and
    ``today_pending`` the keys still being computed (asking starts them).
    """
    store = _required_store()
    log = store.log()
    ids = [c.id for c in log]
    as_of = _bound(store, "as_of", ids[-2] if len(ids) > 1 else (ids[0] if ids else 0))
    latest = ids[-1] if ids else 0
    cov = page_coverage(store, as_of=as_of, latest=latest, shown=[])
    return jsonify({"as_of": as_of, "today": latest, "result": indicators_at(store, as_of),
                    "today_result": indicators_at(store, latest) if ids else None,
                    "coverage": cov.then, "today_coverage": cov.now, "pending": cov.pending_then,
                    "today_pending": cov.pending_now})


@bp.get("/bien-dong/coverage.json")
def coverage_json():
    """Serve the coverage cells of the as-of table and the 4G coverage chart as computed so far (the page polls it).

    ``pending``: how many values are still being computed (asking starts the next); ``rows``: indicator key →
    ``then_text``, ``now_text``, ``diff_text`` and the values; ``chart``: the 4G chart's ``id``, ``svg``,
    ``computed`` and ``points``; ``points``: changeset id → the 4G % computed so far.
    """
    store = _required_store()
    log = store.log()
    ids = [c.id for c in log]
    lang = g.get("lang", "vi")
    latest = ids[-1] if ids else 0
    as_of = _bound(store, "as_of", ids[0] if ids else 0)
    shown = sample_ids(log, MAX_TIME_POINTS)
    cov = page_coverage(store, as_of=as_of, latest=latest, shown=shown)
    rows = indicator_rows(with_values(indicators_at(store, as_of), cov.then),
                          with_values(indicators_at(store, latest), cov.now), lang=lang,
                          pending_then=cov.pending_then, pending_now=cov.pending_now)
    keep = ("then", "now", "diff", "then_text", "now_text", "diff_text", "then_pending", "now_pending")
    return jsonify({"as_of": as_of, "today": latest,
                    "pending": len(cov.pending_then) + len(cov.pending_now) + len(cov.pending_chart),
                    "rows": {r["key"]: {k: r[k] for k in keep} for r in rows if r["coverage"]},
                    "chart": coverage_chart(shown, cov.chart, lang=lang),
                    "points": {str(k): v for k, v in cov.chart.items()}})


def install(app: Flask) -> None:
    """Register the page and the ``changes_nav`` template function (the nav link's word)."""
    app.register_blueprint(bp)
    app.jinja_env.globals["changes_nav"] = lambda: words()["nav"]

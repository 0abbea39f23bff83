"""The planner's pages: copy a scenario and change its parameters and budgets; try a candidate site on the map.

Planners only (viewers get 403, anonymous users the login page; the JSON route answers 401). A copy is checked by
the rules of the YAML files (`web.scenario_form`) and saved as a new file of the instance's scenario folder; it can
be run at once. A candidate site (`web.candidate`) is evaluated on the served data and can be added to a copy of a
scenario as a new site of an ``add_sites`` intervention.
"""

from __future__ import annotations

import logging
import math
import secrets

from flask import Blueprint, abort, g, jsonify, redirect, render_template, request, url_for

from ictgis import IctgisError, ScenarioError, settings, yamlfile
from ictgis.labels import COSTS, FIELDS
from ictgis.scenario import read as read_scenario

from . import data, scenario_form, scenarios
from .auth import planner_required
from .candidate import HEIGHT_RANGE_M, TECHNOLOGIES, evaluate, inside

logger = logging.getLogger(__name__)
bp = Blueprint("planner", __name__)


def _source_doc(name: str) -> tuple[dict, str]:
    """Return a scenario file's document (its ``base`` made absolute, so that the copy runs from anywhere)."""
    path = scenarios.scenario_path(name)
    try:
        doc = yamlfile.read(path, error=ScenarioError).data
        base = read_scenario(path, check_base=False).base
    except IctgisError as exc:
        abort(400, description=f"{name}: {str(exc).splitlines()[0]}")
    if not isinstance(doc, dict):
        abort(400, description=f"{name}: a scenario is a mapping")
    doc = dict(doc)
    doc["base"] = str(base)
    return doc, str(doc.get("name") or path.stem)


def _copy_name(name: str) -> str:
    return f"{name} (bản sao)" if g.get("lang") != "en" else f"{name} (copy)"


def _save(doc: dict, form: scenario_form.Form | None):
    """Check and save a document; return the new file's name, or the problems placed on the form."""
    problems = scenario_form.check(doc, folder=scenarios.saved_dir(), base=data.version_folder(data.served_version()))
    if not problems:
        taken = {f["file"] for f in scenarios.scenario_files()}
        return scenario_form.save_new(doc, folder=scenarios.saved_dir(), taken=taken).name, []
    fields = form.fields() if form is not None else {}
    general = []
    for problem in problems:
        message = scenario_form.message_vi(getattr(problem, "message", str(problem)))
        target = scenario_form.field_of(getattr(problem, "column", None), set(fields))
        if target is not None:
            fields[target].error = (fields[target].error + "; " if fields[target].error else "") + message
        else:
            general.append(message)
    return None, general


@bp.route("/scenarios/<name>/copy", methods=["GET", "POST"])
@planner_required
def copy_scenario(name: str):
    """Show the form of a copy of a scenario file; on POST check it, save it as a new file, and maybe run it."""
    doc, title = _source_doc(name)
    form = scenario_form.build_form(name, doc, copy_name=_copy_name(title))
    if request.method == "GET":
        return render_template("scenario_copy.html", form=form, source=name, title=title)
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    for f in form.fields().values():  # show what was typed, also where it is wrong
        if f.name in values:
            f.value = values[f.name]
    new_doc = scenario_form.apply_form(doc, values)
    if not new_doc["name"]:
        form.fields()["name"].error = "cần đặt tên cho kịch bản" if g.get("lang") != "en" else "a name is needed"
        return render_template("scenario_copy.html", form=form, source=name, title=title), 400
    saved, general = _save(new_doc, form)
    if saved is None:
        form.errors = general
        return render_template("scenario_copy.html", form=form, source=name, title=title), 400
    logger.info("%s saved scenario %s (a copy of %s)", g.user.name, saved, name)
    if request.form.get("then") == "run":
        return scenarios.start_run(saved, as_json=False)
    return redirect(url_for("scenarios.index", saved=saved))


def _number(body: dict, key: str, lo: float, hi: float, default: float | None = None) -> float:
    raw = body.get(key, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        abort(400, description=f"{key} must be a number from {lo:g} to {hi:g}")
    if not (math.isfinite(value) and lo <= value <= hi):
        abort(400, description=f"{key} must be from {lo:g} to {hi:g}")
    return value


def _candidate_args(body) -> dict:
    technology = str(body.get("technology") or "4G").upper()
    if technology not in TECHNOLOGIES:
        abort(400, description=f"technology must be one of {', '.join(TECHNOLOGIES)}")
    return {"lon": _number(body, "lon", -180, 180), "lat": _number(body, "lat", -90, 90),
            "height_m": _number(body, "height_m", *HEIGHT_RANGE_M, default=settings.default_site_height_m),
            "technology": technology}


@bp.post("/api/candidate")
def api_candidate():
    """Evaluate a candidate site (planners; JSON ``{lon, lat, height_m, technology}``, ``X-CSRF-Token`` header).

    Returns its coverage overlay, the villages it would newly cover, their households and people, and its cost
    (`web.candidate.evaluate`); 400 outside the province's DEM or for bad values, 409 without a DEM or villages.
    """
    if g.user is None:
        return jsonify(error="Unauthorized", message="log in first"), 401
    if not g.user.is_planner:
        abort(403, description="planners only")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="send JSON: {lon, lat, height_m, technology}")
    args = _candidate_args(body)
    ds = data.dataset()
    if ds.dem_path is None or ds.get("villages") is None or ds.get("bts_sites") is None:
        abort(409, description="the served data have no DEM, villages or sites: no coverage can be predicted")
    if not inside(ds, lon=args["lon"], lat=args["lat"]):
        abort(400, description="the site lies outside the province's terrain model (DEM)")
    result = evaluate(ds, **args)
    result["cost_text"] = _money(result["cost_vnd"])
    return jsonify(result)


def _money(vnd: float) -> str:
    from .formats import billion_vnd

    return billion_vnd(vnd, decimals=2)


@bp.post("/scenarios/candidate")
@planner_required
def add_candidate():
    """Add the candidate site to a copy of a scenario (a new ``add_sites`` entry) and save it as a new file."""
    name = request.form.get("scenario", "")
    args = _candidate_args(request.form)
    doc, title = _source_doc(name)
    site_id = f"CAND-{secrets.token_hex(3).upper()}"
    label = "Trạm đề xuất đặt trên bản đồ" if g.get("lang") != "en" else "Site placed on the map"
    doc["interventions"] = [*(doc.get("interventions") or []), {
        "type": "add_sites", "label": label,
        "sites": [{"id": site_id, "lon": round(args["lon"], 6), "lat": round(args["lat"], 6),
                   "height_m": args["height_m"], "tech": args["technology"]}]}]
    doc["name"] = f"{title} + {site_id}"
    saved, general = _save(doc, None)
    if saved is None:
        abort(400, description="; ".join(general))
    logger.info("%s added site %s to a copy of %s: %s", g.user.name, site_id, name, saved)
    return redirect(url_for("scenarios.index", saved=saved))


def install(app) -> None:
    """Register the planner's blueprint."""
    app.register_blueprint(bp)
    app.jinja_env.globals.setdefault("planner_technologies", TECHNOLOGIES)
    app.jinja_env.globals.setdefault("planner_heights", HEIGHT_RANGE_M)
    app.jinja_env.globals.update(param_label=param_label, planner_words=planner_words,
                                 planner_scenarios=planner_scenarios)


#: Names of the form's fields (scenario parameters and intervention keys); a key not listed is shown as it is.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "name": ("Tên kịch bản", "Scenario name"), "description": ("Mô tả", "Description"),
    "structure": ("Cấu trúc hành chính", "Administrative structure"),
    "rsrp_threshold_dbm": ("Ngưỡng phủ sóng RSRP (dBm)", "Coverage threshold RSRP (dBm)"),
    "usd_to_vnd": ("Tỷ giá (VNĐ/USD)", "Exchange rate (VND/USD)"),
    "discount_rate": ("Tỷ lệ chiết khấu (0,05 = 5 %)", "Discount rate (0.05 = 5 %)"),
    "horizon_years": ("Số năm tính toán", "Horizon (years)"),
    "opex_share_per_year": ("Chi phí vận hành/năm (tỷ lệ vốn đầu tư)", "Opex per year (share of capex)"),
    "site_greenfield_usd": ("Chi phí trạm mới (USD)", "New site cost (USD)"),
    "site_upgrade_usd": ("Chi phí nâng cấp trạm (USD)", "Site upgrade cost (USD)"),
    "site_rent_usd_per_year": ("Thuê mặt bằng trạm (USD/năm)", "Site rent (USD/year)"),
    "solar_kit_usd": ("Bộ điện mặt trời (USD)", "Solar kit (USD)"),
    "grid_connection_usd": ("Đấu nối điện lưới (USD)", "Grid connection (USD)"),
    "diesel_litres_per_year": ("Dầu diesel mỗi trạm (lít/năm)", "Diesel per site (L/year)"),
    "diesel_vnd_per_litre": ("Giá dầu diesel (VNĐ/lít)", "Diesel price (VND/L)"),
    "co2_kg_per_litre_diesel": ("CO₂ mỗi lít diesel (kg)", "CO₂ per litre of diesel (kg)"),
    "bdvhx_capex_vnd": ("Vốn đầu tư một điểm BĐVHX (VNĐ)", "Capex per BĐVHX (VND)"),
    "bdvhx_opex_vnd_per_year": ("Vận hành một điểm BĐVHX (VNĐ/năm)", "Opex per BĐVHX (VND/year)"),
    "fiber_opex_share_per_year": ("Vận hành cáp quang/năm (tỷ lệ vốn)", "Fiber opex per year (share of capex)"),
    "label": ("Tên hạng mục", "Item name"), "budget_vnd": ("Ngân sách (VNĐ)", "Budget (VND)"),
    "capex_vnd": (COSTS["capex_vnd"].heading("vi"), COSTS["capex_vnd"].heading("en")),
    "opex_vnd_per_year": ("Vận hành (VNĐ/năm)", "Opex (VND/year)"),
    "optimize.n_sites": ("Số trạm mới", "Number of new sites"),
    "optimize.budget_vnd": ("Ngân sách trạm mới (VNĐ)", "New sites budget (VND)"),
    "optimize.cover_all": ("Phủ mọi thôn, bản", "Cover every village"),
    "optimize.technology": ("Công nghệ", "Technology"),
    "optimize.height_m": (FIELDS["height_m"].heading("vi"), FIELDS["height_m"].heading("en")),
    "optimize.candidates": ("Vị trí ứng viên", "Candidate sites"), "optimize.operator": ("Doanh nghiệp", "Operator"),
    "to": ("Chuyển sang", "Change to"), "installation": ("Cách lắp đặt", "Installation"),
}

WORDS: dict[str, tuple[str, str]] = {
    "computing": ("Đang tính vùng phủ…", "Computing the coverage…"),
    "new_villages": ("Thôn, bản được phủ sóng mới", "Villages newly covered"),
    "households": ("Hộ gia đình", "Households"), "people": ("Người dân", "People"),
    "cost": ("Chi phí trạm", "Site cost"), "in_reach": ("Thôn, bản trong vùng phủ", "Villages in its coverage"),
    "none_new": ("Không có thôn, bản nào được phủ sóng mới.", "No village newly covered."),
    "failed": ("Không tính được", "Could not compute"), "drag": ("Kéo điểm để di chuyển trạm.", "Drag the marker to "
                                                                                            "move the site."),
    "base_pending": ("(chưa trừ vùng phủ 4G hiện có: đang tính)", "(the present 4G coverage is still computed)"),
}


def _pick(pair: tuple[str, str]) -> str:
    return pair[1] if g.get("lang") == "en" else pair[0]


def param_label(key: str) -> str:
    """Return the form's name for a parameter or intervention key, in the page's language."""
    return _pick(FIELD_LABELS[key]) if key in FIELD_LABELS else key


def planner_words() -> dict[str, str]:
    """Return the words of the candidate-site panel in the page's language."""
    return {k: _pick(v) for k, v in WORDS.items()}


def planner_scenarios() -> list[dict]:
    """Return the scenario files a candidate can be added to (those that can be used)."""
    return [f for f in scenarios.scenario_files() if not f.get("problem")]

"""Scenario pages: the scenario files, background runs with progress, before/after indicators, downloads, compare.

Runs are executed by `web.jobs` through ``ictgis.scenario.run``, each in a worker process of its own; planners can
cancel them. Results are read from the run's output folder as the scenario module writes them
(``indicators_before.json``, ``indicators_after.json``, layers, tables).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)

from ictgis import IctgisError, ScenarioError, yamlfile

from . import data, jobs
from .auth import login_required
from .paths import public

logger = logging.getLogger(__name__)
bp = Blueprint("scenarios", __name__, url_prefix="/scenarios")
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}\.ya?ml$")


def scenarios_dir() -> Path:
    """Folder of the scenario files."""
    return Path(current_app.config["SCENARIOS_DIR"])


def saved_dir() -> Path:
    """Folder of the scenarios planners save from the web (``<instance>/scenarios``), listed after `scenarios_dir`."""
    return Path(current_app.instance_path) / "scenarios"


def scenario_dirs() -> list[Path]:
    """Return the folders whose scenario files are listed and run: `scenarios_dir`, then `saved_dir` (when another)."""
    first, second = scenarios_dir(), saved_dir()
    return [first] if second.resolve() == first.resolve() else [first, second]


def scenario_files() -> list[dict]:
    """Return ``{"file", "name", "description"[, "problem"]}`` for each scenario file.

    Name and description come from the YAML, read within `ictgis.yamlfile`'s limits (size, alias expansion);
    ``problem``, only for a file that cannot be used, says why (too large, not valid YAML, not a mapping).
    """
    out = []
    seen = set()
    paths = [p for folder in scenario_dirs() if folder.is_dir()
             for p in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])]
    for path in paths:
        if not NAME_RE.match(path.name) or path.name in seen:
            continue
        seen.add(path.name)
        entry = {"file": path.name, "name": path.stem, "description": ""}
        try:
            doc = yamlfile.read(path, error=ScenarioError).data
            if not isinstance(doc, dict):
                raise ScenarioError(f"{path.name}: a scenario is a mapping")
            entry["name"] = str(doc.get("name") or path.stem)
            entry["description"] = str(doc.get("description") or "")
        except (OSError, IctgisError) as exc:
            problems = getattr(exc, "problems", None)
            entry["problem"] = public(problems[0] if problems else exc)
        out.append(entry)
    return out


def scenario_path(name: str) -> Path:
    """Return the path of a listed scenario file (the first of `scenario_dirs` that has it), or abort with 404."""
    if not NAME_RE.match(name or ""):
        abort(404, description=f"no scenario file {name!r}")
    for folder in scenario_dirs():
        path = folder / name
        if path.is_file():
            return path
    abort(404, description=f"no scenario file {name!r}")


def _refuse_non_planner(*, as_json: bool, next_url: str):
    """Return the refusal of an anonymous user (401 JSON or the login page); 403 for viewers; None for planners."""
    if g.user is None:
        if as_json:
            return jsonify(error="Unauthorized", message="log in first"), 401
        return redirect(url_for("auth.login", next=next_url))
    if not g.user.is_planner:
        abort(403, description="planners only")
    return None


def record_or_404(run_id: str) -> dict:
    """Return a run's record (`jobs.JobRunner.get`), or abort with 404."""
    record = jobs.runner().get(run_id)
    if record is None:
        abort(404, description=f"no run {run_id!r}")
    return record


def requested_version() -> int:
    """Return the dataset version a run request asks for (``version`` in a JSON body or the form), else the served.

    A run uses the chosen version's folder instead of the scenario file's ``base:`` (0 is the base data folder).
    Aborts with 400 for anything but the number of an existing version.
    """
    body = request.get_json(silent=True) if request.is_json else None
    raw = body.get("version") if isinstance(body, dict) else request.form.get("version")
    if raw is None or raw == "":
        return data.served_version()
    known = [0, *(v["n"] for v in data.versions())]
    try:
        n = int(raw) if not isinstance(raw, (bool, float)) else None
    except (TypeError, ValueError):
        n = None
    if n not in known:
        abort(400, description=f"no dataset version {raw!r}: choose one of {', '.join(map(str, known))} "
                               "(0 is the base data)")
    return n


def dataset_versions() -> list[dict]:
    """Return the dataset versions a run can use, newest first: ``{"n", "label", "served"}`` (0: the base data)."""
    served = data.served_version()
    out = [{"n": v["n"], "label": v["label"], "served": v["n"] == served} for v in reversed(data.versions())]
    return [*out, {"n": 0, "label": data.base_dir().name, "served": served == 0}]


def start_run(name: str, *, as_json: bool):
    """Start a run (planners only); JSON 202 or a redirect to the run page; 503 while runs are not available.

    The run uses the dataset version the request names (default: the served one); the run's record and its
    ``manifest.json`` say which (``dataset_version``, ``dataset_folder``).
    """
    refused = _refuse_non_planner(as_json=as_json, next_url=url_for("scenarios.index"))
    if refused is not None:
        return refused
    path = scenario_path(name)
    version = requested_version()
    folder = data.version_folder(version)
    info = {"dataset_version": version, "dataset_folder": data.folder_label(folder)}
    try:
        run_id = jobs.runner().submit(path, user=g.user.name, info=info,
                                      options={"base": str(folder), "base_info": info})
    except RuntimeError as exc:
        abort(503, description=str(exc))
    if as_json:
        return jsonify(id=run_id, url=url_for("api.api_run", run_id=run_id)), 202
    return redirect(url_for("scenarios.run_page", run_id=run_id))


@bp.get("/")
@login_required
def index():
    """List the scenario files and the runs."""
    return render_template("scenarios.html", files=scenario_files(), runs=jobs.runner().list(),
                           available=jobs.runner().runner() is not None, versions=dataset_versions())


@bp.post("/<name>/run")
def run(name: str):
    """Run a scenario file in the background (planners)."""
    return start_run(name, as_json=False)


@bp.get("/runs/<run_id>")
@login_required
def run_page(run_id: str):
    """One run: progress (polled), then what changed (first), the results, the costs and the outputs to download."""
    from .runview import run_view

    record = record_or_404(run_id)
    return render_template("run.html", run=record, view=run_view(record))


def cancel_run(run_id: str, *, as_json: bool):
    """Cancel a queued or running run (planners); JSON record or a redirect to the run page."""
    refused = _refuse_non_planner(as_json=as_json, next_url=url_for("scenarios.run_page", run_id=run_id))
    if refused is not None:
        return refused
    record = jobs.runner().cancel(run_id)
    if record is None:
        abort(404, description=f"no run {run_id!r}")
    if as_json:
        return jsonify(record)
    return redirect(url_for("scenarios.run_page", run_id=run_id))


@bp.post("/runs/<run_id>/cancel")
def cancel(run_id: str):
    """Cancel a run (planners)."""
    return cancel_run(run_id, as_json=False)


@bp.get("/runs/<run_id>/files/<path:filename>")
@login_required
def download(run_id: str, filename: str):
    """Download an output file of a run (paths outside the run's output folder are refused)."""
    folder = jobs.runner().run_dir(run_id)
    if folder is None:
        abort(404, description=f"no run {run_id!r}")
    return send_from_directory(folder / "out", filename, as_attachment=True)


@bp.get("/compare")
@login_required
def compare():
    """Show runs side by side (``?a=RUN&b=RUN``): baseline, runs, difference, costs; a message when none chosen."""
    from .runview import compare_view

    ids = [i for i in (request.args.get("a", ""), request.args.get("b", "")) if i]
    records = [jobs.runner().get(i) for i in ids]
    if len(ids) < 2 or any(r is None for r in records):
        message = "choose_two_runs" if len(ids) < 2 else "unknown_run"
        return render_template("compare.html", runs=[], view=None, message=message), 200 if len(ids) < 2 else 404
    return render_template("compare.html", runs=records, view=compare_view(records), message=None)

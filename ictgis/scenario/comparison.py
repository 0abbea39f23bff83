"""Finished scenario runs side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .. import indicators
from .._errors import Problem, ScenarioError
from .runner import KEY_INDICATORS


def compare(run_dirs: list[str | Path]) -> pd.DataFrame:
    """Key indicators (after) and costs of finished runs side by side, one column per run."""
    columns = {}
    for run_dir in map(Path, run_dirs):
        if not (run_dir / "manifest.json").exists():
            raise ScenarioError(f"{run_dir} is not a finished scenario run",
                                [Problem(str(run_dir), "no manifest.json (unfinished or not a run folder)")])
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        after = json.loads((run_dir / "indicators_after.json").read_text(encoding="utf-8"))
        col = {key: indicators.lookup(after, key) for key in KEY_INDICATORS}
        col["cost.capex_vnd"] = summary["cost_total_capex_vnd"]
        col["cost.opex_vnd_per_year"] = summary["cost_total_opex_vnd_per_year"]
        col["cost.npv_vnd"] = summary["cost_total_npv_vnd"]
        name = summary["name"]
        while name in columns:
            name += "'"
        columns[name] = col
    before_dir = Path(run_dirs[0])
    before = json.loads((before_dir / "indicators_before.json").read_text(encoding="utf-8"))
    base = {key: indicators.lookup(before, key) for key in KEY_INDICATORS} | {
        "cost.capex_vnd": 0, "cost.opex_vnd_per_year": 0, "cost.npv_vnd": 0}
    frame = pd.DataFrame({"base": base, **columns})
    frame.index.name = "indicator"
    return frame.dropna(how="all")

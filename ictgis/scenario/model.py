"""Scenario files read and checked: every problem at once, each with its line; ids checked against the base data.

The keys of each intervention and their kinds are declared by its module (see `ictgis.scenario.registry`); the
checks here are built from those declarations, as is `ictgis.scenario.json_schema`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import settings, yamlfile
from .._errors import IctgisError, Problem, ScenarioError
from ..io import load
from .fields import BaseIds, Checker, Kind, check_value
from .registry import INTERVENTIONS

TOP_KEYS = {"name": str, "description": str, "base": str, "structure": str, "parameters": dict,
            "interventions": list}
PARAMETERS = {
    "rsrp_threshold_dbm": float, "usd_to_vnd": float, "discount_rate": float, "horizon_years": int,
    "opex_share_per_year": float, "site_greenfield_usd": float, "site_upgrade_usd": float,
    "site_rent_usd_per_year": float, "solar_kit_usd": float, "grid_connection_usd": float,
    "diesel_litres_per_year": float, "diesel_vnd_per_litre": float, "co2_kg_per_litre_diesel": float,
    "bdvhx_capex_vnd": float, "bdvhx_opex_vnd_per_year": float, "fiber_opex_share_per_year": float,
    "calibration": str,
    "sharing_distance_m": float, "colocation_max_distance_m": float, "colocation_saving_usd": float,
    "colocation_rent_usd_per_year": float,
    "clutter_loss_db": dict,
}

def _resolved(params: dict, path: Path) -> dict:
    """Parameters with a `calibration` file made absolute (it is given relative to the scenario file)."""
    out = dict(params)
    if isinstance(out.get("calibration"), str):
        out["calibration"] = str((path.parent / out["calibration"]).resolve())
    return out


@dataclass
class Scenario:
    """A parsed, checked scenario file."""

    path: Path
    name: str
    description: str
    base: Path
    structure: str
    parameters: dict
    interventions: list[dict]
    text_sha256: str
    lines: dict[tuple, int] = field(default_factory=dict, repr=False)


# ------------------------------------------------------------------------------------------- reading/checking
def line_map(node: yaml.Node, path: tuple = ()) -> dict[tuple, int]:
    """Map each key path of a YAML document to its 1-based line."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, key.value)
            lines[sub] = key.start_mark.line + 1
            lines.update({k: v for k, v in line_map(value, sub).items() if k != sub})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(line_map(item, (*path, i)))
    return lines


def read(path: str | Path, *, check_base: bool = True, base: str | Path | None = None) -> Scenario:
    """Read and check a scenario file, raising one ScenarioError that lists every problem with its line.

    Parameters
    ----------
    path
        The YAML file.
    check_base
        Also load the base data to check site and village ids named by interventions.
    base
        Data folder to use instead of the file's ``base:`` (e.g. a dataset version chosen in the web app); the
        file itself is not changed.

    Raises
    ------
    ScenarioError
        Unknown keys, wrong types, negative budgets or costs, unknown ids … each with its line number; a file
        larger than 1 MB or expanding through its aliases beyond `ictgis.yamlfile.MAX_VALUES` values.
    """
    path = Path(path)
    label = path.name
    try:
        doc = yamlfile.read(path, error=ScenarioError, label=label)  # bounded: size, aliases, depth
    except FileNotFoundError:
        raise ScenarioError(f"{path}: scenario file not found") from None
    text, root, data = doc.text, doc.root, doc.data
    lines = line_map(root) if root is not None else {}
    chk = Checker(label, lines)
    if not isinstance(data, dict):
        raise ScenarioError(f"{label}: a scenario is a mapping", [Problem(label, "expected keys " +
                                                                          ", ".join(TOP_KEYS))])
    for key, value in data.items():
        if key not in TOP_KEYS:
            chk.add((key,), f"unknown key '{key}' (known: {', '.join(TOP_KEYS)})")
        else:
            chk.typed((key,), value, TOP_KEYS[key])
    for key in ("name", "interventions"):
        if key not in data:
            chk.add((), f"missing required key '{key}'")
    structure = str(data.get("structure", "2019"))
    if structure not in ("2019", "2025"):
        chk.add(("structure",), f"structure {structure!r} is not 2019 or 2025")
    params = data.get("parameters") or {}
    if isinstance(params, dict):
        for key, value in params.items():
            if key not in PARAMETERS:
                chk.add(("parameters", key), f"unknown parameter '{key}'")
            elif key == "calibration":
                if chk.typed(("parameters", key), value, str) and not (path.parent / value).is_file():
                    chk.add(("parameters", key), f"calibration file {value!r} not found (relative to the "
                            "scenario file; made by `ictgis calibrate`)")
            elif PARAMETERS[key] is dict:
                if chk.typed(("parameters", key), value, dict):
                    for cls, db in value.items():
                        if not str(cls).isdigit() or isinstance(db, bool) or not isinstance(db, (int, float)):
                            chk.add(("parameters", key, cls), f"expected a land-cover class code: dB, got "
                                    f"{cls!r}: {db!r}")
            elif chk.typed(("parameters", key), value, PARAMETERS[key]) and value < 0 and key != \
                    "rsrp_threshold_dbm":
                chk.add(("parameters", key), f"{key} must not be negative")
    items = data.get("interventions")
    if not isinstance(items, list):
        items = []
    for i, item in enumerate(items):
        _check_intervention(chk, ("interventions", i), item)
    if base is not None:
        base = Path(base).resolve()
    elif "base" in data:
        base = (path.parent / str(data.get("base", settings.default_data_dir))).resolve()
    else:
        base = _default_base()
    if chk.problems:
        raise ScenarioError(f"{len(chk.problems)} problem(s) in {label}:", chk.problems)
    scenario = Scenario(path=path, name=str(data["name"]), description=str(data.get("description", "")),
                        base=base, structure=structure, parameters=_resolved(params, path), interventions=list(items),
                        text_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), lines=lines)
    if check_base:
        _check_against_base(scenario, chk)
        if chk.problems:
            raise ScenarioError(f"{len(chk.problems)} problem(s) in {label}:", chk.problems)
    return scenario


def rebased(scenario: Scenario, base: str | Path) -> Scenario:
    """Return a copy of a read scenario that runs on another data folder, checked against it.

    Raises
    ------
    ScenarioError
        When `base` does not load or lacks ids the interventions name.
    """
    sc = dataclasses.replace(scenario, base=Path(base).resolve())
    chk = Checker(sc.path.name, sc.lines)
    _check_against_base(sc, chk)
    if chk.problems:
        raise ScenarioError(f"{len(chk.problems)} problem(s) in {sc.path.name}:", chk.problems)
    return sc


def _default_base() -> Path:
    from ..io import default_data_dir

    return default_data_dir().resolve()


def _check_intervention(chk: Checker, path: tuple, item: object) -> None:
    if not isinstance(item, dict):
        chk.add(path, "an intervention is a mapping with a 'type'")
        return
    kind = item.get("type")
    if kind not in INTERVENTIONS:
        chk.add((*path, "type"), f"unknown intervention type {kind!r} (known: {', '.join(INTERVENTIONS)})")
        return
    spec = INTERVENTIONS[kind]
    allowed = spec.keys
    for key, value in item.items():
        if key == "type":
            continue
        if key not in allowed:
            chk.add((*path, key), f"unknown key '{key}' for {kind} (known: {', '.join(allowed)})")
            continue
        check_value(chk, (*path, key), value, allowed[key])
    for key in spec.required:
        if key not in item:
            chk.add(path, f"{kind} needs '{key}'")
    if spec.check is not None:
        spec.check(chk, path, item)
    for key, value in item.items():
        field_kind = allowed.get(key)
        if isinstance(field_kind, Kind):
            field_kind.check_entries(chk, (*path, key), value)


def _check_against_base(scenario: Scenario, chk: Checker) -> None:
    try:
        base = load(scenario.base)  # its repairs reach the caller as DataWarnings (the CLI prints them)
    except IctgisError as exc:
        chk.add(("base",), f"base data {scenario.base} does not load: {str(exc).splitlines()[0]}")
        return
    ids = BaseIds(base)
    for i, item in enumerate(scenario.interventions):
        path = ("interventions", i)
        spec = INTERVENTIONS.get(str(item.get("type")))
        if spec is None:
            continue
        for key, kind in spec.keys.items():
            if key in item and isinstance(kind, Kind):
                kind.check_base(chk, (*path, key), item[key], ids)
        if spec.check_base is not None:
            spec.check_base(chk, path, item, ids)

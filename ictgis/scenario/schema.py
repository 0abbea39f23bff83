"""The JSON Schema of scenario files, built from the declarations `ictgis.scenario.read` checks against."""

from __future__ import annotations

from .fields import kind_schema
from .model import PARAMETERS
from .registry import INTERVENTIONS


def json_schema() -> dict:
    """Return a JSON Schema (draft 2020-12) of scenario files, built from the same tables `read` checks against.

    Editors that understand JSON Schema (e.g. VS Code's YAML support) use it for completion and checks; `read`
    remains the authority (it also checks ids against the base data and reports line numbers).
    """
    variants = []
    for name, spec in INTERVENTIONS.items():
        props = {"type": {"const": name}} | {k: kind_schema(v) for k, v in spec.keys.items()}
        variants.append({"type": "object", "additionalProperties": False, "properties": props,
                         "required": ["type", *spec.required]})
    params = {k: ({"type": "number"} if k == "rsrp_threshold_dbm" else kind_schema(v)) for k, v in PARAMETERS.items()}
    params["clutter_loss_db"] = {"type": "object", "propertyNames": {"pattern": "^[0-9]+$"},
                                 "additionalProperties": {"type": "number"}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ictgis scenario", "type": "object", "additionalProperties": False,
        "required": ["name", "interventions"],
        "properties": {
            "name": {"type": "string"}, "description": {"type": "string"}, "base": {"type": "string"},
            "structure": {"enum": ["2019", "2025"]},
            "parameters": {"type": "object", "additionalProperties": False, "properties": params},
            "interventions": {"type": "array", "items": {"oneOf": variants}},
        },
    }

"""The ``project`` intervention: a non-spatial investment line, so the cost table matches the plan.

::

    - type: project
      name: Nền tảng đô thị thông minh
      capex_vnd: 110000000000
"""

from __future__ import annotations

from ...io import Dataset
from .._base import Context, CostLine, Intervention, Outcome


def apply_project(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Add a non-spatial investment line (e.g. the smart-city platform) so the cost table matches the plan."""
    capex = float(spec["capex_vnd"])
    out = Outcome()
    out.costs.append(CostLine(ctx.label, spec.get("name", "project"), 1, capex,
                              float(spec.get("opex_vnd_per_year", 0.0)), int(spec.get("start_year", 0)),
                              spec.get("years")))
    return out


INTERVENTION = Intervention("project", {"name": str, "capex_vnd": float, "opex_vnd_per_year": float,
                                        "start_year": int, "years": int}, apply_project,
                            required=("name", "capex_vnd"),
                            order=70)

"""Investment scenarios: YAML files of interventions, validated, run on copies of the base layers, compared.

A scenario file::

    name: plan-2022
    description: Kế hoạch 2022 của Sở TT&TT
    base: ../data/shapefiles        # data folder, relative to this file
    structure: "2019"               # or "2025"
    parameters:                     # overrides of ictgis.settings (costs, rates, threshold …)
      usd_to_vnd: 25400
      discount_rate: 0.05
      horizon_years: 10
    interventions:
      - type: power                 # diesel → solar for the chosen sites (default: all diesel sites)
        to: solar
      - type: upgrade_sites
        sites: {where: {has: 3G, lacks: 4G}}
        add: [4G]
      - type: post_offices
        add: missing_bdvhx
      - type: project
        name: Nền tảng đô thị thông minh
        capex_vnd: 110000000000

`run` never modifies the base: every intervention works on a copy. Results are written into the output folder
atomically (a temporary folder renamed at the end; `manifest.json` is written last), so a half-finished run never
looks finished.

The package: `model` (`Scenario`, `read`, `rebased`: reading and checking), `schema` (`json_schema`), `runner`
(`run`, indicators, `delta_table`, `cost_frame`), `outputs` (the files a run writes), `comparison` (`compare`);
`_base` (`Intervention`, `Context`, `CostLine`, `Outcome`, the selectors) and `fields` (the kinds of keys, checked
and turned into JSON Schema); one module per intervention type (`power`, `upgrade_sites`, `retire`, `add_sites`,
`post_offices`, `fiber`, `project`) registered in `registry.INTERVENTIONS`.
"""

from __future__ import annotations

from ._base import (
    SITE_SELECTION,
    SITE_WHERE,
    VILLAGE_WHERE,
    Context,
    CostLine,
    Intervention,
    Outcome,
    select_sites,
    select_villages,
)
from .comparison import compare
from .interventions.add_sites import OPTIMIZE_KEYS
from .model import PARAMETERS, TOP_KEYS, Scenario, read, rebased
from .outputs import changes
from .registry import INTERVENTIONS
from .runner import (
    KEY_INDICATORS,
    RunResult,
    compute_indicators,
    cost_frame,
    delta_rows,
    delta_table,
    measure,
    run,
)
from .schema import json_schema

#: Keys each intervention type must have.
REQUIRED: dict[str, tuple[str, ...]] = {name: i.required for name, i in INTERVENTIONS.items() if i.required}
#: The apply function of each intervention type.
APPLY = {name: i.apply for name, i in INTERVENTIONS.items()}

__all__ = [
    "APPLY", "INTERVENTIONS", "KEY_INDICATORS", "OPTIMIZE_KEYS", "PARAMETERS",
    "REQUIRED", "SITE_SELECTION", "SITE_WHERE", "TOP_KEYS", "VILLAGE_WHERE", "Context", "CostLine", "Intervention",
    "Outcome", "RunResult", "Scenario", "changes", "compare", "compute_indicators", "cost_frame", "delta_rows",
    "delta_table",
    "json_schema", "measure", "read", "rebased", "run", "select_sites", "select_villages",
]

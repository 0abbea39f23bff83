"""The one table of intervention types: adding a type is one module declaring an `Intervention` and one line here.

The order is the order of ``known:`` lists in messages and of the variants in the JSON Schema.
"""

from __future__ import annotations

from . import add_sites, fiber, post_offices, power, project, retire, upgrade_sites
from ._base import Intervention

INTERVENTIONS: dict[str, Intervention] = {i.name: i for i in (
    power.INTERVENTION,
    upgrade_sites.INTERVENTION,
    retire.INTERVENTION,
    add_sites.INTERVENTION,
    post_offices.INTERVENTION,
    fiber.INTERVENTION,
    project.INTERVENTION,
)}

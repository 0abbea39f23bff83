"""ictgis: GIS planning for a provincial Department of Information and Communications in Vietnam.

Layers (communes, villages, BTS sites, fiber routes, post offices, roads, a DEM) in the province's VN-2000 grid
feed coverage, fiber and investment-scenario analyses.
"""

from __future__ import annotations

import logging

from ._errors import (
    CRSError,
    CRSWarning,
    DataWarning,
    IctgisError,
    LayerError,
    PlacementWarning,
    Problem,
    RepairWarning,
    ScenarioError,
)

__all__ = ["CRSError", "CRSWarning", "DataWarning", "IctgisError", "LayerError", "PlacementWarning", "Problem",
           "RepairWarning", "ScenarioError", "__version__"]
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

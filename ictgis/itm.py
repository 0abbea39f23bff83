"""Cross-check of one path with the ITS Irregular Terrain Model (Longley–Rice) through `itmlogic` (optional).

ITM 1.2.2 in point-to-point mode over the terrain profile, the median (50 % time, locations and situations) basic
transmission loss. Not used for the raster: it is a second opinion for a link (``ictgis profile --model itm``).
`itmlogic` is an optional dependency: ``pip install "ictgis[itm]"``.

Ground and atmosphere (ITM's usual "average ground, continental temperate" set, as the ITS reference runs and
SPLAT! default to): relative permittivity 15, conductivity 0.005 S/m, surface refractivity 314 N-units, climate 5
(continental temperate), vertical polarisation, variability mode 12 (broadcast, accidental). ITM's stated ranges:
20 MHz–20 GHz, 1–2000 km, antennas 0.5–3000 m; shorter paths run, with a warning in the result.

References
----------
G. A. Hufford, "The ITS Irregular Terrain Model, version 1.2.2: the algorithm", NTIA/ITS, 1995. itmlogic:
E. Oughton et al., "itmlogic: The Irregular Terrain Model by Longley and Rice", JOSS 5(51), 2020.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["ITM_GROUND", "itm_loss_db"]

#: Ground, atmosphere and variability constants handed to ITM (see the module docstring).
ITM_GROUND: dict[str, float] = {"eps": 15.0, "sgm": 0.005, "ens": 314.0, "klim": 5, "ipol": 1, "mdvar": 12}


def itm_loss_db(distance_m: np.ndarray, elevation_m: np.ndarray, *, tx_height_m: float, rx_height_m: float,
                frequency_mhz: float, quantile: float = 0.5) -> dict:
    """Median ITM basic transmission loss over an evenly sampled terrain profile.

    Parameters
    ----------
    distance_m, elevation_m
        The profile from the transmitter to the receiver, evenly spaced (e.g. :func:`ictgis.terrain.profile`).
    tx_height_m, rx_height_m
        Antenna heights above the ground (m).
    frequency_mhz
        Carrier frequency (20–20,000 MHz).
    quantile
        Fraction of time, locations and situations the loss is not exceeded (0.5: the median).

    Returns
    -------
    dict
        ``loss_db`` (basic transmission loss), ``free_space_db``, ``excess_db`` (ITM's attenuation over free space),
        ``region`` (ITM's: "line of sight" within the smooth-earth horizons, where terrain irregularity still adds
        loss, "diffraction" or "scatter") and ``warning``
        (ITM's own warning code ``kwx``, 0 = none; or a note when the path is shorter than ITM's 1 km).

    Raises
    ------
    ImportError
        When itmlogic is not installed (``pip install "ictgis[itm]"``).
    ValueError
        For a profile that is not evenly spaced or has fewer than 3 points.
    """
    try:
        from itmlogic.misc.qerfi import qerfi
        from itmlogic.preparatory_subroutines.qlrpfl import qlrpfl
        from itmlogic.statistics.avar import avar
    except ImportError as exc:
        raise ImportError('the ITM cross-check needs itmlogic: pip install "ictgis[itm]" (or pip install '
                          "itmlogic)") from exc
    d = np.asarray(distance_m, dtype=float)
    z = np.asarray(elevation_m, dtype=float)
    if d.size < 3 or d.shape != z.shape:
        raise ValueError("ITM needs a profile of at least 3 points")
    step = float(d[-1] - d[0]) / (d.size - 1)
    if not np.allclose(np.diff(d), step, rtol=1e-6, atol=1e-6):
        raise ValueError("ITM needs an evenly spaced profile")
    g = ITM_GROUND
    wn = frequency_mhz / 47.7
    prop: dict[str, Any] = {"pfl": [d.size - 1, step, *z.tolist()], "hg": [float(tx_height_m), float(rx_height_m)],
            "fmhz": float(frequency_mhz), "wn": wn, "ens": g["ens"], "klim": g["klim"], "klimx": 0,
            "mdvar": g["mdvar"], "mdvarx": g["mdvar"], "lvar": 5, "kwx": 0}
    prop["gme"] = 157e-9 * (1.0 - 0.04665 * math.exp(prop["ens"] / 179.3))
    zq = complex(g["eps"], 376.62 * g["sgm"] / wn)
    zgnd = np.sqrt(zq - 1.0)
    prop["zgnd"] = zgnd / zq if g["ipol"] else zgnd
    prop = qlrpfl(prop)
    free_space = 32.45 + 20.0 * math.log10(frequency_mhz) + 20.0 * math.log10(prop["dist"] / 1000.0)
    zt, zl, zc = (float(x) for x in qerfi([quantile, quantile, quantile]))
    excess, prop = avar(zt, zl, zc, prop)
    dist, dlsa, dx = prop["dist"], prop.get("dlsa", math.inf), prop.get("dx", math.inf)
    region = "line of sight" if dist < dlsa else ("diffraction" if dist < dx else "scatter")
    warning: int | str = int(prop.get("kwx", 0))
    if dist < 1000.0:
        warning = f"path of {dist:.0f} m is shorter than ITM's 1 km (kwx {warning})"
    return {"loss_db": round(float(free_space + excess), 2), "free_space_db": round(free_space, 2),
            "excess_db": round(float(excess), 2), "region": region, "warning": warning}

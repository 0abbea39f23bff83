"""5G NR path loss of 3GPP TR 38.901 (V17.0.0, Table 7.4.1-1): rural macro (RMa) and urban macro (UMa).

Used by the coverage engine for sites whose carrier is at or above ``settings.tr38901_from_mhz`` (3000 MHz: NR
n77/n78, 3.3–3.8 GHz in Vietnam); Hata / COST-231 stays below (700–2600 MHz). RMa is used for sites in suburban
and rural communes (thị trấn, xã), UMa for urban ones (phường): `scenario_of`.

Formulas (d in m, fc in GHz, c = 3·10⁸ m/s; d3D = √(d2D² + (hBS − hUT)²))::

    RMa LOS   PL1 = 20 log10(40π d3D fc / 3) + min(0.03 h^1.72, 10) log10(d3D) − min(0.044 h^1.72, 14.77)
                    + 0.002 log10(h) d3D                                        10 m ≤ d2D ≤ dBP
              PL2 = PL1(dBP) + 40 log10(d3D / dBP)                              dBP ≤ d2D ≤ 10 km
              dBP = 2π hBS hUT fc / c
    RMa NLOS  max(PL_LOS, PL'),                                                 10 m ≤ d2D ≤ 5 km
              PL' = 161.04 − 7.1 log10(W) + 7.5 log10(h) − (24.37 − 3.7 (h/hBS)²) log10(hBS)
                    + (43.42 − 3.1 log10(hBS)) (log10(d3D) − 3) + 20 log10(fc) − (3.2 (log10(11.75 hUT))² − 4.97)
    UMa LOS   PL1 = 28.0 + 22 log10(d3D) + 20 log10(fc)                         10 m ≤ d2D ≤ d'BP
              PL2 = 28.0 + 40 log10(d3D) + 20 log10(fc) − 9 log10(d'BP² + (hBS − hUT)²)   d'BP ≤ d2D ≤ 5 km
              d'BP = 4 (hBS − hE)(hUT − hE) fc / c, hE = 1 m (UE below 13 m)
    UMa NLOS  max(PL_LOS, PL'),  PL' = 13.54 + 39.08 log10(d3D) + 20 log10(fc) − 0.6 (hUT − 1.5)    10 m ≤ d2D ≤ 5 km

Validity (TR 38.901 Table 7.4.1-1 and its notes): RMa 0.5–30 GHz, hBS 10–150 m (default 35 m), hUT 1–10 m
(1.5 m), h (average building height) 5–50 m (5 m), W (street width) 5–50 m (20 m); UMa 0.5–100 GHz, hBS 25 m,
hUT 1.5–22.5 m. Beyond 10 km (RMa LOS) or 5 km (NLOS, UMa) the formulas are extrapolated, as Hata is beyond
20 km; shadow fading (σ 4/6 dB RMa LOS, 8 dB RMa NLOS, 4/6 dB UMa) is not in the median.

LOS or NLOS comes from the terrain profile (:func:`ictgis.coverage` and :func:`ictgis.link.profile_report`): a
receiver is LOS when no terrain point, on the effective earth, stands above the straight line between the antennas
(v_max ≤ 0). The TR's LOS probability (a statistic of buildings and trees) is not used: clutter belongs to the
land-cover loss. Terrain diffraction is combined without counting the obstruction twice::

    LOS    L = PL_LOS + J(v_max)                        (J ≤ 6 dB: partial Fresnel-zone obstruction)
    NLOS   L = max(PL_LOS + J(v_max), PL_NLOS)

The NLOS formula is a fit to measured non-line-of-sight paths: it already holds the typical obstruction loss, so
adding the knife-edge loss of the same obstruction would count it twice; a deep terrain shadow, where J(v) exceeds
the NLOS excess, keeps its diffraction loss. `combined_loss_db` implements this; the coverage kernels do the same.

Attributes
----------
SCENARIOS : tuple[str, ...]
    "RMa" and "UMa".
COEFFICIENTS : int
    Length of a row of `coefficients` (the per-site parameters the coverage kernels take).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import settings
from .constants import KNIFE_EDGE_V_MIN, MIN_DISTANCE_KM

__all__ = [
    "COEFFICIENTS", "SCENARIOS", "breakpoint_distance_m", "coefficients", "combined_loss_db", "loss_from_coefficients",
    "los_loss_db", "nlos_loss_db", "scenario_of", "uses_tr38901",
]

SCENARIOS = ("RMa", "UMa")
COEFFICIENTS = 11
_C = 3.0e8  # speed of light as the TR rounds it (m/s)
_UMA_H_E_M = 1.0


def uses_tr38901(frequency_mhz: Any) -> Any:
    """Return True where a carrier takes TR 38.901 (≥ ``settings.tr38901_from_mhz``) rather than Hata."""
    return np.asarray(frequency_mhz, dtype=float) >= settings.tr38901_from_mhz


def scenario_of(environment: str) -> str:
    """TR 38.901 scenario of a Hata environment: "UMa" for urban ones (phường), "RMa" otherwise."""
    return "UMa" if str(environment).startswith("urban") else "RMa"


def _check(scenario: str) -> None:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown TR 38.901 scenario {scenario!r}; expected one of {', '.join(SCENARIOS)}")


def breakpoint_distance_m(scenario: str, frequency_mhz: Any, bs_height_m: Any, ut_height_m: Any = 1.5) -> Any:
    """Breakpoint distance: RMa 2π·hBS·hUT·fc/c; UMa 4·(hBS − 1)(hUT − 1)·fc/c (effective heights, hE = 1 m)."""
    _check(scenario)
    f_hz = np.asarray(frequency_mhz, dtype=float) * 1e6
    hb, hu = np.asarray(bs_height_m, dtype=float), np.asarray(ut_height_m, dtype=float)
    if scenario == "RMa":
        out = 2.0 * math.pi * hb * hu * f_hz / _C
    else:
        out = 4.0 * (hb - _UMA_H_E_M) * (hu - _UMA_H_E_M) * f_hz / _C
    return float(out) if np.ndim(out) == 0 else out


def coefficients(scenario: str, frequency_mhz: float, bs_height_m: float, ut_height_m: float = 1.5, *,
                 building_height_m: float | None = None, street_width_m: float | None = None) -> np.ndarray:
    """Parameters of one site for the kernels: the TR's formulas reduced to constants per site.

    With L = log10(d3D): LOS = c1 + s1·L + e1·d3D below the breakpoint (on d2D), c2 + s2·L beyond; NLOS' = n0 + n1·L.

    Returns
    -------
    numpy.ndarray
        ``[1 (flag: TR 38.901), dBP, (hBS − hUT)², c1, s1, e1, c2, s2, n0, n1, 0]`` (`COEFFICIENTS` floats). A row of
        zeros means "Hata" to the kernels.
    """
    _check(scenario)
    h = settings.tr38901_building_height_m if building_height_m is None else float(building_height_m)
    w = settings.tr38901_street_width_m if street_width_m is None else float(street_width_m)
    fc = frequency_mhz / 1000.0
    hb, hu = float(bs_height_m), float(ut_height_m)
    if hb <= hu or hu <= (_UMA_H_E_M if scenario == "UMa" else 0.0):
        raise ValueError(f"TR 38.901 {scenario} needs hBS > hUT > {'1' if scenario == 'UMa' else '0'} m, got "
                         f"hBS {hb:g} m, hUT {hu:g} m")
    dbp = float(breakpoint_distance_m(scenario, frequency_mhz, hb, hu))
    dh2 = (hb - hu) ** 2
    if scenario == "RMa":
        hp = h ** 1.72
        c1 = 20.0 * math.log10(40.0 * math.pi * fc / 3.0) - min(0.044 * hp, 14.77)
        s1 = 20.0 + min(0.03 * hp, 10.0)
        e1 = 0.002 * math.log10(h)
        c2 = c1 + s1 * math.log10(dbp) + e1 * dbp - 40.0 * math.log10(dbp)  # PL1(dBP) − 40 log10(dBP)
        n1 = 43.42 - 3.1 * math.log10(hb)
        n0 = (161.04 - 7.1 * math.log10(w) + 7.5 * math.log10(h) - (24.37 - 3.7 * (h / hb) ** 2) * math.log10(hb)
              - 3.0 * n1 + 20.0 * math.log10(fc) - (3.2 * math.log10(11.75 * hu) ** 2 - 4.97))
    else:
        c1, s1, e1 = 28.0 + 20.0 * math.log10(fc), 22.0, 0.0
        c2 = 28.0 + 20.0 * math.log10(fc) - 9.0 * math.log10(dbp ** 2 + dh2)
        n0, n1 = 13.54 + 20.0 * math.log10(fc) - 0.6 * (hu - 1.5), 39.08
    return np.array([1.0, dbp, dh2, c1, s1, e1, c2, 40.0, n0, n1, 0.0])


def loss_from_coefficients(rows: np.ndarray, distance_m: Any) -> tuple[np.ndarray, np.ndarray]:
    """LOS and NLOS' losses (dB) from rows of `coefficients` (shape (…, COEFFICIENTS), broadcast with `distance_m`).

    The numpy twin of the coverage kernels' ``tr38901_los_db`` / ``tr38901_nlos_db`` (no distance clipping here).
    """
    co = np.asarray(rows, dtype=float)
    d2 = np.asarray(distance_m, dtype=float)
    d3 = np.sqrt(d2 * d2 + co[..., 2])
    lg = np.log10(d3)
    los = np.where(d2 < co[..., 1], co[..., 3] + co[..., 4] * lg + co[..., 5] * d3, co[..., 6] + co[..., 7] * lg)
    return los, co[..., 8] + co[..., 9] * lg


def _parts(scenario, distance_m, frequency_mhz, bs_height_m, ut_height_m, building_height_m, street_width_m):
    co = coefficients(scenario, float(frequency_mhz), float(bs_height_m), float(ut_height_m),
                      building_height_m=building_height_m, street_width_m=street_width_m)
    return loss_from_coefficients(co, distance_m)


def los_loss_db(scenario: str, distance_m: Any, frequency_mhz: float, bs_height_m: float, ut_height_m: float = 1.5,
                *, building_height_m: float | None = None, street_width_m: float | None = None) -> Any:
    """LOS path loss (dB) at 2-D distances `distance_m` (see the module docstring).

    Parameters
    ----------
    scenario
        "RMa" or "UMa".
    distance_m
        Horizontal (2-D) distance(s) between the antennas, m (the TR's formulas hold from 10 m).
    frequency_mhz, bs_height_m, ut_height_m
        Carrier frequency and antenna heights above ground (one site).
    building_height_m, street_width_m
        RMa's h and W (default ``settings.tr38901_building_height_m``, 5 m, and ``tr38901_street_width_m``, 20 m).

    Returns
    -------
    float or numpy.ndarray
    """
    los, _ = _parts(scenario, distance_m, frequency_mhz, bs_height_m, ut_height_m, building_height_m,
                    street_width_m)
    return float(los) if los.ndim == 0 else los


def nlos_loss_db(scenario: str, distance_m: Any, frequency_mhz: float, bs_height_m: float, ut_height_m: float = 1.5,
                 *, building_height_m: float | None = None, street_width_m: float | None = None) -> Any:
    """NLOS path loss max(PL_LOS, PL'_NLOS) (dB); parameters as for `los_loss_db`."""
    los, nlos = _parts(scenario, distance_m, frequency_mhz, bs_height_m, ut_height_m, building_height_m,
                       street_width_m)
    out = np.maximum(los, nlos)
    return float(out) if out.ndim == 0 else out


def combined_loss_db(scenario: str, distance_m: Any, frequency_mhz: float, bs_height_m: float, v_max: Any,
                     ut_height_m: float = 1.5, *, building_height_m: float | None = None,
                     street_width_m: float | None = None) -> Any:
    """Path loss with terrain: LOS where v_max ≤ 0, and the knife-edge rule of the module docstring.

    ``L = PL_LOS + J(v)`` where v_max ≤ 0 (terrain below the line of sight), else ``max(PL_LOS + J(v), PL_NLOS)``;
    never below free space (as the Hata path); distances
    clipped to ≥ ``MIN_DISTANCE_KM`` (20 m) as there. `v_max` is the Fresnel parameter of the dominant terrain point.
    """
    from .radio import free_space_loss_db, knife_edge_loss_db

    d = np.maximum(np.asarray(distance_m, dtype=float), 1000.0 * MIN_DISTANCE_KM)
    los, nlos = _parts(scenario, d, frequency_mhz, bs_height_m, ut_height_m, building_height_m, street_width_m)
    los = np.maximum(los, free_space_loss_db(d / 1000.0, frequency_mhz))
    v = np.asarray(v_max, dtype=float)
    j = np.asarray(knife_edge_loss_db(np.where(v > KNIFE_EDGE_V_MIN, v, -10.0)))
    out = np.where(v > 0.0, np.maximum(los + j, np.maximum(los, nlos)), los + j)
    return float(out) if out.ndim == 0 else out

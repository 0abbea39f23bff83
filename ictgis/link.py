"""Point-to-point links over terrain: line of sight, F1 clearance and path loss over an elevation profile.

The profile comes from :func:`ictgis.terrain.profile`; the models from :mod:`ictgis.radio`. ``ictgis profile``
prints :func:`profile_report` and draws :func:`plot_profile`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from . import radio, settings, tr38901


def profile_report(distance_m: np.ndarray, elevation_m: np.ndarray, *, crs: str,
                   tx_height_m: float = radio.DEFAULT_SITE_HEIGHT_M, rx_height_m: float = 1.5,
                   frequency_mhz: float = 1800.0, k_factor: float = radio.DEFAULT_K_FACTOR) -> dict:
    """Line of sight, F1 clearance and the path loss of each model over a terrain profile.

    Parameters
    ----------
    distance_m, elevation_m
        The profile, evenly sampled from the transmitter to the receiver (e.g. :func:`ictgis.terrain.profile`).
    crs
        CRS of the DEM, as a string (e.g. "EPSG:9205"), reported as it is.
    tx_height_m, rx_height_m, frequency_mhz, k_factor
        Antenna heights above the ground, frequency and effective earth radius factor.

    Returns
    -------
    dict
        JSON-ready: distance, samples and their spacing, the radio options, line of sight, the smallest F1
        clearance and where it is, and the loss of each model alone, of each diffraction method and of each sum.
        From ``settings.tr38901_from_mhz`` (3000 MHz) on, ``tr38901_db`` holds the 3GPP TR 38.901 RMa and UMa
        losses with the coverage engine's rule (LOS when no terrain cuts the line of sight: LOS + J(v); else
        max(LOS + J(v), NLOS)), J being the single knife edge of the dominant obstacle (None where a scenario's
        height range excludes the link).
    """
    distance_m = np.asarray(distance_m, dtype=float)
    step_m = float(distance_m[-1] / (distance_m.size - 1))
    args = (distance_m, elevation_m, tx_height_m, rx_height_m, frequency_mhz)
    los = radio.line_of_sight(*args, k_factor=k_factor)
    distance_km = float(distance_m[-1] / 1000.0)
    diffraction = {"single_knife_edge": radio.single_knife_edge_loss_db(*args, k_factor=k_factor),
                   "deygout": radio.deygout_loss_db(*args, k_factor=k_factor),
                   "epstein_peterson": radio.epstein_peterson_loss_db(*args, k_factor=k_factor)}
    base = {"free_space": radio.free_space_loss_db(distance_km, frequency_mhz)}
    for env in ("rural", "suburban", "urban"):
        base[f"hata_{env}"] = radio.hata_loss_db(distance_km, frequency_mhz, tx_height_m, rx_height_m,
                                                 environment=env)
    nr: dict[str, Any] | None = None
    if frequency_mhz >= settings.tr38901_from_mhz:
        d2 = max(float(distance_m[-1]), 20.0)
        nr = {"los": los.visible}
        for scen in tr38901.SCENARIOS:
            try:
                los_db = max(tr38901.los_loss_db(scen, d2, frequency_mhz, tx_height_m, rx_height_m),
                             float(base["free_space"]))
                nlos_db = tr38901.nlos_loss_db(scen, d2, frequency_mhz, tx_height_m, rx_height_m)
            except ValueError:
                nr[scen] = None
                continue
            j = diffraction["single_knife_edge"]
            nr[scen] = round(los_db + j if los.visible else max(los_db + j, nlos_db), 2)
    out = {
        "distance_km": round(distance_km, 4), "samples": int(distance_m.size),
        "step_m": round(step_m, 3), "crs": crs,
        "frequency_mhz": frequency_mhz, "tx_height_m": tx_height_m, "rx_height_m": rx_height_m, "k_factor": k_factor,
        "line_of_sight": los.visible,
        "min_clearance_pct_f1": round(los.clearance_pct, 1) if math.isfinite(los.clearance_pct) else None,
        "min_clearance_m": round(los.min_clearance_m, 2) if math.isfinite(los.min_clearance_m) else None,
        "min_clearance_at_km": round(los.at_distance_m / 1000, 4) if math.isfinite(los.at_distance_m) else None,
        "path_loss_db": {k: round(v, 2) for k, v in base.items()},
        "diffraction_db": {k: round(v, 2) for k, v in diffraction.items()},
        "total_loss_db": {f"{b}+{dname}": round(bv + dv, 2) for b, bv in base.items()
                          for dname, dv in diffraction.items()},
    }
    if nr is not None:
        out["tr38901_db"] = nr
    return out


def plot_profile(distance_m: np.ndarray, elevation_m: np.ndarray, png_path: Path | str, *,
                 tx_height_m: float = radio.DEFAULT_SITE_HEIGHT_M, rx_height_m: float = 1.5,
                 frequency_mhz: float = 1800.0, k_factor: float = radio.DEFAULT_K_FACTOR) -> Path:
    """Draw the terrain on the effective earth, the line of sight and the first Fresnel zone into a PNG.

    Raises
    ------
    ImportError
        When matplotlib is not installed.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("the profile plot needs matplotlib: pip install matplotlib") from exc
    g = radio.profile_geometry(distance_m, elevation_m, tx_height_m, rx_height_m, frequency_mhz,
                               k_factor=k_factor)
    los = radio.line_of_sight(distance_m, elevation_m, tx_height_m, rx_height_m, frequency_mhz,
                              k_factor=k_factor)
    x = g.distance_m / 1000.0
    floor = float(np.min(elevation_m)) - 0.05 * max(float(np.ptp(g.terrain_m)), 10.0)
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.fill_between(x, floor + g.bulge_m, g.terrain_m, color="#b08d57", alpha=0.8, label="terrain (+ earth bulge)")
    ax.plot(x, floor + g.bulge_m, color="#6b5a3a", lw=0.8, label=f"earth curvature (k = {k_factor:.3g})")
    ax.fill_between(x, g.los_m - g.fresnel_radius_m, g.los_m + g.fresnel_radius_m, color="#4c8bd6", alpha=0.2,
                    label="first Fresnel zone")
    ax.plot(x, g.los_m, color="#1f4e9c", lw=1.2, label="line of sight")
    ax.vlines([x[0], x[-1]], [g.terrain_m[0], g.terrain_m[-1]], [g.los_m[0], g.los_m[-1]], color="#333333", lw=2)
    if math.isfinite(los.at_distance_m):
        k = int(np.argmin(np.abs(g.distance_m - los.at_distance_m)))
        ax.plot(x[k], g.terrain_m[k], "o", color="#c0392b", label=f"min clearance {los.clearance_pct:.0f} % F1")
    ax.set_xlabel("distance (km)")
    ax.set_ylabel("elevation (m)")
    ax.set_title(f"{x[-1]:.2f} km, {frequency_mhz:g} MHz, tx {tx_height_m:g} m, rx {rx_height_m:g} m: line of sight "
                 f"{'yes' if los.visible else 'no'}")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(png_path, dpi=110)
    return Path(png_path)

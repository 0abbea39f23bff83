"""Radio propagation models and link budgets for mobile coverage planning.

Everything is vectorised numpy: distances, heights and frequencies may be scalars or arrays that broadcast, so the
coverage engine can call :func:`path_loss_db` once on millions of cells. Units are in the names.

Models: free space (ITU-R P.525), Okumura–Hata / COST-231 Hata (used "extended" to 700–2600 MHz, extrapolated up to
4000 MHz; the coverage engine takes 3GPP TR 38.901 from 3000 MHz, :mod:`ictgis.tr38901`), knife-edge diffraction
(ITU-R P.526-15) with a single dominant edge, Deygout or Epstein–Peterson multiple edges over a terrain profile drawn
on an effective earth of radius k·R.

Attributes
----------
EARTH_RADIUS_M, DEFAULT_K_FACTOR, MIN_DISTANCE_KM, KNIFE_EDGE_V_MIN, SPEED_OF_LIGHT_M_S
    From :mod:`ictgis.constants` (mean earth radius 6,371 km; k = 4/3; Hata distances clipped to ≥ 0.02 km; no
    knife-edge loss for v ≤ −0.78). The earth bulge between the ends of a path, at d1 and d2 from them, is
    d1·d2 / (2·k·R). gdal_viewshed's curvature coefficient ``-cc`` (default 0.85714 = 1 − 1/7, i.e. a refraction
    coefficient of 1/7) multiplies d²/(2R), so cc = 1/k: gdal's default is k = 7/6, and k = 4/3 is ``-cc 0.75``
    (see :func:`gdal_curvature_coefficient`).
HATA_FREQUENCY_RANGE_MHZ : tuple[float, float]
    Frequencies Hata accepts here (150–4000 MHz); Okumura–Hata below 1500 MHz, COST-231 from 1500 MHz.
ENVIRONMENTS : tuple[str, ...]
    "urban_dense" (large-city a(hm), COST-231 C = 3 dB), "urban" (small/medium city), "suburban", "rural" (open).
CALIBRATION_DB : dict[str, float]
    Offset added by :func:`path_loss_db` per environment (dB, positive = more loss). Zero until drive tests exist;
    fit it as the mean of (measured − predicted) loss per environment.
TECH_DEFAULTS : dict[str, LinkParameters]
    Link-budget defaults per technology: common macro-site planning values, not operator data — override them
    (:func:`link_parameters`, per-site columns in :func:`site_parameters`). Mobile: 1.5 m, 0 dBi, no body loss.

    - 2G: GSM 900, one 20 W TRX (43 dBm) carrying the BCCH at full power, 15 dBi, 3 dB feeder; level = RxLev.
    - 3G: UMTS 2100 (band 1), 20 W (43 dBm), 18 dBi, 2 dB; RSCP of the CPICH at 10 % of the power (−10 dB; Holma &
      Toskala, "WCDMA for UMTS", typical CPICH allocation).
    - 4G: LTE 1800 (band 3), 20 MHz = 100 RB (3GPP TS 36.211); 40 W (46 dBm; macro sites 43–46), 17 dBi (15–18),
      2 dB (2–3); RSRP per resource element (TS 36.214): −10·log10(12·100) = −30.8 dB. EIRP 61 dBm.
    - 5G: NR 3700 MHz (n78), 100 MHz at 30 kHz SCS = 273 RB (TS 38.101-1); 200 W AAU (53 dBm), 18 dBi broadcast
      (SSB) beam, 0.5 dB (antenna integrated); SS-RSRP per resource element (TS 38.215): −35.2 dB.
TECH_BANDS_MHZ : dict[str, tuple[float, float]]
    Band range of each technology: a site's ``band_mhz`` is used for a technology only inside that range.
DEFAULT_SITE_HEIGHT_M : float
    Antenna height of sites without ``height_m`` (``ictgis.settings.default_site_height_m``, 30 m).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import settings
from .constants import DEFAULT_K_FACTOR, EARTH_RADIUS_M, KNIFE_EDGE_V_MIN, MIN_DISTANCE_KM, SPEED_OF_LIGHT_M_S

logger = logging.getLogger(__name__)

HATA_FREQUENCY_RANGE_MHZ = (150.0, 4000.0)
COST231_FROM_MHZ = 1500.0
ENVIRONMENTS = ("urban_dense", "urban", "suburban", "rural")
CALIBRATION_DB = {"urban_dense": 0.0, "urban": 0.0, "suburban": 0.0, "rural": 0.0}
DEFAULT_SITE_HEIGHT_M = settings.default_site_height_m


def _out(x: Any) -> Any:
    """Return a Python float for 0-d results, the array otherwise."""
    x = np.asarray(x)
    return float(x) if x.ndim == 0 else x


# --------------------------------------------------------------------------------------------- basic formulas


def wavelength_m(frequency_mhz: Any) -> Any:
    """Return the wavelength λ = c / f in metres."""
    return _out(SPEED_OF_LIGHT_M_S / (np.asarray(frequency_mhz, dtype=float) * 1e6))


def free_space_loss_db(distance_km: Any, frequency_mhz: Any) -> Any:
    """Free-space basic transmission loss in dB: 32.45 + 20·log10(d_km) + 20·log10(f_MHz).

    ITU-R P.525-4 eq. 4 (rounded constant); `distance_km` > 0 and `frequency_mhz` broadcast together.
    """
    d = np.asarray(distance_km, dtype=float)
    f = np.asarray(frequency_mhz, dtype=float)
    return _out(32.45 + 20.0 * np.log10(d) + 20.0 * np.log10(f))


def _check_environment(environment: str) -> None:
    if environment not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {environment!r}; expected one of {', '.join(ENVIRONMENTS)}")


def hata_coefficients(frequency_mhz: Any, base_height_m: Any, mobile_height_m: Any = 1.5, *,
                      environment: str = "urban") -> tuple[Any, Any]:
    """Return (A, B) such that the Hata loss is A + B·log10(d_km); see :func:`hata_loss_db`.

    Useful to invert Hata in closed form: d_km = 10 ** ((L − A) / B).
    """
    _check_environment(environment)
    f = np.asarray(frequency_mhz, dtype=float)
    hb = np.asarray(base_height_m, dtype=float)
    hm = np.asarray(mobile_height_m, dtype=float)
    lo, hi = HATA_FREQUENCY_RANGE_MHZ
    if not np.all((f >= lo) & (f <= hi)):
        raise ValueError(f"Hata needs {lo:g}–{hi:g} MHz, got {np.min(f):g}–{np.max(f):g} MHz")
    if not (np.all(hb > 0) and np.all(hm > 0)):
        raise ValueError("antenna heights must be > 0 m")
    lf, lhb = np.log10(f), np.log10(hb)
    dense = environment == "urban_dense"
    if dense:  # large city
        a_hm = np.where(f < 300.0, 8.29 * np.log10(1.54 * hm) ** 2 - 1.1, 3.2 * np.log10(11.75 * hm) ** 2 - 4.97)
    else:  # small / medium city
        a_hm = (1.1 * lf - 0.7) * hm - (1.56 * lf - 0.8)
    base = np.where(f >= COST231_FROM_MHZ, 46.3 + 33.9 * lf + (3.0 if dense else 0.0), 69.55 + 26.16 * lf)
    a = base - 13.82 * lhb - a_hm
    if environment == "suburban":
        a = a - 2.0 * np.log10(f / 28.0) ** 2 - 5.4
    elif environment == "rural":
        a = a - 4.78 * lf**2 + 18.33 * lf - 40.94
    return _out(a), _out(44.9 - 6.55 * lhb)


def hata_loss_db(distance_km: Any, frequency_mhz: Any, base_height_m: Any, mobile_height_m: Any = 1.5, *,
                 environment: str = "urban") -> Any:
    """Okumura–Hata (below 1500 MHz) and COST-231 Hata (from 1500 MHz) median path loss.

    Urban (small/medium city)::

        L = A0 − 13.82·log10(hb) − a(hm) + (44.9 − 6.55·log10(hb))·log10(d)
        A0 = 69.55 + 26.16·log10(f)          Okumura–Hata, f < 1500 MHz
        A0 = 46.3 + 33.9·log10(f) + C        COST-231, f ≥ 1500 MHz (C = 0, or 3 dB for "urban_dense")
        a(hm) = (1.1·log10(f) − 0.7)·hm − (1.56·log10(f) − 0.8)

    "urban_dense" uses the large-city a(hm) = 3.2·[log10(11.75·hm)]² − 4.97 (f ≥ 300 MHz). Corrections to the
    urban value: suburban −2·[log10(f/28)]² − 5.4; rural (open area) −4.78·[log10(f)]² + 18.33·log10(f) − 40.94,
    applied to both base formulas (the usual "extended Hata" practice).

    Validity: Okumura–Hata 150–1500 MHz, COST-231 1500–2000 MHz; hb 30–200 m, hm 1–10 m, d 1–20 km. Planning tools
    commonly use it for 700–2600 MHz (LTE bands 28, 3, 1, 7) and for lower masts; above 2600 MHz (5G C-band) it is
    an extrapolation — calibrate with :data:`CALIBRATION_DB`. Distances are clipped to ≥ :data:`MIN_DISTANCE_KM`.

    Parameters
    ----------
    distance_km
        Distance between the antennas (km).
    frequency_mhz
        Carrier frequency, 150–4000 MHz.
    base_height_m
        Base-station antenna height above ground (m).
    mobile_height_m
        Mobile antenna height above ground (m).
    environment
        One of :data:`ENVIRONMENTS`.

    Returns
    -------
    float or numpy.ndarray
        Median path loss in dB.

    Raises
    ------
    ValueError
        For an unknown environment, a frequency outside 150–4000 MHz or a height ≤ 0.

    References
    ----------
    M. Hata, "Empirical formula for propagation loss in land mobile radio services", IEEE Trans. Veh. Technol.
    VT-29(3), 1980. COST Action 231, "Digital mobile radio towards future generation systems", final report, 1999,
    §4.4.
    """
    a, b = hata_coefficients(frequency_mhz, base_height_m, mobile_height_m, environment=environment)
    d = np.maximum(np.asarray(distance_km, dtype=float), MIN_DISTANCE_KM)
    return _out(a + b * np.log10(d))


def path_loss_db(distance_km: Any, frequency_mhz: Any, base_height_m: Any, *, mobile_height_m: Any = 1.5,
                 environment: str = "rural", diffraction_db: Any = 0.0, calibration_db: float | None = None,
                 free_space_floor: bool = True) -> Any:
    """Path loss used by the coverage engine: Hata + terrain diffraction + calibration offset.

    L = max(Hata, free space) + diffraction_db + calibration_db, vectorised (one log10 per cell, no Python loop).

    Parameters
    ----------
    distance_km, frequency_mhz, base_height_m, mobile_height_m, environment
        As for :func:`hata_loss_db`.
    diffraction_db
        Extra terrain loss per cell (e.g. a knife-edge loss), scalar or array.
    calibration_db
        Offset in dB; None takes ``CALIBRATION_DB[environment]``.
    free_space_floor
        Never return less than free-space loss (rural Hata drops below it within a few hundred metres).

    Returns
    -------
    float or numpy.ndarray
        Path loss in dB.
    """
    a, b = hata_coefficients(frequency_mhz, base_height_m, mobile_height_m, environment=environment)
    log_d = np.log10(np.maximum(np.asarray(distance_km, dtype=float), MIN_DISTANCE_KM))
    loss = a + b * log_d
    if free_space_floor:
        loss = np.maximum(loss, 32.45 + 20.0 * np.log10(np.asarray(frequency_mhz, dtype=float)) + 20.0 * log_d)
    offset = CALIBRATION_DB[environment] if calibration_db is None else float(calibration_db)
    return _out(loss + (np.asarray(diffraction_db, dtype=float) + offset))


# --------------------------------------------------------------------------------------------- diffraction


def fresnel_v(h_m: Any, d1_m: Any, d2_m: Any, wavelength_m: Any) -> Any:
    """Fresnel–Kirchhoff diffraction parameter v = h·√(2/λ · (1/d1 + 1/d2)) (ITU-R P.526-15 eq. 26).

    `h` is the height of the obstacle top above the straight line joining the two ends (negative below it);
    `d1`, `d2` its distances from the ends; all in metres.
    """
    h, d1, d2 = (np.asarray(x, dtype=float) for x in (h_m, d1_m, d2_m))
    return _out(h * np.sqrt(2.0 / np.asarray(wavelength_m, dtype=float) * (1.0 / d1 + 1.0 / d2)))


def knife_edge_loss_db(v: Any) -> Any:
    """Single knife-edge loss J(v) = 6.9 + 20·log10(√((v − 0.1)² + 1) + v − 0.1) for v > −0.78, else 0.

    ITU-R P.526-15 eq. 31 (approximation of the Fresnel integral, within ~0.5 dB). J(0) ≈ 6.03 dB.
    """
    v = np.asarray(v, dtype=float)
    out = np.zeros(v.shape)
    m = v > KNIFE_EDGE_V_MIN
    w = v[m] - 0.1
    out[m] = 6.9 + 20.0 * np.log10(np.sqrt(w * w + 1.0) + w)
    return _out(out)


def first_fresnel_radius_m(d1_m: Any, d2_m: Any, frequency_mhz: Any) -> Any:
    """Radius of the first Fresnel zone r1 = √(λ·d1·d2 / (d1 + d2)) in metres (ITU-R P.530 eq. 2)."""
    d1, d2 = np.asarray(d1_m, dtype=float), np.asarray(d2_m, dtype=float)
    lam = SPEED_OF_LIGHT_M_S / (np.asarray(frequency_mhz, dtype=float) * 1e6)
    return _out(np.sqrt(lam * d1 * d2 / (d1 + d2)))


def effective_earth_bulge_m(d1_m: Any, d2_m: Any, k_factor: float = DEFAULT_K_FACTOR) -> Any:
    """Height of the effective earth above the chord between two points: d1·d2 / (2·k·R) in metres.

    `k_factor` = ∞ gives a flat earth. With k = 4/3 the bulge mid-way on a 10 km path is 1.47 m.
    """
    d1, d2 = np.asarray(d1_m, dtype=float), np.asarray(d2_m, dtype=float)
    if math.isinf(k_factor):
        return _out(np.zeros(np.broadcast(d1, d2).shape))
    if k_factor <= 0:
        raise ValueError(f"k_factor must be > 0, got {k_factor}")
    return _out(d1 * d2 / (2.0 * k_factor * EARTH_RADIUS_M))


def gdal_curvature_coefficient(k_factor: float = DEFAULT_K_FACTOR) -> float:
    """Return gdal_viewshed's ``-cc`` for an effective earth factor: cc = 1/k (k = 4/3 → 0.75, k = 7/6 → 0.857)."""
    return 0.0 if math.isinf(k_factor) else 1.0 / k_factor


def _prepare(distances_m: Any, elevations_m: Any, tx_height_m: float, rx_height_m: float,
             k_factor: float) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Check a profile; return distances from the transmitter, terrain raised by the bulge, both antenna tops."""
    d = np.asarray(distances_m, dtype=float)
    z = np.asarray(elevations_m, dtype=float)
    if d.ndim != 1 or d.shape != z.shape or d.size < 2:
        raise ValueError("a profile needs 1-D distances and elevations of the same length (≥ 2 points)")
    if not (np.all(np.isfinite(d)) and np.all(np.isfinite(z))):
        raise ValueError("a profile must not contain NaN or infinite values")
    if np.any(np.diff(d) <= 0):
        raise ValueError("profile distances must increase strictly")
    if tx_height_m < 0 or rx_height_m < 0:
        raise ValueError("antenna heights must be ≥ 0 m")
    d = d - d[0]
    z_eff = z + effective_earth_bulge_m(d, d[-1] - d, k_factor)
    return d, z_eff, float(z[0] + tx_height_m), float(z[-1] + rx_height_m)


def _segment_v(d: np.ndarray, z: np.ndarray, i0: int, i1: int, za: float, zb: float, lam: float) -> np.ndarray:
    """Return v of the points strictly between i0 and i1 against the line from za (at i0) to zb (at i1)."""
    d1 = d[i0 + 1:i1] - d[i0]
    d2 = d[i1] - d[i0 + 1:i1]
    line = za + (zb - za) * d1 / (d[i1] - d[i0])
    return fresnel_v(z[i0 + 1:i1] - line, d1, d2, lam) if d1.size else np.empty(0)


def single_knife_edge_loss_db(distances_m: Any, elevations_m: Any, tx_height_m: float, rx_height_m: float,
                              frequency_mhz: float, *, k_factor: float = DEFAULT_K_FACTOR) -> float:
    """Diffraction loss of the dominant edge of a profile: J(v_max), the largest v along the path.

    Parameters
    ----------
    distances_m
        Distance of each profile point along the path (m, increasing); the first point is the transmitter, the
        last the receiver.
    elevations_m
        Terrain elevation of each point (m).
    tx_height_m, rx_height_m
        Antenna heights above the terrain at the two ends (m).
    frequency_mhz
        Carrier frequency.
    k_factor
        Effective earth radius factor (∞ for a flat earth).

    Returns
    -------
    float
        Loss in dB (0 when every point is below v = −0.78, i.e. ~0.55 F1 clear).
    """
    d, z, za, zb = _prepare(distances_m, elevations_m, tx_height_m, rx_height_m, k_factor)
    v = _segment_v(d, z, 0, d.size - 1, za, zb, wavelength_m(frequency_mhz))
    return float(knife_edge_loss_db(v.max())) if v.size else 0.0


def deygout_loss_db(distances_m: Any, elevations_m: Any, tx_height_m: float, rx_height_m: float,
                    frequency_mhz: float, *, k_factor: float = DEFAULT_K_FACTOR, max_edges: int = 3) -> float:
    """Multiple knife-edge loss by Deygout's method.

    The principal edge (largest v on the whole path) gives J(v); then the sub-paths transmitter→edge and
    edge→receiver, with the edge top as their new end, are treated the same way, level by level (largest v first),
    as a binary tree of ceil(log2(max_edges + 1)) levels, until `max_edges` edges are counted or no point has
    v > −0.78. With ``max_edges=3`` this is the classical principal edge + one secondary edge per side. An edge below
    the line (v ≤ 0, Fresnel-zone obstruction only) is not split further: a sub-path ending on it would graze the
    terrain. Deygout overestimates for close edges of similar height (a plateau sampled every pixel).

    Parameters are those of :func:`single_knife_edge_loss_db`, plus `max_edges` (≥ 1).

    Returns
    -------
    float
        Loss in dB, ≥ the single knife-edge loss.

    References
    ----------
    J. Deygout, "Multiple knife-edge diffraction of microwaves", IEEE Trans. Antennas Propag. 14(4), 1966;
    ITU-R P.526-15 §4.
    """
    d, z, za, zb = _prepare(distances_m, elevations_m, tx_height_m, rx_height_m, k_factor)
    lam = wavelength_m(frequency_mhz)
    level = [(0, d.size - 1, za, zb)]
    loss, edges, depth = 0.0, 0, 0
    while level and edges < max_edges and depth < math.ceil(math.log2(max_edges + 1)):
        depth += 1
        found = []
        for i0, i1, ha, hb in level:
            v = _segment_v(d, z, i0, i1, ha, hb, lam)
            if v.size and v.max() > KNIFE_EDGE_V_MIN:
                k = int(np.argmax(v))
                found.append((float(v[k]), i0 + 1 + k, i0, i1, ha, hb))
        found.sort(key=lambda item: -item[0])
        level = []
        for vk, ie, i0, i1, ha, hb in found[:max_edges - edges]:
            loss += float(knife_edge_loss_db(vk))
            edges += 1
            if vk > 0:  # only an edge that cuts the line of sight splits the path
                level += [(i0, ie, ha, float(z[ie])), (ie, i1, float(z[ie]), hb)]
    return loss


def _upper_hull(d: np.ndarray, z: np.ndarray, za: float, zb: float) -> list[int]:
    """Return the interior vertices of the "stretched string" (upper convex hull) from tx top to rx top."""
    h = z.copy()
    h[0], h[-1] = za, zb
    stack: list[int] = []
    for i in range(d.size):
        while len(stack) >= 2:
            o, a = stack[-2], stack[-1]
            if (d[a] - d[o]) * (h[i] - h[o]) - (h[a] - h[o]) * (d[i] - d[o]) >= 0:
                stack.pop()
            else:
                break
        stack.append(i)
    return stack[1:-1]


def epstein_peterson_loss_db(distances_m: Any, elevations_m: Any, tx_height_m: float, rx_height_m: float,
                             frequency_mhz: float, *, k_factor: float = DEFAULT_K_FACTOR, max_edges: int = 3) -> float:
    """Multiple knife-edge loss by the Epstein–Peterson method.

    The edges are the vertices of the "stretched string" from transmitter top to receiver top (upper convex hull
    of the terrain); while there are more than `max_edges`, the one least above the line joining its neighbours is
    dropped. Each remaining edge adds J(v) computed against the line joining the previous and next edges. When no
    terrain cuts the line of sight it returns the single knife-edge loss (partial Fresnel obstruction). Closely
    spaced edges (a plateau sampled as two edges) can give less than the single dominant edge.

    Parameters are those of :func:`deygout_loss_db`.

    Returns
    -------
    float
        Loss in dB.

    References
    ----------
    J. Epstein, D. W. Peterson, "An experimental study of wave propagation at 850 Mc", Proc. IRE 41(5), 1953.
    """
    d, z, za, zb = _prepare(distances_m, elevations_m, tx_height_m, rx_height_m, k_factor)
    lam = wavelength_m(frequency_mhz)
    edges = _upper_hull(d, z, za, zb)
    if not edges:
        v = _segment_v(d, z, 0, d.size - 1, za, zb, lam)
        return float(knife_edge_loss_db(v.max())) if v.size else 0.0
    h = z.copy()
    h[0], h[-1] = za, zb

    def edge_v(chain: list[int]) -> np.ndarray:
        p, e, q = np.array(chain[:-2]), np.array(chain[1:-1]), np.array(chain[2:])
        line = h[p] + (h[q] - h[p]) * (d[e] - d[p]) / (d[q] - d[p])
        return np.asarray(fresnel_v(h[e] - line, d[e] - d[p], d[q] - d[e], lam))

    chain = [0, *edges, d.size - 1]
    while len(chain) - 2 > max(1, max_edges):
        del chain[1 + int(np.argmin(edge_v(chain)))]
    return float(np.sum(knife_edge_loss_db(edge_v(chain))))


# --------------------------------------------------------------------------------------------- line of sight


@dataclass(frozen=True)
class LineOfSight:
    """Clearance of a path: whether terrain cuts the line of sight, and the worst first-Fresnel-zone clearance.

    Attributes
    ----------
    visible
        True when every profile point is below the straight line between the antennas.
    min_clearance_ratio, min_clearance_m, at_distance_m
        Minimum of (line − terrain) / r1 along the path (negative: obstructed; ≥ 0.6 is the usual "clear" rule),
        the clearance in metres there, and its distance from the transmitter.
    """

    visible: bool
    min_clearance_ratio: float
    min_clearance_m: float
    at_distance_m: float

    @property
    def clearance_pct(self) -> float:
        """Minimum clearance in % of the first Fresnel zone radius."""
        return 100.0 * self.min_clearance_ratio


@dataclass(frozen=True, eq=False)
class ProfileGeometry:
    """Arrays to draw a profile: terrain raised by the earth bulge, line of sight and first Fresnel radius (m)."""

    distance_m: np.ndarray
    terrain_m: np.ndarray
    bulge_m: np.ndarray
    los_m: np.ndarray
    fresnel_radius_m: np.ndarray


def profile_geometry(distances_m: Any, elevations_m: Any, tx_height_m: float, rx_height_m: float,
                     frequency_mhz: float, *, k_factor: float = DEFAULT_K_FACTOR) -> ProfileGeometry:
    """Return the geometry of a profile on the effective earth (see :class:`ProfileGeometry`)."""
    d, z, za, zb = _prepare(distances_m, elevations_m, tx_height_m, rx_height_m, k_factor)
    d2 = d[-1] - d
    return ProfileGeometry(d, z, np.asarray(effective_earth_bulge_m(d, d2, k_factor)), za + (zb - za) * d / d[-1],
                           np.asarray(first_fresnel_radius_m(d, d2, frequency_mhz)))


def line_of_sight(distances_m: Any, elevations_m: Any, tx_height_m: float, rx_height_m: float,
                  frequency_mhz: float, *, k_factor: float = DEFAULT_K_FACTOR) -> LineOfSight:
    """Line of sight and minimum first-Fresnel-zone clearance along a terrain profile.

    Terrain is raised by the effective earth bulge (k-factor). Parameters are those of
    :func:`single_knife_edge_loss_db`.

    Returns
    -------
    LineOfSight
        Visibility and the worst clearance / r1 (infinite for a profile with no interior point).
    """
    g = profile_geometry(distances_m, elevations_m, tx_height_m, rx_height_m, frequency_mhz, k_factor=k_factor)
    if g.distance_m.size < 3:
        return LineOfSight(True, math.inf, math.inf, math.nan)
    clearance = (g.los_m - g.terrain_m)[1:-1]
    ratio = clearance / g.fresnel_radius_m[1:-1]
    k = int(np.argmin(ratio))
    return LineOfSight(bool(np.all(clearance > 0)), float(ratio[k]), float(clearance[k]), float(g.distance_m[k + 1]))


# --------------------------------------------------------------------------------------------- link budgets


@dataclass(frozen=True)
class LinkParameters:
    """Downlink budget of one technology, from transmitter power to the level a phone measures.

    Attributes
    ----------
    technology, frequency_mhz
        "2G", "3G", "4G" or "5G"; carrier frequency.
    tx_power_dbm, antenna_gain_dbi, cable_loss_db
        Total transmit power per sector, sector antenna gain (main beam), feeder + jumpers + connectors.
    rx_height_m, rx_gain_dbi
        Mobile antenna height above ground and gain.
    reference_share_db
        Share of the total power in the measured quantity: 0 for the GSM BCCH carrier (RxLev), the CPICH share
        for RSCP, −10·log10(12·N_RB) for one resource element (RSRP, SS-RSRP).
    body_loss_db
        Body / head loss (0 for outdoor coverage maps; ~3 dB for a phone at the head).
    """

    technology: str
    frequency_mhz: float
    tx_power_dbm: float
    antenna_gain_dbi: float
    cable_loss_db: float
    rx_height_m: float = 1.5
    rx_gain_dbi: float = 0.0
    reference_share_db: float = 0.0
    body_loss_db: float = 0.0

    @property
    def eirp_dbm(self) -> float:
        """Total EIRP: tx power + antenna gain − cable loss."""
        return self.tx_power_dbm + self.antenna_gain_dbi - self.cable_loss_db

    @property
    def reference_eirp_dbm(self) -> float:
        """EIRP of the measured quantity (per resource element for RSRP)."""
        return self.eirp_dbm + self.reference_share_db


def resource_element_share_db(n_rb: int) -> float:
    """Share of one resource element in the total power: −10·log10(12·N_RB) (100 RB → −30.8 dB)."""
    return -10.0 * math.log10(12 * n_rb)


TECH_DEFAULTS: dict[str, LinkParameters] = {  # sources: module docstring
    "2G": LinkParameters("2G", 900.0, 43.0, 15.0, 3.0, reference_share_db=0.0),
    "3G": LinkParameters("3G", 2100.0, 43.0, 18.0, 2.0, reference_share_db=-10.0),
    "4G": LinkParameters("4G", 1800.0, 46.0, 17.0, 2.0, reference_share_db=resource_element_share_db(100)),
    "5G": LinkParameters("5G", 3700.0, 53.0, 18.0, 0.5, reference_share_db=resource_element_share_db(273)),
}
TECH_BANDS_MHZ: dict[str, tuple[float, float]] = {"2G": (800.0, 1900.0), "3G": (800.0, 2200.0),
                                                   "4G": (700.0, 2700.0), "5G": (2300.0, 4000.0)}


def _tech_key(technology: str) -> str:
    key = str(technology).strip().upper()
    if key not in TECH_DEFAULTS:
        raise ValueError(f"unknown technology {technology!r}; expected one of {', '.join(TECH_DEFAULTS)}")
    return key


def link_parameters(technology: str, *, band_mhz: float | None = None, **overrides: float) -> LinkParameters:
    """Return the default link budget of a technology with some values replaced.

    Parameters
    ----------
    technology
        "2G", "3G", "4G" or "5G" (case-insensitive).
    band_mhz
        Carrier frequency replacing the default (e.g. 700 for LTE band 28).
    **overrides
        Any other :class:`LinkParameters` field, e.g. ``tx_power_dbm=43``.

    Returns
    -------
    LinkParameters
        A new frozen object; :data:`TECH_DEFAULTS` is never changed.

    Raises
    ------
    ValueError
        For an unknown technology or field.
    """
    key = _tech_key(technology)
    allowed = {f.name for f in dataclasses.fields(LinkParameters)} - {"technology"}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValueError(f"unknown link parameter(s) {', '.join(unknown)}; expected {', '.join(sorted(allowed))}")
    changes: dict[str, Any] = dict(overrides)  # float fields only (technology is refused above)
    if band_mhz is not None:
        changes["frequency_mhz"] = float(band_mhz)
    return dataclasses.replace(TECH_DEFAULTS[key], **changes)


@dataclass(frozen=True, eq=False)
class SiteParameters:
    """Per-site link parameters as arrays (one value per row of the sites frame).

    Attributes
    ----------
    technology
        The technology these values are for.
    frequency_mhz, height_m, tx_power_dbm, antenna_gain_dbi
        Arrays of the band, antenna height, transmit power and antenna gain of each site.
    serves
        True where the site carries the technology (its ``tech`` column lists it; all True without the column).
    base
        The :class:`LinkParameters` for everything not given per site.
    """

    technology: str
    frequency_mhz: np.ndarray
    height_m: np.ndarray
    tx_power_dbm: np.ndarray
    antenna_gain_dbi: np.ndarray
    serves: np.ndarray
    base: LinkParameters

    @property
    def reference_eirp_dbm(self) -> np.ndarray:
        """EIRP of the measured quantity of each site."""
        return (self.tx_power_dbm + self.antenna_gain_dbi - self.base.cable_loss_db
                + self.base.reference_share_db)

    rx_gain_dbi = property(lambda self: self.base.rx_gain_dbi, doc="Mobile antenna gain.")
    body_loss_db = property(lambda self: self.base.body_loss_db, doc="Body loss.")
    rx_height_m = property(lambda self: self.base.rx_height_m, doc="Mobile antenna height.")


def site_parameters(sites_frame: Any, technology: str, *, params: LinkParameters | None = None,
                    default_height_m: float = DEFAULT_SITE_HEIGHT_M) -> SiteParameters:
    """Read per-site radio values from a BTS (Geo)DataFrame, falling back to the technology defaults.

    Optional columns: ``band_mhz`` (used only where it lies in ``TECH_BANDS_MHZ[technology]``, since the layer
    holds one main band per site), ``height_m`` (antenna height), ``tx_dbm`` and ``gain_dbi``; ``tech``
    (comma-separated technologies) sets `serves`. Empty cells take the default.

    Parameters
    ----------
    sites_frame, technology
        BTS layer (pandas or geopandas; not modified) and "2G", "3G", "4G" or "5G".
    params, default_height_m
        Values for sites without their own (default ``link_parameters(technology)`` and 30 m).

    Returns
    -------
    SiteParameters
        Arrays in row order.

    Raises
    ------
    LayerError
        Listing every non-numeric or out-of-range value.
    """
    import pandas as pd

    from ._errors import LayerError, Problem

    key = _tech_key(technology)
    base = params or link_parameters(key)
    n = len(sites_frame)
    ids = sites_frame["id"].astype(str).tolist() if "id" in sites_frame.columns else [None] * n
    problems: list[Problem] = []

    def column(name: str, default: float, lo: float, hi: float) -> np.ndarray:
        if name not in sites_frame.columns:
            return np.full(n, float(default))
        raw = sites_frame[name]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = (np.isnan(values) & raw.notna().to_numpy()) | ~np.isnan(values) & ((values < lo) | (values > hi))
        for i in np.flatnonzero(bad):
            problems.append(Problem("bts_sites", f"{name} is {raw.iloc[i]!r}, expected a number in {lo:g}–{hi:g}",
                                    row=int(i) + 1, column=name, feature_id=ids[i]))
        return np.where(np.isnan(values), float(default), values)

    band = column("band_mhz", base.frequency_mhz, 100.0, 6000.0)
    height = column("height_m", default_height_m, 0.5, 500.0)
    tx = column("tx_dbm", base.tx_power_dbm, -10.0, 70.0)
    gain = column("gain_dbi", base.antenna_gain_dbi, -10.0, 40.0)
    if problems:
        raise LayerError(f"bts_sites: {len(problems)} invalid radio value(s)", problems)
    lo, hi = TECH_BANDS_MHZ[key]
    outside = (band < lo) | (band > hi)
    if outside.any():
        logger.debug("%d site(s) have a band outside %g–%g MHz; %s uses %g MHz there", outside.sum(), lo, hi, key,
                     base.frequency_mhz)
    band = np.where(outside, base.frequency_mhz, band)
    if "tech" in sites_frame.columns:
        serves = np.array([key in {t.strip().upper() for t in str(x).replace(";", ",").split(",")}
                           for x in sites_frame["tech"].fillna("")], dtype=bool)
    else:
        serves = np.ones(n, dtype=bool)
    return SiteParameters(key, band, height, tx, gain, serves, base)


def rsrp_dbm(path_loss_db: Any, params: LinkParameters | SiteParameters) -> Any:
    """Received level: EIRP + reference share − path loss − body loss + rx gain (dBm).

    RSRP for 4G, SS-RSRP for 5G, RSCP for 3G, RxLev for 2G. With :class:`SiteParameters` the EIRP is an array per
    site that broadcasts along the last axis of `path_loss_db` (shape (n_cells, n_sites)).
    """
    return _out(np.asarray(params.reference_eirp_dbm) + params.rx_gain_dbi - params.body_loss_db
                - np.asarray(path_loss_db, dtype=float))


def max_range_km(params: LinkParameters, threshold_dbm: Any, base_height_m: Any, environment: str = "rural", *,
                 calibration_db: float | None = None, diffraction_db: float = 0.0,
                 max_distance_km: float = 100.0) -> Any:
    """Largest distance at which the received level stays ≥ `threshold_dbm`, by bisection on :func:`path_loss_db`.

    Useful as a search radius for the coverage engine. Vectorised over `threshold_dbm` and `base_height_m`
    (40 bisection steps on log10 distance, precision < 1e-10 decades).

    Parameters
    ----------
    params
        Link budget (frequency, EIRP, mobile height …).
    threshold_dbm, base_height_m
        Required level (e.g. −110 dBm outdoor RSRP) and antenna height(s) above ground.
    environment, calibration_db, diffraction_db
        As for :func:`path_loss_db`.
    max_distance_km
        Upper bound of the search; returned when the level is still above the threshold there.

    Returns
    -------
    float or numpy.ndarray
        Range in km (0 when even :data:`MIN_DISTANCE_KM` is out of reach).
    """
    budget = rsrp_dbm(0.0, params) - np.asarray(threshold_dbm, dtype=float)  # largest tolerable loss

    def loss(d_km: Any) -> Any:
        return path_loss_db(d_km, params.frequency_mhz, base_height_m, mobile_height_m=params.rx_height_m,
                            environment=environment, diffraction_db=diffraction_db, calibration_db=calibration_db)

    shape = np.broadcast(budget, np.asarray(base_height_m)).shape
    lo = np.full(shape, math.log10(MIN_DISTANCE_KM))
    hi = np.full(shape, math.log10(max_distance_km))
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        ok = loss(10.0**mid) <= budget
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    result = np.where(loss(MIN_DISTANCE_KM) > budget, 0.0, 10.0**lo)
    result = np.where(loss(max_distance_km) <= budget, max_distance_km, result)
    return _out(result)

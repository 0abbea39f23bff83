"""Point-to-point microwave hops over terrain: band by distance, F1 clearance, link budget with a rain fade margin.

A hop is *clear* when the first Fresnel zone keeps at least `MIN_CLEARANCE_PCT` (60 %) free of terrain raised by
the effective earth bulge at k = 4/3 (:func:`ictgis.radio.line_of_sight`), and it *closes* when its fade margin
(received level − receiver threshold) covers the rain attenuation exceeded for the time that the availability
allows (ITU-R P.530-17 §2.4.1, with the specific attenuation of ITU-R P.838-3 and the rain rate R0.01 of ITU-R
P.837-7 for the region, `ictgis.settings.lastmile_rain_rate_mm_h`).

The band follows the distance (`BAND_MAX_KM`: 23 GHz up to 6 km … 7 GHz up to 50 km, the highest band whose reach
covers the hop first, then the lower ones when rain closes it); dishes are 0.6 m at 13–23 GHz and 1.2 m at 7–8 GHz.
When no direct hop from a fiber-connected tower is clear, :func:`best_route` looks for a relay on high ground: the
local maxima of the DEM near the village (`relay_candidates`), each tried as a two-hop path.

Radio defaults (documented assumptions, typical licensed-band vendor datasheets): transmit power `TX_POWER_DBM`
20 dBm, receiver threshold `RX_THRESHOLD_DBM` −66 dBm (28 MHz, 256-QAM, BER 10⁻⁶), branching and connector losses
`MISC_LOSS_DB` 2 dB for both ends, dish efficiency `DISH_EFFICIENCY` 0.55, gaseous absorption `GAS_DB_PER_KM` per
band read from ITU-R P.676's standard atmosphere (7.5 g/m³), horizontal polarisation (the worse in rain).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import radio
from .constants import DEFAULT_K_FACTOR, SPEED_OF_LIGHT_M_S
from .terrain import Dem, profile

#: Highest hop length (km) of each licensed band, highest band first (assumption: common planning practice).
BAND_MAX_KM: dict[float, float] = {23.0: 6.0, 18.0: 10.0, 15.0: 15.0, 13.0: 25.0, 8.0: 40.0, 7.0: 50.0}
#: Dish diameter (m) by band.
DISH_M: dict[float, float] = {23.0: 0.6, 18.0: 0.6, 15.0: 0.6, 13.0: 0.6, 8.0: 1.2, 7.0: 1.2}
#: Gaseous absorption (dB/km), ITU-R P.676 standard atmosphere (approximate values read from its figure).
GAS_DB_PER_KM: dict[float, float] = {23.0: 0.20, 18.0: 0.06, 15.0: 0.03, 13.0: 0.02, 8.0: 0.01, 7.0: 0.01}
TX_POWER_DBM: float = 20.0
RX_THRESHOLD_DBM: float = -66.0
MISC_LOSS_DB: float = 2.0
DISH_EFFICIENCY: float = 0.55
MIN_CLEARANCE_PCT: float = 60.0
MAX_HOP_KM: float = max(BAND_MAX_KM.values())

# ITU-R P.838-3, Tables 1–4: coefficients of log10 k and α (horizontal and vertical polarisation).
_KH = ((-5.33980, -0.10008, 1.13098), (-0.35351, 1.26970, 0.45400), (-0.23789, 0.86036, 0.15354),
       (-0.94158, 0.64552, 0.16817))
_KH_M, _KH_C = -0.18961, 0.71147
_KV = ((-3.80595, 0.56934, 0.81061), (-3.44965, -0.22911, 0.51059), (-0.39902, 0.73042, 0.11899),
       (0.50167, 1.07319, 0.27195))
_KV_M, _KV_C = -0.16398, 0.63297
_AH = ((-0.14318, 1.82442, -0.55187), (0.29591, 0.77564, 0.19822), (0.32177, 0.63773, 0.13164),
       (-5.37610, -0.96230, 1.47828), (16.1721, -3.29980, 3.43990))
_AH_M, _AH_C = 0.67849, -1.95537
_AV = ((-0.07771, 2.33840, -0.76284), (0.56727, 0.95545, 0.54039), (-0.20238, 1.14520, 0.26809),
       (-48.2991, 0.791669, 0.116226), (48.5833, 0.791459, 0.116479))
_AV_M, _AV_C = -0.053739, 0.83433


def _p838_sum(table, m: float, c: float, x: float) -> float:
    return sum(a * math.exp(-(((x - b) / cc) ** 2)) for a, b, cc in table) + m * x + c


def rain_coefficients(frequency_ghz: float, *, polarisation: str = "horizontal") -> tuple[float, float]:
    """Return ITU-R P.838-3's ``(k, α)`` of the specific rain attenuation ``γ = k R^α`` (dB/km, R in mm/h).

    Parameters
    ----------
    frequency_ghz
        1–1000 GHz.
    polarisation
        ``horizontal`` or ``vertical`` (terrestrial paths: no elevation or tilt correction).
    """
    if not 1.0 <= frequency_ghz <= 1000.0:
        raise ValueError(f"P.838 covers 1–1000 GHz, not {frequency_ghz!r}")
    x = math.log10(frequency_ghz)
    if polarisation == "horizontal":
        return 10 ** _p838_sum(_KH, _KH_M, _KH_C, x), _p838_sum(_AH, _AH_M, _AH_C, x)
    if polarisation == "vertical":
        return 10 ** _p838_sum(_KV, _KV_M, _KV_C, x), _p838_sum(_AV, _AV_M, _AV_C, x)
    raise ValueError(f"polarisation must be horizontal or vertical, not {polarisation!r}")


def rain_attenuation_db(distance_km: float, frequency_ghz: float, rain_rate_mm_h: float, *,
                        percent_time: float = 0.01, polarisation: str = "horizontal") -> float:
    """Rain attenuation exceeded `percent_time` % of the year on a terrestrial path (ITU-R P.530-17 §2.4.1).

    ``A0.01 = γ · d · r`` with ``γ = k R0.01^α`` (P.838-3) and the distance factor
    ``r = 1 / (0.477 d^0.633 R0.01^(0.073 α) f^0.123 − 10.579 (1 − exp(−0.024 d)))`` (at most 2.5); other
    ``A_p = A0.01 · C1 p^−(C2 + C3 log10 p)`` for p in 0.001–1 % (eqs. 34–35, applied at 0.01 % too, as written).

    Parameters
    ----------
    distance_km, frequency_ghz, rain_rate_mm_h
        Path length, frequency and the rain rate exceeded 0.01 % of the time (1-minute integration).
    percent_time
        Percentage of the year the attenuation is exceeded (100 − availability).
    polarisation
        ``horizontal`` or ``vertical``.
    """
    if distance_km <= 0 or rain_rate_mm_h <= 0:
        return 0.0
    k, alpha = rain_coefficients(frequency_ghz, polarisation=polarisation)
    gamma = k * rain_rate_mm_h ** alpha
    d = distance_km
    r = 1.0 / (0.477 * d ** 0.633 * rain_rate_mm_h ** (0.073 * alpha) * frequency_ghz ** 0.123
               - 10.579 * (1.0 - math.exp(-0.024 * d)))
    a001 = gamma * d * (min(r, 2.5) if r > 0 else 2.5)
    p = float(percent_time)
    if not 0.001 <= p <= 1.0:
        raise ValueError(f"percent_time must lie in 0.001–1 %, not {percent_time!r}")
    c0 = 0.12 + 0.4 * math.log10(frequency_ghz / 10.0) ** 0.8 if frequency_ghz >= 10 else 0.12
    c1 = 0.07 ** c0 * 0.12 ** (1.0 - c0)
    c2 = 0.855 * c0 + 0.546 * (1.0 - c0)
    c3 = 0.139 * c0 + 0.043 * (1.0 - c0)
    return a001 * c1 * p ** -(c2 + c3 * math.log10(p))


def dish_gain_dbi(diameter_m: float, frequency_ghz: float, *, efficiency: float = DISH_EFFICIENCY) -> float:
    """Gain of a parabolic dish: ``10 log10(η (π D f / c)²)``."""
    return 10.0 * math.log10(efficiency * (math.pi * diameter_m * frequency_ghz * 1e9 / SPEED_OF_LIGHT_M_S) ** 2)


def band_order(distance_km: float) -> list[float]:
    """Bands to try for a hop, the highest whose reach covers `distance_km` first, then the lower ones."""
    return [f for f, reach in BAND_MAX_KM.items() if reach >= distance_km]


@dataclass(frozen=True)
class Hop:
    """One evaluated microwave hop.

    Attributes
    ----------
    distance_km, freq_ghz, dish_m
        Length, band and dish diameter (0 when no band reaches).
    from_height_m, to_height_m
        Antenna heights above the ground at each end.
    clearance_pct
        Least first-Fresnel-zone clearance along the path, % of the radius (k = 4/3, earth bulge included).
    margin_db
        Fade margin: received level − receiver threshold (dB).
    rain_db
        Rain attenuation exceeded at the availability (ITU-R P.530): the margin it needs.
    ok
        Clear (≥ `MIN_CLEARANCE_PCT`) and closed (margin ≥ rain).
    reason
        Why not, when not ok: ``no_clear_path``, ``out_of_reach``, ``rain_fade`` or ``no_dem``.
    """

    distance_km: float
    freq_ghz: float
    dish_m: float
    from_height_m: float
    to_height_m: float
    clearance_pct: float
    margin_db: float
    rain_db: float
    ok: bool
    reason: str = ""


def evaluate_hop(dem: Dem, a: tuple[float, float], b: tuple[float, float], *, from_height_m: float,
                 to_height_m: float, rain_rate_mm_h: float, availability_pct: float = 99.99,
                 k_factor: float = DEFAULT_K_FACTOR, min_clearance_pct: float = MIN_CLEARANCE_PCT) -> Hop:
    """Evaluate a hop from point `a` to `b` (DEM CRS): the best band that is clear and closes, or why none is.

    Returns
    -------
    Hop
        The first band of `band_order` that is clear and closes; otherwise the best try, with its reason.
    """
    d_m = math.hypot(b[0] - a[0], b[1] - a[1])
    d_km = d_m / 1000.0
    bands = band_order(d_km)
    if not bands:
        return Hop(d_km, 0.0, 0.0, from_height_m, to_height_m, math.nan, math.nan, math.nan, False, "out_of_reach")
    dist, elev = profile(dem, a[0], a[1], b[0], b[1])
    if not np.all(np.isfinite(elev)):
        return Hop(d_km, bands[0], DISH_M[bands[0]], from_height_m, to_height_m, math.nan, math.nan, math.nan,
                   False, "no_dem")
    p = 100.0 - float(availability_pct)
    best: Hop | None = None
    for f in bands:
        los = radio.line_of_sight(dist, elev, from_height_m, to_height_m, f * 1000.0, k_factor=k_factor)
        clear_pct = min(los.clearance_pct, 1e6)
        dish = DISH_M[f]
        gain = dish_gain_dbi(dish, f)
        fspl = 92.45 + 20 * math.log10(f) + 20 * math.log10(max(d_km, 1e-3))
        rx = TX_POWER_DBM + 2 * gain - fspl - MISC_LOSS_DB - GAS_DB_PER_KM[f] * d_km
        margin = rx - RX_THRESHOLD_DBM
        rain = rain_attenuation_db(d_km, f, rain_rate_mm_h, percent_time=min(max(p, 0.001), 1.0))
        clear = clear_pct >= min_clearance_pct
        ok = clear and margin >= rain
        reason = "" if ok else ("no_clear_path" if not clear else "rain_fade")
        hop = Hop(d_km, f, dish, from_height_m, to_height_m, clear_pct, margin, rain, ok, reason)
        if ok:
            return hop
        if best is None or (not clear and clear_pct > best.clearance_pct) or (clear and best.reason != "rain_fade"):
            best = hop
        if not clear:
            break  # a lower band has a wider Fresnel zone: no clearer
    assert best is not None
    return best


def relay_candidates(dem: Dem, *, window_m: float = 1500.0, top_share: float = 0.5,
                     min_prominence_m: float = 10.0) -> np.ndarray:
    """Return candidate relay points on high ground: local maxima of the DEM, as an ``(n, 3)`` array x, y, z.

    A cell is a candidate when it is the highest within `window_m`, at least `min_prominence_m` above the lowest
    cell there (no plateaus) and in the upper `top_share` of the DEM's elevations.
    """
    from scipy.ndimage import maximum_filter, minimum_filter

    z = np.where(np.isfinite(dem.elevation), dem.elevation, -np.inf)
    size = max(3, int(round(window_m / dem.resolution_m)) | 1)
    peaks = (z == maximum_filter(z, size=size, mode="nearest")) & np.isfinite(dem.elevation)
    low = minimum_filter(np.where(np.isfinite(dem.elevation), dem.elevation, np.inf), size=size, mode="nearest")
    peaks &= z >= low + min_prominence_m
    finite = dem.elevation[np.isfinite(dem.elevation)]
    if finite.size == 0:
        return np.zeros((0, 3))
    peaks &= z >= np.quantile(finite, 1.0 - top_share)
    rows, cols = np.nonzero(peaks)
    t = dem.transform
    xs = t.c + (cols + 0.5) * t.a
    ys = t.f + (rows + 0.5) * t.e
    return np.column_stack([xs, ys, dem.elevation[rows, cols]]).astype(float)


@dataclass(frozen=True)
class Route:
    """A microwave path to a village: one hop, or two through a relay.

    Attributes
    ----------
    source
        Index of the fiber-connected tower it starts from.
    hops
        The hops, from the tower to the village.
    relay
        ``(x, y)`` of the relay, or None.
    """

    source: int
    hops: tuple[Hop, ...]
    relay: tuple[float, float] | None = None


def best_route(dem: Dem, village: tuple[float, float], sources: np.ndarray, source_heights_m: Sequence[float], *,
               relays: np.ndarray, village_mast_m: float, relay_mast_m: float, rain_rate_mm_h: float,
               availability_pct: float = 99.99, max_sources: int = 5, max_relays: int = 12,
               relay_radius_m: float = 15_000.0, source_tree=None, relay_tree=None
               ) -> tuple[Route | None, str, list[Hop]]:
    """Find a microwave path from a fiber-connected tower to a village: a direct hop, else through a relay.

    Parameters
    ----------
    dem
        Elevation model (the CRS of every point).
    village
        ``(x, y)`` of the village.
    sources, source_heights_m
        ``(n, 2)`` fiber-connected towers and their antenna heights above ground.
    relays
        ``(m, 3)`` candidate relay points (`relay_candidates`).
    village_mast_m, relay_mast_m
        Antenna heights at the village and on a relay.
    rain_rate_mm_h, availability_pct
        Rain rate R0.01 and the availability the hop must keep.
    max_sources, max_relays, relay_radius_m
        How many towers (nearest first) and relays (highest first, within the radius) are tried.
    source_tree, relay_tree
        ``scipy.spatial.cKDTree`` of `sources` and of the relays' x, y (built when not given).

    Returns
    -------
    (Route or None, str, list of Hop)
        The path (direct first, then through a relay, fewest dish sizes …), the reason when there is none
        (``out_of_reach``, ``no_clear_path``, ``rain_fade``, ``no_fiber_tower``), and every direct hop tried.
    """
    from scipy.spatial import cKDTree

    if len(sources) == 0:
        return None, "no_fiber_tower", []
    source_tree = source_tree or cKDTree(sources)
    kw = {"rain_rate_mm_h": rain_rate_mm_h, "availability_pct": availability_pct}
    near = list(source_tree.query_ball_point(village, r=MAX_HOP_KM * 1000.0))
    near.sort(key=lambda i: math.hypot(sources[i][0] - village[0], sources[i][1] - village[1]))
    tried = []
    for i in near[:max_sources]:
        hop = evaluate_hop(dem, tuple(sources[i]), village, from_height_m=float(source_heights_m[i]),
                           to_height_m=village_mast_m, **kw)
        tried.append(hop)
        if hop.ok:
            return Route(i, (hop,)), "", tried
    if len(relays):
        relay_tree = relay_tree or cKDTree(relays[:, :2])
        cand = relay_tree.query_ball_point(village, r=relay_radius_m)
        cand.sort(key=lambda j: -relays[j, 2])
        for j in cand[:max_relays]:
            rp = (float(relays[j, 0]), float(relays[j, 1]))
            last = evaluate_hop(dem, rp, village, from_height_m=relay_mast_m, to_height_m=village_mast_m, **kw)
            if not last.ok:
                continue
            feed = sorted(source_tree.query_ball_point(rp, r=MAX_HOP_KM * 1000.0),
                          key=lambda i: math.hypot(sources[i][0] - rp[0], sources[i][1] - rp[1]))
            for i in feed[:max_sources]:
                first = evaluate_hop(dem, tuple(sources[i]), rp, from_height_m=float(source_heights_m[i]),
                                     to_height_m=relay_mast_m, **kw)
                if first.ok:
                    return Route(i, (first, last), rp), "", tried
    if not near:
        return None, "out_of_reach", tried
    reasons = {h.reason for h in tried}
    return None, "rain_fade" if reasons == {"rain_fade"} else "no_clear_path", tried

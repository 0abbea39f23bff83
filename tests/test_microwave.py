"""Microwave hops: ITU-R P.838/P.530 known answers, bands by distance, and a ridge that a relay clears."""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine

from ictgis import microwave as mw
from ictgis import radio
from ictgis.terrain import Dem, profile

CELL = 30.0


@pytest.mark.parametrize(("f", "k", "alpha"), [(10.0, 0.01217, 1.2571), (15.0, 0.04481, 1.1233),
                                               (23.0, 0.1286, 1.0214), (7.0, 0.001915, 1.4810)])
def test_p838_coefficients_match_the_recommendation_table(f, k, alpha):
    """Horizontal k and α against ITU-R P.838-3 (its tabulated values, 4 significant digits)."""
    got_k, got_a = mw.rain_coefficients(f)
    assert got_k == pytest.approx(k, rel=2e-3) and got_a == pytest.approx(alpha, abs=2e-4)


def test_p838_vertical_attenuates_less_than_horizontal():
    for f in (7.0, 13.0, 18.0, 23.0):
        kh, ah = mw.rain_coefficients(f)
        kv, av = mw.rain_coefficients(f, polarisation="vertical")
        assert kv * 72.0 ** av < kh * 72.0 ** ah
    with pytest.raises(ValueError, match="polarisation"):
        mw.rain_coefficients(15.0, polarisation="circular")


@pytest.mark.parametrize(("d", "f", "p", "expected"), [(10.0, 15.0, 0.01, 30.2731), (5.0, 23.0, 0.01, 34.3032),
                                                       (20.0, 8.0, 0.01, 13.6555), (10.0, 15.0, 0.1, 11.4668)])
def test_p530_rain_attenuation_known_answers(d, f, p, expected):
    """P.530-17 §2.4.1 at R0.01 = 72 mm/h, horizontal: values of the `itur` package (0.4, P.530-17, P.838-3)."""
    assert mw.rain_attenuation_db(d, f, 72.0, percent_time=p) == pytest.approx(expected, abs=2e-3)


def test_rain_grows_with_rain_rate_and_frequency():
    assert mw.rain_attenuation_db(8, 18, 90) > mw.rain_attenuation_db(8, 18, 60) > 0
    assert mw.rain_attenuation_db(8, 23, 72) > mw.rain_attenuation_db(8, 13, 72)
    assert mw.rain_attenuation_db(8, 23, 0.0) == 0.0
    with pytest.raises(ValueError, match="0.001"):
        mw.rain_attenuation_db(8, 23, 72, percent_time=5.0)


def test_dish_gain_and_band_order():
    # 0.6 m at 23 GHz, η 0.55: 10 log10(0.55 (π 0.6 23e9 / c)²) ≈ 40.6 dBi
    assert mw.dish_gain_dbi(0.6, 23.0) == pytest.approx(40.61, abs=0.01)
    assert mw.band_order(3.0)[0] == 23.0 and mw.band_order(12.0)[0] == 15.0
    assert mw.band_order(20.0)[0] == 13.0 and mw.band_order(45.0) == [7.0]
    assert mw.band_order(80.0) == []


def ridge_dem(*, hill: bool = True) -> Dem:
    """12 × 8 km at 30 m: a plain at 200 m cut by a north–south ridge (400 m) at x = 6 km; a peak of 450 m on it."""
    rows, cols = 268, 400
    z = np.full((rows, cols), 200.0, dtype=np.float32)
    z[:, 198:203] = 400.0
    if hill:
        yy, xx = np.mgrid[0:rows, 0:cols]
        peak = 450.0 - 0.5 * np.hypot(xx - 200, yy - 70)  # a cone at column 200, row 70
        z = np.maximum(z, np.where(np.hypot(xx - 200, yy - 70) < 10, peak, 0.0)).astype(np.float32)
    return Dem(z, Affine(CELL, 0, 0.0, 0, -CELL, rows * CELL), "EPSG:9205", CELL)


def xy_of(dem: Dem, col: float, row: float) -> tuple[float, float]:
    return (col + 0.5) * CELL, dem.transform.f - (row + 0.5) * CELL


def test_ridge_blocks_the_direct_hop_and_a_relay_on_the_peak_clears_it():
    dem = ridge_dem()
    tower, village = xy_of(dem, 60, 150), xy_of(dem, 340, 150)  # 8.4 km apart, the ridge half way
    direct = mw.evaluate_hop(dem, tower, village, from_height_m=30.0, to_height_m=15.0, rain_rate_mm_h=72.0)
    assert not direct.ok and direct.reason == "no_clear_path" and direct.clearance_pct < 0
    relays = mw.relay_candidates(dem)
    assert len(relays) and relays[:, 2].max() == pytest.approx(450.0)
    route, why, tried = mw.best_route(dem, village, np.array([tower]), [30.0], relays=relays, village_mast_m=15.0,
                                      relay_mast_m=30.0, rain_rate_mm_h=72.0)
    assert why == "" and route is not None and route.relay is not None and len(route.hops) == 2
    assert tried and not tried[0].ok
    assert math.hypot(route.relay[0] - (200.5 * CELL), route.relay[1] - xy_of(dem, 200, 70)[1]) < 2 * CELL
    # Every hop clears 60 % of F1 and covers its rain margin, checked again on the DEM profile here.
    ends = [tower, route.relay, village]
    for k, hop in enumerate(route.hops):
        (x0, y0), (x1, y1) = ends[k], ends[k + 1]
        d, z = profile(dem, x0, y0, x1, y1)
        los = radio.line_of_sight(d, z, hop.from_height_m, hop.to_height_m, hop.freq_ghz * 1000.0)
        assert los.clearance_pct >= 60.0 and hop.clearance_pct == pytest.approx(los.clearance_pct, rel=1e-9)
        assert hop.margin_db >= hop.rain_db > 0


def test_no_relay_no_path_and_out_of_reach():
    dem = ridge_dem(hill=False)
    tower, village = xy_of(dem, 60, 150), xy_of(dem, 340, 150)
    on_ridge = mw.relay_candidates(dem)  # without the peak, the ridge's crest is the high ground
    assert len(on_ridge) and set(np.unique(on_ridge[:, 2])) == {400.0}
    flat = Dem(np.full((50, 50), 200.0, dtype=np.float32), Affine(CELL, 0, 0.0, 0, -CELL, 1500.0), "EPSG:9205", CELL)
    assert len(mw.relay_candidates(flat)) == 0  # a plain is no peak
    route, why, _ = mw.best_route(dem, village, np.array([tower]), [30.0], relays=np.zeros((0, 3)),
                                  village_mast_m=15.0, relay_mast_m=30.0, rain_rate_mm_h=72.0)
    assert route is None and why == "no_clear_path"
    far = (village[0] + 60_000.0, village[1])
    route, why, _ = mw.best_route(dem, far, np.array([tower]), [30.0], relays=np.zeros((0, 3)),
                                  village_mast_m=15.0, relay_mast_m=30.0, rain_rate_mm_h=72.0)
    assert route is None and why == "out_of_reach"


def test_a_short_clear_hop_takes_the_highest_band():
    dem = ridge_dem(hill=False)
    hop = mw.evaluate_hop(dem, xy_of(dem, 20, 150), xy_of(dem, 120, 150), from_height_m=30.0, to_height_m=15.0,
                          rain_rate_mm_h=72.0)
    assert hop.ok and hop.freq_ghz == 23.0 and hop.dish_m == 0.6 and hop.distance_km == pytest.approx(3.0)


def test_heavy_rain_pushes_a_hop_to_a_lower_band():
    dem = ridge_dem(hill=False)
    a, b = xy_of(dem, 20, 150), xy_of(dem, 190, 150)  # 5.1 km
    dry = mw.evaluate_hop(dem, a, b, from_height_m=30.0, to_height_m=15.0, rain_rate_mm_h=20.0)
    wet = mw.evaluate_hop(dem, a, b, from_height_m=30.0, to_height_m=15.0, rain_rate_mm_h=150.0)
    assert dry.ok and wet.ok and wet.freq_ghz < dry.freq_ghz

"""Propagation models and link budgets against hand-computed known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import tiny_layers

from ictgis import radio
from ictgis._errors import LayerError

LAMBDA_1800_M = 299.792458 / 1800  # 0.166551 m


# ----------------------------------------------------------------------------------------------- free space, Hata


def test_free_space_known_answer():
    """32.45 + 20·log10(10) + 20·log10(1800) = 32.45 + 20 + 65.1055 = 117.555 dB."""
    assert radio.free_space_loss_db(10.0, 1800.0) == pytest.approx(117.5555, abs=1e-3)
    assert radio.free_space_loss_db(1.0, 1000.0) == pytest.approx(92.45)
    out = radio.free_space_loss_db(np.array([1.0, 2.0]), 1000.0)
    assert out[1] - out[0] == pytest.approx(20 * math.log10(2))


def test_hata_900_mhz_urban_by_hand():
    """Okumura–Hata, f = 900 MHz, hb = 30 m, hm = 1.5 m, d = 5 km, small/medium city.

    log10 f = 2.954243 → 26.16·log10 f = 77.28298
    log10 hb = 1.477121 → 13.82·log10 hb = 20.41382
    a(hm) = (1.1·2.954243 − 0.7)·1.5 − (1.56·2.954243 − 0.8) = 3.824500 − 3.808618 = 0.015882
    B = 44.9 − 6.55·1.477121 = 35.224856; B·log10 5 = 35.224856·0.698970 = 24.621118
    L = 69.55 + 77.28298 − 20.41382 − 0.015882 + 24.621118 = 151.0244 dB
    """
    assert radio.hata_loss_db(5.0, 900.0, 30.0, 1.5, environment="urban") == pytest.approx(151.0244, abs=1e-3)


def test_hata_900_mhz_rural_and_suburban_by_hand():
    """Corrections to the 151.0244 dB urban value at 900 MHz.

    rural: −4.78·2.954243² + 18.33·2.954243 − 40.94 = −41.71811 + 54.15125 − 40.94 = −28.50642 → 122.5180 dB
    suburban: −2·[log10(900/28)]² − 5.4 = −2·1.507097² − 5.4 = −9.94261 → 141.0818 dB
    """
    assert radio.hata_loss_db(5.0, 900.0, 30.0, environment="rural") == pytest.approx(122.5180, abs=1e-3)
    assert radio.hata_loss_db(5.0, 900.0, 30.0, environment="suburban") == pytest.approx(141.0818, abs=1e-3)


def test_cost231_1800_mhz_by_hand():
    """COST-231 Hata, f = 1800 MHz, hb = 30 m, hm = 1.5 m, d = 5 km, medium city (C = 0).

    log10 f = 3.255273 → 33.9·log10 f = 110.35374
    a(hm) = (1.1·3.255273 − 0.7)·1.5 − (1.56·3.255273 − 0.8) = 4.321200 − 4.278225 = 0.042975
    L = 46.3 + 110.35374 − 20.41382 − 0.042975 + 24.621118 = 160.8181 dB; "urban_dense" adds C = 3 dB and uses the
    large-city a(hm) = 3.2·[log10(11.75·1.5)]² − 4.97 = −0.000936.
    """
    assert radio.hata_loss_db(5.0, 1800.0, 30.0) == pytest.approx(160.8181, abs=1e-3)
    dense = radio.hata_loss_db(5.0, 1800.0, 30.0, environment="urban_dense")
    assert dense == pytest.approx(160.8181 + 3.0 + 0.042975 + 0.000936, abs=1e-3)


def test_hata_vectorised_clipped_and_validated():
    d = np.array([0.0, 0.01, 0.02, 1.0, 10.0])
    loss = radio.hata_loss_db(d, 1800.0, 30.0, environment="rural")
    assert loss.shape == (5,)
    assert loss[0] == loss[1] == loss[2]  # clipped to 20 m
    assert np.all(np.diff(loss[2:]) > 0)
    a, b = radio.hata_coefficients(1800.0, 30.0, environment="rural")
    assert loss[4] == pytest.approx(a + b)
    with pytest.raises(ValueError, match="environment"):
        radio.hata_loss_db(1.0, 900.0, 30.0, environment="forest")
    with pytest.raises(ValueError, match="MHz"):
        radio.hata_loss_db(1.0, 100.0, 30.0)
    with pytest.raises(ValueError, match="heights"):
        radio.hata_loss_db(1.0, 900.0, 0.0)


def test_path_loss_adds_diffraction_calibration_and_free_space_floor():
    d = np.array([0.05, 5.0, 10.0])
    hata = radio.hata_loss_db(d, 1800.0, 30.0, environment="rural")
    fs = radio.free_space_loss_db(d, 1800.0)
    plain = radio.path_loss_db(d, 1800.0, 30.0)
    assert plain[0] == pytest.approx(fs[0]) and hata[0] < fs[0]  # rural Hata falls below free space near the mast
    assert np.allclose(plain[1:], hata[1:])
    extra = radio.path_loss_db(d, 1800.0, 30.0, diffraction_db=np.array([0.0, 6.0, 12.0]), calibration_db=2.5)
    assert np.allclose(extra - plain, [2.5, 8.5, 14.5])
    assert radio.path_loss_db(5.0, 1800.0, 30.0, environment="urban") == pytest.approx(160.8181, abs=1e-3)
    assert radio.CALIBRATION_DB == {"urban_dense": 0.0, "urban": 0.0, "suburban": 0.0, "rural": 0.0}


def test_path_loss_on_a_million_cells_is_vectorised_and_finite():
    # Speed is measured in benchmarks/, not here: this checks the vectorised path against the scalar one.
    d = np.random.default_rng(1).uniform(0.0, 20.0, 1_000_000)
    loss = radio.path_loss_db(d, 1800.0, 30.0, diffraction_db=np.zeros_like(d))
    assert loss.shape == d.shape and np.isfinite(loss).all()
    picks = [0, 1, 499_999, 999_999]
    assert np.allclose(loss[picks], [radio.path_loss_db(float(d[i]), 1800.0, 30.0) for i in picks])


# ----------------------------------------------------------------------------------------------- knife edge


def test_knife_edge_known_answers():
    """J(v) = 6.9 + 20·log10(√((v − 0.1)² + 1) + v − 0.1).

    J(0) = 6.9 + 20·log10(1.004988 − 0.1) = 6.9 − 0.867148 = 6.0329 dB
    J(1) = 6.9 + 20·log10(√1.81 + 0.9) = 6.9 + 20·log10(2.245362) = 13.9257 dB
    J(2.4) = 6.9 + 20·log10(√6.29 + 2.3) = 6.9 + 20·log10(4.807987) = 20.5393 dB
    J(−0.78) = 0 (the formula itself would give 0.004 dB there).
    """
    assert radio.knife_edge_loss_db(0.0) == pytest.approx(6.0329, abs=1e-4)
    assert radio.knife_edge_loss_db(1.0) == pytest.approx(13.9257, abs=1e-4)
    assert radio.knife_edge_loss_db(2.4) == pytest.approx(20.5393, abs=1e-4)
    assert radio.knife_edge_loss_db(-0.78) == 0.0
    assert radio.knife_edge_loss_db(-0.7799) == pytest.approx(0.0047, abs=1e-3)
    assert np.array_equal(radio.knife_edge_loss_db(np.array([-5.0, -1e9])), [0.0, 0.0])


def test_knife_edge_agrees_with_itm_aknfe():
    """ITM (itmlogic) approximates the same Fresnel integral differently; they agree within 0.5 dB for v ≥ 0."""
    aknfe = pytest.importorskip("itmlogic.diffraction_attenuation.aknfe").aknfe
    for v in np.linspace(0.0, 5.0, 26):
        assert abs(radio.knife_edge_loss_db(v) - aknfe(v * v)) < 0.5, v


def test_fresnel_v_radius_bulge_and_curvature_coefficient():
    """v = h·√(2/λ·(1/d1 + 1/d2)); r1 = 17.32·√(d1·d2/(f_GHz·D)) with km; bulge = d1·d2/(2kR)."""
    v = radio.fresnel_v(10.0, 5000.0, 5000.0, LAMBDA_1800_M)
    assert v == pytest.approx(10.0 * math.sqrt(2 / LAMBDA_1800_M * 2 / 5000))
    assert radio.fresnel_v(-10.0, 5000.0, 5000.0, LAMBDA_1800_M) == pytest.approx(-v)
    assert radio.first_fresnel_radius_m(5000.0, 5000.0, 1800.0) == pytest.approx(
        17.32 * math.sqrt(5 * 5 / (1.8 * 10)), rel=1e-3)  # 20.41 m
    assert radio.effective_earth_bulge_m(5000.0, 5000.0) == pytest.approx(25e6 / (2 * 4 / 3 * 6_371_000))  # 1.47 m
    assert radio.effective_earth_bulge_m(5000.0, 5000.0, math.inf) == 0.0
    assert radio.gdal_curvature_coefficient(7 / 6) == pytest.approx(0.85714, abs=1e-5)
    assert radio.gdal_curvature_coefficient() == pytest.approx(0.75)


# ----------------------------------------------------------------------------------------------- profiles


def flat_profile(length_m: float = 10_000.0, step_m: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    d = np.arange(0.0, length_m + step_m / 2, step_m)
    return d, np.zeros_like(d)


MODELS = (radio.single_knife_edge_loss_db, radio.deygout_loss_db, radio.epstein_peterson_loss_db)


def test_flat_earth_has_no_diffraction_loss():
    d, z = flat_profile()
    for model in MODELS:
        assert model(d, z, 30.0, 30.0, 1800.0) == 0.0
        assert model(d, z, 30.0, 30.0, 1800.0, k_factor=math.inf) == 0.0
    # 40 km: the bulge (23.5 m mid-path) eats into the Fresnel zone; a flat earth would not.
    d, z = flat_profile(40_000.0)
    assert radio.single_knife_edge_loss_db(d, z, 30.0, 30.0, 1800.0) > 0.0
    assert radio.single_knife_edge_loss_db(d, z, 30.0, 30.0, 1800.0, k_factor=math.inf) == 0.0


def test_single_wedge_equals_j_of_v_by_hand():
    """Flat earth (k = ∞), 10 km, antennas 30 m, one 50 m wedge mid-path, 1800 MHz.

    h = 50 − 30 = 20 m, d1 = d2 = 5000 m, λ = 0.166551 m
    v = 20·√(2/0.166551 · (2/5000)) = 20·0.0693061 = 1.38612
    J = 6.9 + 20·log10(√(1.28612² + 1) + 1.28612) = 6.9 + 20·log10(2.91527) = 16.194 dB
    """
    d, z = flat_profile()
    z[50] = 50.0
    for model in MODELS:
        assert model(d, z, 30.0, 30.0, 1800.0, k_factor=math.inf) == pytest.approx(16.194, abs=2e-3)


def test_two_edges_deygout_and_epstein_peterson_by_hand():
    """Wedges of 50 m at 3 and 7 km on a flat 10 km path, antennas 30 m, k = ∞.

    Single edge: v = 20·√(2/λ·(1/3000 + 1/7000)) (both edges give the same v).
    Deygout: that principal edge (3 km), then edge 2 against the line from its top (50 m at 3 km) to the receiver
    (30 m at 10 km): 50 − 20·4/7 = 38.571 m there, h = 11.429 m, d1 = 4000, d2 = 3000 m.
    Epstein–Peterson: each edge against the line joining its neighbours — edge 1 from tx (30 m) to edge 2 (50 m):
    h = 50 − (30 + 20·3/7) = 11.429 m, d1 = 3000, d2 = 4000 m; edge 2 symmetric.
    v1 = 20·√(2/0.166551·(1/3000 + 1/7000)) = 1.51238 → J = 16.847 dB
    v2 = 11.429·√(2/0.166551·(1/4000 + 1/3000)) = 0.95651 → J = 13.642 dB
    Deygout = 16.847 + 13.642 = 30.489 dB; Epstein–Peterson = 2·13.642 = 27.284 dB.
    """
    d, z = flat_profile()
    z[30] = z[70] = 50.0
    lam = LAMBDA_1800_M
    j_single = radio.knife_edge_loss_db(radio.fresnel_v(20.0, 3000.0, 7000.0, lam))
    j_second = radio.knife_edge_loss_db(radio.fresnel_v(20.0 * 4 / 7, 4000.0, 3000.0, lam))
    kw = {"k_factor": math.inf}
    single = radio.single_knife_edge_loss_db(d, z, 30.0, 30.0, 1800.0, **kw)
    deygout = radio.deygout_loss_db(d, z, 30.0, 30.0, 1800.0, **kw)
    ep = radio.epstein_peterson_loss_db(d, z, 30.0, 30.0, 1800.0, **kw)
    assert single == pytest.approx(j_single)
    assert deygout == pytest.approx(j_single + j_second)
    assert ep == pytest.approx(2 * j_second)
    assert (single, deygout, ep) == pytest.approx((16.847, 30.489, 27.284), abs=1e-3)
    assert deygout >= single and ep >= single
    assert radio.deygout_loss_db(d, z, 30.0, 30.0, 1800.0, max_edges=1, **kw) == pytest.approx(single)
    assert radio.epstein_peterson_loss_db(d, z, 30.0, 30.0, 1800.0, max_edges=1, **kw) == pytest.approx(single)


def test_deygout_never_below_single_edge_on_rough_terrain():
    rng = np.random.default_rng(7)
    d = np.arange(0.0, 15_000.0, 30.0)
    z = 600 + np.cumsum(rng.normal(0.0, 4.0, d.size))
    for tx in (10.0, 30.0, 60.0):
        single = radio.single_knife_edge_loss_db(d, z, tx, 1.5, 1800.0)
        assert radio.deygout_loss_db(d, z, tx, 1.5, 1800.0) >= single - 1e-9
        assert radio.epstein_peterson_loss_db(d, z, tx, 1.5, 1800.0) >= 0.0


def test_line_of_sight_clearance_and_radio_horizon():
    """Flat, k = ∞, antennas 12.243 m over 10 km: clearance 12.243 m everywhere, r1 max 20.405 m mid-path → 60 %."""
    d, z = flat_profile()
    r1 = math.sqrt(LAMBDA_1800_M * 2500.0)
    los = radio.line_of_sight(d, z, 0.6 * r1, 0.6 * r1, 1800.0, k_factor=math.inf)
    assert los.visible
    assert los.min_clearance_ratio == pytest.approx(0.6, abs=1e-6) and los.clearance_pct == pytest.approx(60.0)
    assert los.at_distance_m == 5000.0 and los.min_clearance_m == pytest.approx(0.6 * r1)
    # Radio horizon of two 30 m masts with k = 4/3: 2·√(2·k·R·30) = 45.2 km.
    horizon_m = 2 * math.sqrt(2 * 4 / 3 * 6_371_000 * 30)
    assert radio.line_of_sight(*flat_profile(horizon_m - 1000), 30.0, 30.0, 1800.0).visible
    assert not radio.line_of_sight(*flat_profile(horizon_m + 1000), 30.0, 30.0, 1800.0).visible
    d, z = flat_profile()
    z[50] = 50.0
    blocked = radio.line_of_sight(d, z, 30.0, 30.0, 1800.0)
    assert not blocked.visible and blocked.min_clearance_m < 0 and blocked.at_distance_m == 5000.0


def test_profile_validation():
    with pytest.raises(ValueError, match="increase"):
        radio.deygout_loss_db([0, 10, 5], [0, 0, 0], 30, 1.5, 1800)
    with pytest.raises(ValueError, match="same length"):
        radio.line_of_sight([0, 10], [0], 30, 1.5, 1800)
    with pytest.raises(ValueError, match="NaN"):
        radio.single_knife_edge_loss_db([0, 10, 20], [0, np.nan, 0], 30, 1.5, 1800)
    assert radio.deygout_loss_db([0, 10], [0, 0], 30, 1.5, 1800) == 0.0


# ----------------------------------------------------------------------------------------------- link budgets


def test_tech_defaults_and_overrides():
    """4G: 46 dBm + 17 dBi − 2 dB = 61 dBm EIRP; 100 RB → −10·log10(1200) = −30.792 dB per resource element."""
    p = radio.link_parameters("4g")
    assert p.frequency_mhz == 1800.0 and p.eirp_dbm == 61.0
    assert p.reference_share_db == pytest.approx(-30.792, abs=1e-3)
    assert radio.TECH_DEFAULTS["5G"].reference_share_db == pytest.approx(-10 * math.log10(12 * 273))  # −35.15
    assert radio.TECH_DEFAULTS["2G"].frequency_mhz == 900.0 and radio.TECH_DEFAULTS["3G"].frequency_mhz == 2100.0
    q = radio.link_parameters("4G", band_mhz=700, tx_power_dbm=43.0)
    assert (q.frequency_mhz, q.tx_power_dbm) == (700.0, 43.0)
    assert radio.TECH_DEFAULTS["4G"].tx_power_dbm == 46.0
    with pytest.raises(ValueError, match="technology"):
        radio.link_parameters("6G")
    with pytest.raises(ValueError, match="tx_power_w"):
        radio.link_parameters("4G", tx_power_w=20)


def test_rsrp():
    """RSRP = 61 − 30.792 − 130 = −99.792 dBm; a 3 dB body loss and a 2 dBi phone antenna move it by −1 dB."""
    p = radio.link_parameters("4G")
    assert radio.rsrp_dbm(130.0, p) == pytest.approx(-99.792, abs=1e-3)
    q = radio.link_parameters("4G", body_loss_db=3.0, rx_gain_dbi=2.0)
    assert radio.rsrp_dbm(np.array([130.0, 140.0]), q) == pytest.approx([-100.792, -110.792], abs=1e-3)


def test_max_range_4g_rural_and_700_mhz_ratio():
    p1800 = radio.link_parameters("4G")
    r1800 = radio.max_range_km(p1800, -110.0, 30.0, "rural")
    assert 8.0 <= r1800 <= 15.0
    # Closed form: d = 10 ** ((L_max − A) / B)
    a, b = radio.hata_coefficients(1800.0, 30.0, environment="rural")
    assert r1800 == pytest.approx(10 ** ((radio.rsrp_dbm(0.0, p1800) + 110.0 - a) / b), rel=1e-9)
    r700 = radio.max_range_km(radio.link_parameters("4G", band_mhz=700), -110.0, 30.0, "rural")
    assert r700 / r1800 == pytest.approx(1.8, rel=0.25)  # docs/sources.md §3.4: band 28 reaches ≈ 1.8× band 3
    urban = radio.max_range_km(p1800, -110.0, 30.0, "urban")
    assert urban < r1800 / 3
    many = radio.max_range_km(p1800, np.array([-110.0, -100.0, -90.0]), np.array([30.0, 30.0, 30.0]))
    assert many[0] == pytest.approx(r1800) and np.all(np.diff(many) < 0)
    assert radio.max_range_km(p1800, -110.0, 30.0, calibration_db=10.0) == pytest.approx(
        r1800 / 10 ** (10 / b), rel=1e-6)
    assert radio.max_range_km(p1800, 0.0, 30.0) == 0.0
    assert radio.max_range_km(p1800, -200.0, 30.0, max_distance_km=50.0) == 50.0


def test_site_parameters_from_bts_layer():
    bts = tiny_layers()["bts_sites"]
    bts["tx_dbm"] = [43.0, None, 40.0, None]
    before = bts.copy()
    lte = radio.site_parameters(bts, "4G")
    assert lte.frequency_mhz.tolist() == [1800.0, 2100.0, 1800.0, 900.0]
    assert lte.height_m.tolist() == [30.0, 35.0, 40.0, 20.0]
    assert lte.tx_power_dbm.tolist() == [43.0, 46.0, 40.0, 46.0]
    assert lte.antenna_gain_dbi.tolist() == [17.0] * 4
    assert lte.serves.tolist() == [True, False, True, False]
    assert lte.reference_eirp_dbm[1] == pytest.approx(radio.TECH_DEFAULTS["4G"].reference_eirp_dbm)
    nr = radio.site_parameters(bts, "5G")
    assert nr.frequency_mhz.tolist() == [3700.0] * 4  # 1800/2100/900 are not 5G bands here
    assert nr.serves.tolist() == [False, False, True, False]
    assert before.equals(bts)
    level = radio.rsrp_dbm(np.full((3, 4), 120.0), lte)  # (cells, sites): the per-site EIRP broadcasts
    assert level.shape == (3, 4)
    assert level[0, 0] == pytest.approx(43 + 17 - 2 - 30.792 - 120, abs=1e-3)
    assert level[0, 1] == pytest.approx(61 - 30.792 - 120, abs=1e-3)


def test_site_parameters_defaults_and_errors():
    bts = tiny_layers()["bts_sites"].drop(columns=["band_mhz", "height_m", "tech"])
    p = radio.site_parameters(bts, "3G", default_height_m=25.0)
    assert p.frequency_mhz.tolist() == [2100.0] * 4 and p.height_m.tolist() == [25.0] * 4 and p.serves.all()
    bad = tiny_layers()["bts_sites"]
    bad["height_m"] = bad["height_m"].astype(object)
    bad.loc[0, "height_m"] = "cao"
    bad.loc[2, "height_m"] = -5
    with pytest.raises(LayerError) as info:
        radio.site_parameters(bad, "4G")
    message = str(info.value)
    assert "bts_sites row 1 (id S1), column height_m: height_m is 'cao'" in message
    assert "row 3 (id S3)" in message

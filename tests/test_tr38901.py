"""3GPP TR 38.901 RMa/UMa path loss against the TR's formulas written out by hand (Table 7.4.1-1)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ictgis import radio, tr38901

FC = 3.5  # GHz
HBS, HUT, H, W = 35.0, 1.5, 5.0, 20.0


def rma_pl1(d3):
    return (20 * math.log10(40 * math.pi * d3 * FC / 3) + min(0.03 * H ** 1.72, 10) * math.log10(d3)
            - min(0.044 * H ** 1.72, 14.77) + 0.002 * math.log10(H) * d3)


def test_rma_breakpoint_distance():
    # dBP = 2π hBS hUT fc / c = 2π · 35 · 1.5 · 3.5e9 / 3e8 = 3848.45 m
    assert tr38901.breakpoint_distance_m("RMa", 3500.0, HBS, HUT) == pytest.approx(3848.45, abs=0.01)
    # UMa d'BP = 4 (25 − 1)(1.5 − 1) · 3.5e9 / 3e8 = 560 m
    assert tr38901.breakpoint_distance_m("UMa", 3500.0, 25.0, 1.5) == pytest.approx(560.0)


def test_rma_los_at_1_km():
    d3 = math.hypot(1000.0, HBS - HUT)  # 1000.561 m
    # 20 log10(40π·1000.561·3.5/3) = 103.328; + 0.478·3.0002 − 0.701 + 0.002·0.699·1000.56 = 105.46 dB
    expected = rma_pl1(d3)
    assert expected == pytest.approx(105.46, abs=0.01)
    assert tr38901.los_loss_db("RMa", 1000.0, 3500.0, HBS, HUT) == pytest.approx(expected, abs=1e-9)


def test_rma_los_beyond_the_breakpoint():
    dbp = 2 * math.pi * HBS * HUT * FC * 1e9 / 3e8
    d3 = math.hypot(6000.0, HBS - HUT)
    expected = rma_pl1(dbp) + 40 * math.log10(d3 / dbp)
    assert tr38901.los_loss_db("RMa", 6000.0, 3500.0, HBS, HUT) == pytest.approx(expected, abs=1e-9)
    # continuous at the breakpoint (within the d3D/d2D difference)
    below, above = tr38901.los_loss_db("RMa", np.array([dbp - 0.01, dbp + 0.01]), 3500.0, HBS, HUT)
    assert abs(above - below) < 0.01


def test_rma_nlos_at_3_km():
    d3 = math.hypot(3000.0, HBS - HUT)
    nlos = (161.04 - 7.1 * math.log10(W) + 7.5 * math.log10(H) - (24.37 - 3.7 * (H / HBS) ** 2) * math.log10(HBS)
            + (43.42 - 3.1 * math.log10(HBS)) * (math.log10(d3) - 3) + 20 * math.log10(FC)
            - (3.2 * math.log10(11.75 * HUT) ** 2 - 4.97))
    assert nlos == pytest.approx(148.85, abs=0.01)  # by hand: 151.80 + 5.24 − 37.51 + 18.43 + 10.88 + 0.00
    assert rma_pl1(d3) == pytest.approx(118.0, abs=0.1)  # LOS: the NLOS excess is ≈ 31 dB at 3 km
    got = tr38901.nlos_loss_db("RMa", 3000.0, 3500.0, HBS, HUT)
    assert got == pytest.approx(max(nlos, rma_pl1(d3)), abs=1e-9)
    assert got > tr38901.los_loss_db("RMa", 3000.0, 3500.0, HBS, HUT) + 10


def test_uma_los_and_nlos():
    hbs, d = 25.0, 300.0
    d3 = math.hypot(d, hbs - HUT)
    los = 28.0 + 22 * math.log10(d3) + 20 * math.log10(FC)  # below d'BP = 560 m
    assert tr38901.los_loss_db("UMa", d, 3500.0, hbs, HUT) == pytest.approx(los, abs=1e-9)
    d3b = math.hypot(2000.0, hbs - HUT)
    los2 = 28.0 + 40 * math.log10(d3b) + 20 * math.log10(FC) - 9 * math.log10(560.0 ** 2 + (hbs - HUT) ** 2)
    assert tr38901.los_loss_db("UMa", 2000.0, 3500.0, hbs, HUT) == pytest.approx(los2, abs=1e-9)
    nlos = 13.54 + 39.08 * math.log10(d3) + 20 * math.log10(FC) - 0.6 * (HUT - 1.5)
    assert tr38901.nlos_loss_db("UMa", d, 3500.0, hbs, HUT) == pytest.approx(max(los, nlos), abs=1e-9)
    assert nlos > los


def test_combined_rule_does_not_count_the_obstruction_twice():
    args = ("RMa", 3000.0, 3500.0, HBS)
    los = tr38901.los_loss_db("RMa", 3000.0, 3500.0, HBS)
    nlos = tr38901.nlos_loss_db("RMa", 3000.0, 3500.0, HBS)
    assert tr38901.combined_loss_db(*args, -5.0) == pytest.approx(los)  # clear: LOS, no diffraction
    assert tr38901.combined_loss_db(*args, -0.3) == pytest.approx(los + radio.knife_edge_loss_db(-0.3))
    assert tr38901.combined_loss_db(*args, 0.5) == pytest.approx(nlos)  # slight obstruction: the NLOS formula
    deep = tr38901.combined_loss_db(*args, 20.0)  # a mountain: J(20) ≈ 39 dB beats the NLOS excess
    assert deep == pytest.approx(los + radio.knife_edge_loss_db(20.0))
    assert deep < nlos + radio.knife_edge_loss_db(20.0)


def test_scenario_and_frequency_rules():
    assert tr38901.scenario_of("urban") == "UMa" and tr38901.scenario_of("rural") == "RMa"
    assert tr38901.scenario_of("suburban") == "RMa"
    assert list(tr38901.uses_tr38901([1800.0, 2600.0, 3500.0, 3700.0])) == [False, False, True, True]
    with pytest.raises(ValueError, match="scenario"):
        tr38901.los_loss_db("UMi", 100.0, 3500.0, 25.0)

"""Sector antenna patterns: the 3GPP parametric pattern and MSI/Planet files, by known answers."""

from __future__ import annotations

import numpy as np
import pytest

from ictgis import antenna
from ictgis._errors import LayerError


def test_sector_pattern_front_back_and_half_power_points():
    assert antenna.sector_gain_db(0.0) == 0.0
    assert antenna.sector_gain_db(32.5) == pytest.approx(-3.0)
    assert antenna.sector_gain_db(-32.5) == pytest.approx(-3.0)
    assert antenna.sector_gain_db(180.0) == pytest.approx(-25.0)  # front-to-back, TR 36.814 A_m
    assert antenna.sector_gain_db(-150.0) == pytest.approx(-25.0)
    assert antenna.sector_gain_db(30.0, beamwidth_deg=60.0) == pytest.approx(-3.0)
    # vertical: at the tilt no loss, half the vertical beamwidth off it −3 dB, capped by A_m overall
    assert antenna.sector_gain_db(0.0, 6.0, tilt_deg=6.0) == 0.0
    assert antenna.sector_gain_db(0.0, 11.0, tilt_deg=6.0) == pytest.approx(-3.0)
    assert antenna.sector_gain_db(180.0, 60.0, tilt_deg=6.0) == pytest.approx(-25.0)


def test_pattern_tables_turn_with_the_azimuth_and_the_tilt():
    h, v, cap = antenna.pattern_tables(350.0, 4.0, beamwidth_deg=60.0)
    assert h.shape == (360,) and v.shape == (181,) and cap == 25.0
    assert h[350] == 0.0
    assert h[20] == pytest.approx(3.0) and h[320] == pytest.approx(3.0)  # 350 ± 30 wraps through north
    assert h[170] == pytest.approx(25.0)
    assert v[90 + 4] == 0.0 and v[90 + 9] == pytest.approx(3.0)


def write_msi(path, *, horizontal=True, bad_line=False):
    lines = ["NAME Test panel 65-17", "MAKE Nobody", "FREQUENCY 1800", "H_WIDTH 65", "GAIN 15 dBd",
             "ELECTRICAL_TILT 2", "COMMENT written by the test"]
    if horizontal:
        lines.append("HORIZONTAL 360")
        for k in range(360):
            phi = k if k <= 180 else k - 360
            lines.append(f"{k} {min(12 * (phi / 65) ** 2, 30):.2f}")
    lines.append("VERTICAL 360")
    for k in range(360):
        theta = k if k <= 180 else k - 360
        lines.append(f"{k}\t{min(12 * ((theta - 2) / 10) ** 2, 20):.2f}" if not (bad_line and k == 5) else "5 x")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_msi_parser_reads_gain_tilt_and_both_patterns(tmp_path):
    p = antenna.read_msi(write_msi(tmp_path / "panel.msi"))
    assert p.name == "Test panel 65-17"
    assert p.gain_dbi == pytest.approx(17.15)  # 15 dBd
    assert p.electrical_tilt_deg == 2.0
    assert p.horizontal[0] == 0.0 and p.horizontal[180] == 30.0 and p.horizontal[33] == pytest.approx(3.09, abs=0.01)
    assert p.vertical[2] == 0.0 and p.vertical[12] == 12.0
    # the cell's tilt 6° is 2° electrical (in the file) + 4° mechanical: the main beam points 6° down
    h, v, cap = antenna.pattern_tables(90.0, 6.0, pattern=p)
    assert h[90] == 0.0 and h[270] == 30.0 and cap == 30.0
    assert v[90 + 6] == 0.0 and np.argmin(v) == 96


def test_msi_parser_names_the_file_and_line_of_problems(tmp_path):
    with pytest.raises(LayerError) as err:
        antenna.read_msi(write_msi(tmp_path / "no_h.msi", horizontal=False))
    assert "no_h.msi" in str(err.value) and "HORIZONTAL" in str(err.value)
    with pytest.raises(LayerError) as err:
        antenna.read_msi(write_msi(tmp_path / "bad.msi", bad_line=True))
    problem = err.value.problems[0]
    assert problem.file == "antennas/bad.msi" and problem.column == "VERTICAL" and problem.row is not None

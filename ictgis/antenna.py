"""Sector antennas: the 3GPP parametric pattern, MSI/Planet pattern files, and the lookup tables of the kernels.

A cell (sector) of a site radiates with a gain that depends on the direction: its horizontal pattern around its
azimuth and its vertical pattern around its tilt. Two patterns are known:

- **Parametric** (no pattern file): 3GPP TR 36.814 Table A.2.1.1-2 / TR 38.901 §7.3,
  ``A_H(φ) = min(12 (φ / φ3dB)², A_m)``, ``A_V(θ) = min(12 ((θ − θ_tilt) / θ3dB)², SLA_V)`` and the combined
  attenuation ``min(A_H + A_V, A_m)``, with φ the horizontal angle off the azimuth and θ the angle below the horizon.
  Defaults (``ictgis.settings``): φ3dB 65° (`sector_beamwidth_deg`), A_m 25 dB (`sector_front_to_back_db`),
  θ3dB 10° (`sector_vertical_beamwidth_deg`), SLA_V 20 dB (`sector_vertical_sidelobe_db`); sources in
  ``docs/sources.md`` §3.3.
- **MSI/Planet files** (``antennas/<name>.msi`` in the data folder, as vendors publish them): header lines
  (``NAME``, ``GAIN 17.1 dBi`` — dBd when no unit is given —, ``TILT`` / ``ELECTRICAL_TILT`` …), then
  ``HORIZONTAL 360`` and ``VERTICAL 360`` blocks of ``angle attenuation`` lines (dB below the maximum, positive).
  Horizontal angles are read clockwise from the boresight (as azimuths); vertical angles are degrees below the
  horizon (90 straight down, 270 straight up). The file's electrical tilt is in its vertical pattern already, so
  a cell's `tilt` (mechanical + electrical) turns the pattern by ``tilt − electrical tilt``. The combined
  attenuation is ``min(A_H + A_V, largest horizontal attenuation of the file)``.

The kernels (:mod:`ictgis.coverage.kernels`) read per cell a 360-entry table of horizontal attenuation by
absolute azimuth (whole degrees from north, interpolated linearly) and a 181-entry table of vertical attenuation by
whole degrees below the horizon (−90 … 90), built by :func:`pattern_tables`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import settings
from ._errors import LayerError, Problem

__all__ = [
    "DBD_TO_DBI", "Pattern", "horizontal_attenuation_db", "pattern_tables", "read_msi", "sector_gain_db",
    "vertical_attenuation_db",
]

logger = logging.getLogger(__name__)

#: Gain of a half-wave dipole over an isotropic antenna (dBd → dBi).
DBD_TO_DBI = 2.15


def _wrap(angle_deg):
    """Angle folded into [−180, 180)."""
    return (np.asarray(angle_deg, dtype=float) + 180.0) % 360.0 - 180.0


def horizontal_attenuation_db(phi_deg, *, beamwidth_deg: float | None = None,
                              front_to_back_db: float | None = None):
    """3GPP horizontal attenuation ``min(12 (φ / φ3dB)², A_m)`` (dB, ≥ 0) at φ degrees off the azimuth.

    Examples
    --------
    >>> float(horizontal_attenuation_db(32.5, beamwidth_deg=65.0))
    3.0
    >>> float(horizontal_attenuation_db(180.0, beamwidth_deg=65.0, front_to_back_db=25.0))
    25.0
    """
    bw = settings.sector_beamwidth_deg if beamwidth_deg is None else float(beamwidth_deg)
    am = settings.sector_front_to_back_db if front_to_back_db is None else float(front_to_back_db)
    phi = _wrap(phi_deg)
    return np.minimum(12.0 * (phi / bw) ** 2, am)


def vertical_attenuation_db(theta_deg, *, tilt_deg: float = 0.0, beamwidth_deg: float | None = None,
                            sidelobe_db: float | None = None):
    """3GPP vertical attenuation ``min(12 ((θ − tilt) / θ3dB)², SLA_V)`` (dB) at θ degrees below the horizon."""
    bw = settings.sector_vertical_beamwidth_deg if beamwidth_deg is None else float(beamwidth_deg)
    sla = settings.sector_vertical_sidelobe_db if sidelobe_db is None else float(sidelobe_db)
    theta = np.asarray(theta_deg, dtype=float)
    return np.minimum(12.0 * ((theta - tilt_deg) / bw) ** 2, sla)


def sector_gain_db(phi_deg, theta_deg=0.0, *, tilt_deg: float = 0.0, beamwidth_deg: float | None = None,
                   front_to_back_db: float | None = None, vertical_beamwidth_deg: float | None = None,
                   sidelobe_db: float | None = None):
    """Relative gain (dB, ≤ 0) of the 3GPP sector pattern: ``−min(A_H(φ) + A_V(θ), A_m)``.

    Parameters
    ----------
    phi_deg
        Horizontal angle off the azimuth (degrees).
    theta_deg
        Angle below the horizon (degrees).
    tilt_deg
        Downtilt (degrees, down positive).
    beamwidth_deg, front_to_back_db, vertical_beamwidth_deg, sidelobe_db
        φ3dB, A_m, θ3dB and SLA_V (defaults in ``ictgis.settings``).

    Examples
    --------
    >>> float(sector_gain_db(0.0)), float(sector_gain_db(-32.5)), float(sector_gain_db(180.0))
    (-0.0, -3.0, -25.0)
    """
    am = settings.sector_front_to_back_db if front_to_back_db is None else float(front_to_back_db)
    ah = horizontal_attenuation_db(phi_deg, beamwidth_deg=beamwidth_deg, front_to_back_db=am)
    av = vertical_attenuation_db(theta_deg, tilt_deg=tilt_deg, beamwidth_deg=vertical_beamwidth_deg,
                                 sidelobe_db=sidelobe_db)
    return -np.minimum(ah + av, am)


@dataclass(frozen=True)
class Pattern:
    """An antenna pattern read from an MSI/Planet file.

    Attributes
    ----------
    name
        The file's ``NAME`` (or the file name).
    gain_dbi
        Maximum gain (dBi; converted from dBd when the file gives no unit or dBd), None when the file has none.
    horizontal, vertical
        360 attenuations (dB ≥ 0 below the maximum) at whole degrees: clockwise from the boresight, and below the
        horizon.
    electrical_tilt_deg
        The electrical tilt built into the vertical pattern (``ELECTRICAL_TILT`` or ``TILT ELECTRICAL n``; 0).
    """

    name: str
    gain_dbi: float | None
    horizontal: np.ndarray
    vertical: np.ndarray
    electrical_tilt_deg: float = 0.0


def read_msi(path: str | Path) -> Pattern:
    """Read an antenna pattern file in the MSI/Planet format.

    Parameters
    ----------
    path
        The ``.msi`` / ``.pln`` / ``.txt`` file.

    Returns
    -------
    Pattern

    Raises
    ------
    LayerError
        Naming the file and line of what cannot be read (missing block, wrong count, non-numeric value).
    """
    path = Path(path)
    label = f"antennas/{path.name}"
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise LayerError(f"{label}: cannot be read", [Problem(label, f"cannot be read: {exc}")]) from None
    header: dict[str, str] = {}
    blocks: dict[str, np.ndarray] = {}
    problems: list[Problem] = []
    i = 0
    while i < len(lines):
        words = lines[i].split()
        i += 1
        if not words:
            continue
        key = words[0].upper()
        if key in ("HORIZONTAL", "VERTICAL"):
            try:
                count = int(float(words[1])) if len(words) > 1 else 360
            except ValueError:
                count = 360
            values = np.full(360, np.nan)
            start = i
            for k in range(count):
                if i >= len(lines):
                    problems.append(Problem(label, f"{key} block ends after {k} of {count} lines", row=start + k))
                    break
                parts = lines[i].replace(",", " ").split()
                i += 1
                try:
                    angle, att = float(parts[0]), float(parts[1])
                except (IndexError, ValueError):
                    problems.append(Problem(label, f"expected 'angle attenuation', got {lines[i - 1]!r}", row=i,
                                            column=key))
                    continue
                values[int(round(angle)) % 360] = abs(att)
            if count != 360 or np.isnan(values).any():
                if np.isnan(values).all():
                    problems.append(Problem(label, f"{key} block has no values", row=start, column=key))
                else:  # fill missing whole degrees by periodic interpolation
                    ok = ~np.isnan(values)
                    deg = np.arange(360)
                    values = np.interp(deg, deg[ok], values[ok], period=360)
            blocks[key] = values
        elif len(words) > 1:
            header[key] = " ".join(words[1:])
        elif not header and not blocks:
            header.setdefault("NAME", words[0])
    for key in ("HORIZONTAL", "VERTICAL"):
        if key not in blocks:
            problems.append(Problem(label, f"no '{key} 360' block (an MSI/Planet pattern has both)", column=key))
    gain = None
    if "GAIN" in header:
        parts = header["GAIN"].split()
        try:
            gain = float(parts[0])
            if len(parts) < 2 or parts[1].lower() != "dbi":
                gain += DBD_TO_DBI
        except ValueError:
            problems.append(Problem(label, f"GAIN is {header['GAIN']!r}, expected a number and dBi or dBd",
                                    column="GAIN"))
    tilt = 0.0
    raw_tilt = header.get("ELECTRICAL_TILT") or (header.get("TILT", "").upper().replace("ELECTRICAL", "").strip()
                                                 if "ELECTRICAL" in header.get("TILT", "").upper() else None)
    if raw_tilt:
        try:
            tilt = float(raw_tilt.split()[0])
        except ValueError:
            problems.append(Problem(label, f"electrical tilt {raw_tilt!r} is not a number", column="TILT"))
    if problems:
        raise LayerError(f"{label}: not a readable MSI/Planet antenna pattern", problems)
    return Pattern(header.get("NAME", path.stem), gain, blocks["HORIZONTAL"], blocks["VERTICAL"], tilt)


#: Degrees below the horizon of the vertical tables' entries (−90 … 90).
VERTICAL_ANGLES_DEG = np.arange(-90, 91, dtype=float)


def pattern_tables(azimuth_deg: float, tilt_deg: float, *, pattern: Pattern | None = None,
                   beamwidth_deg: float | None = None, front_to_back_db: float | None = None
                   ) -> tuple[np.ndarray, np.ndarray, float]:
    """Lookup tables of one cell for the coverage kernels.

    Parameters
    ----------
    azimuth_deg
        Boresight azimuth (degrees clockwise from north).
    tilt_deg
        Total downtilt (mechanical + electrical, down positive).
    pattern
        A pattern file; None for the 3GPP parametric pattern.
    beamwidth_deg, front_to_back_db
        φ3dB and A_m of the parametric pattern (defaults in ``ictgis.settings``).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, float)
        Horizontal attenuation (dB) at azimuths 0 … 359° from north (360 values), vertical attenuation (dB) at
        −90 … 90° below the horizon (181 values) and the cap of their sum (dB).
    """
    az = np.arange(360, dtype=float)
    off = _wrap(az - azimuth_deg)
    if pattern is None:
        am = settings.sector_front_to_back_db if front_to_back_db is None else float(front_to_back_db)
        h = horizontal_attenuation_db(off, beamwidth_deg=beamwidth_deg, front_to_back_db=am)
        v = vertical_attenuation_db(VERTICAL_ANGLES_DEG, tilt_deg=tilt_deg)
        return h.astype(np.float64), v.astype(np.float64), float(am)
    deg = np.arange(361, dtype=float)
    hfile = np.append(pattern.horizontal, pattern.horizontal[0])
    h = np.interp(off % 360.0, deg, hfile)
    vfile = np.append(pattern.vertical, pattern.vertical[0])
    mech = tilt_deg - pattern.electrical_tilt_deg
    v = np.interp((VERTICAL_ANGLES_DEG - mech) % 360.0, deg, vfile)
    return h, v, float(np.max(pattern.horizontal))

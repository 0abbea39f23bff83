"""Targets of the leader's indicator page: the target of each indicator, the gap to it and a status.

Defaults (`DEFAULT_TARGETS`, sources in docs/sources.md §3.8 and §1): the national targets the department reports
against — fixed broadband to every village (QĐ 1132/QĐ-TTg, 2024), the postal planning norms (QCVN 1:2008/BTTTT: a
service radius of at most 3 km, at most 8,000 people per point, a point in every xã) — and, as the baseline, the
plan's own mid-2021 figures. An instance changes them with ``INDICATOR_TARGETS`` in its ``config.py``: indicator key
→ a number (the new target) or None (no target shown), e.g. ``INDICATOR_TARGETS = {"mobile.populated_area_4g_pct":
98.0}``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ictgis import settings


@dataclass(frozen=True)
class Target:
    """The target of one indicator.

    Attributes
    ----------
    value
        The target.
    higher_is_better
        True when the indicator must reach at least `value` (coverage), False when at most (radius).
    baseline
        The plan's figure (mid-2021), shown beside the current value; None when the plan has none.
    source
        Where the target comes from (short, shown in the page's tooltip and in docs/sources.md).
    near_share
        A value that misses the target by at most this share of it is "near" (amber), beyond it "behind" (red).
    """

    value: float
    higher_is_better: bool
    baseline: float | None
    source: str
    near_share: float = 0.05


#: The default targets, by key of the indicator contract (docs/sources.md §3.8).
DEFAULT_TARGETS: dict[str, Target] = {
    "fiber.villages_fiber_pct": Target(100.0, True, 88.3, "QĐ 1132/QĐ-TTg (2024)"),
    "fiber.villages_without_fiber": Target(0.0, False, 169, "QĐ 1132/QĐ-TTg (2024)", near_share=0.0),
    "mobile.populated_area_4g_pct": Target(99.0, True, 94.4, "QĐ 1132/QĐ-TTg (2024): 99 %"),
    "postal.service_radius_km": Target(settings.postal_max_radius_km, False, 4.25, "QCVN 1:2008/BTTTT"),
    "postal.people_per_point": Target(settings.postal_max_people_per_point, False, 3670, "QCVN 1:2008/BTTTT"),
    "postal.xa_with_cultural_post_office_pct": Target(100.0, True, 93.0, "QCVN 1:2008/BTTTT"),
}

#: Status → (CSS class, Vietnamese, English): the colour always comes with its word.
STATUS_TEXT: dict[str, tuple[str, str]] = {
    "met": ("Đạt", "Met"), "near": ("Gần đạt", "Nearly met"), "behind": ("Chưa đạt", "Not met"),
    "unknown": ("Chưa có số liệu", "No data"),
}


def targets(overrides: dict | None = None) -> dict[str, Target]:
    """Return the targets: `DEFAULT_TARGETS` with an instance's ``INDICATOR_TARGETS`` applied.

    Parameters
    ----------
    overrides
        Key → number (a new target value) or None (drop the target).

    Raises
    ------
    ValueError
        For a key without a default target or a value that is not a number.
    """
    out = dict(DEFAULT_TARGETS)
    for key, value in (overrides or {}).items():
        if key not in DEFAULT_TARGETS:
            raise ValueError(f"INDICATOR_TARGETS: no target can be set for {key!r} (known: "
                             f"{', '.join(DEFAULT_TARGETS)})")
        if value is None:
            out.pop(key, None)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = replace(DEFAULT_TARGETS[key], value=float(value), source="config.py")
        else:
            raise ValueError(f"INDICATOR_TARGETS[{key!r}] must be a number or None, not {value!r}")
    return out


def status(value: float | None, target: Target) -> tuple[str, float | None]:
    """Return the status (``met``, ``near``, ``behind`` or ``unknown``) of a value and its gap to the target.

    The gap is what is still missing, in the indicator's unit: target − value for an indicator that must reach the
    target, value − target for one that must stay below it; 0 once met.

    Examples
    --------
    >>> status(94.4, DEFAULT_TARGETS["mobile.populated_area_4g_pct"])
    ('near', 4.6)
    >>> status(4.25, DEFAULT_TARGETS["postal.service_radius_km"])
    ('behind', 1.25)
    """
    if value is None:
        return "unknown", None
    missing = (target.value - value) if target.higher_is_better else (value - target.value)
    missing = round(float(missing), 2)
    if missing <= 0:
        return "met", 0.0
    if missing <= target.near_share * abs(target.value):
        return "near", missing
    return "behind", missing

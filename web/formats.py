"""Numbers as the page's language writes them: ``94,4 %``, ``3.670``, ``4,25 km`` in Vietnamese.

English pages get ``94.4 %``, ``3,670``, ``4.25 km``.

One helper (`number`) formats every number the pages show; `percent`, `km` and `billion_vnd` (costs in "tỷ đồng")
are shorthands for it. Templates use them as the filters ``num``, ``pct``, ``km`` and ``ty`` (`install`).
"""

from __future__ import annotations

import math

from flask import Flask, g

#: Thousands and decimal separators per language.
SEPARATORS: dict[str, tuple[str, str]] = {"vi": (".", ","), "en": (",", ".")}
#: One "tỷ đồng" (VND 1 billion).
BILLION = 1_000_000_000
#: Shown for a value that is not available.
MISSING = "—"


def _lang(lang: str | None) -> str:
    if lang is None:
        lang = g.get("lang", "vi") if g else "vi"
    return lang if lang in SEPARATORS else "vi"


def number(value: object, *, decimals: int | None = None, lang: str | None = None, sign: bool = False) -> str:
    """Format a number with the language's separators.

    Parameters
    ----------
    value
        An int or float (None, NaN, text that is not a number: `MISSING`; a bool is shown as it is).
    decimals
        Digits after the decimal separator; default: none for whole numbers, else as many as the value has
        (up to 2).
    lang
        ``"vi"`` or ``"en"``; default: the request's language (``vi`` outside a request).
    sign
        Write ``+`` before positive numbers (differences).

    Returns
    -------
    str

    Examples
    --------
    >>> number(3670, lang="vi"), number(94.4, lang="vi"), number(4.25, lang="en"), number(-1917.0, lang="vi")
    ('3.670', '94,4', '4.25', '-1.917')
    """
    if isinstance(value, bool) or value is None:
        return MISSING if value is None else str(value)
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return MISSING
    if not math.isfinite(x):
        return MISSING
    if decimals is None:
        decimals = 0 if x == round(x) else min(2, len(f"{abs(x):.2f}".rstrip("0").split(".")[1]))
    thousands, point = SEPARATORS[_lang(lang)]
    text = f"{abs(x):,.{decimals}f}"
    text = text.replace(",", "\0").replace(".", point).replace("\0", thousands)
    negative = x < 0 and float(f"{abs(x):.{decimals}f}") != 0
    return ("-" if negative else ("+" if sign and x > 0 else "")) + text


def percent(value: object, *, decimals: int = 1, lang: str | None = None, sign: bool = False) -> str:
    """Format a percentage: ``94,4 %`` (one decimal, a space before the sign, as both languages write it here)."""
    text = number(value, decimals=decimals, lang=lang, sign=sign)
    return text if text == MISSING else f"{text} %"


def km(value: object, *, decimals: int = 2, lang: str | None = None) -> str:
    """Format a distance in kilometres: ``4,25 km``."""
    text = number(value, decimals=decimals, lang=lang)
    return text if text == MISSING else f"{text} km"


def billion_vnd(value: object, *, decimals: int = 2, lang: str | None = None, unit: bool = True) -> str:
    """Format an amount in VND as billions: ``315,00 tỷ đồng`` (``VND 315.00 billion`` in English).

    Parameters
    ----------
    value
        Amount in VND.
    unit
        Add the unit (tables that name it in the header leave it out).
    """
    lang = _lang(lang)
    try:
        amount = float(value) / BILLION  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return MISSING
    text = number(amount, decimals=decimals, lang=lang)
    if text == MISSING or not unit:
        return text
    return f"{text} tỷ đồng" if lang == "vi" else f"VND {text} billion"


def install(app: Flask) -> None:
    """Register the template filters ``num``, ``pct``, ``km`` and ``ty``."""
    app.jinja_env.filters["num"] = lambda v, decimals=None, sign=False: number(v, decimals=decimals, sign=sign)
    app.jinja_env.filters["pct"] = lambda v, decimals=1, sign=False: percent(v, decimals=decimals, sign=sign)
    app.jinja_env.filters["km"] = lambda v, decimals=2: km(v, decimals=decimals)
    app.jinja_env.filters["ty"] = lambda v, decimals=2, unit=True: billion_vnd(v, decimals=decimals, unit=unit)

"""Bar charts drawn on the server as inline SVG (no chart library, no CDN; they print as they are shown)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

#: Geometry of a chart, in SVG units (the chart scales to its box's width).
WIDTH = 640
LABEL_W = 170
VALUE_W = 80
BAR_H = 16
GAP = 6
TOP = 8


def bar_chart(items: Sequence[tuple[str, float | None]], *, title: str, fmt: Callable[[float | None], str],
              target: float | None = None, target_text: str = "", higher_is_better: bool = True,
              chart_id: str | None = None) -> str:
    """Return a horizontal bar chart as an SVG element, best first.

    Parameters
    ----------
    items
        ``(label, value)`` pairs; units without a value are drawn last, without a bar, with ``—``.
    title
        The chart's accessible name (``<title>``).
    fmt
        Formats a value for the text at the end of its bar (e.g. `web.formats.percent`).
    target
        Draws a dashed line at the target, with `target_text` above it; bars that miss it are drawn in the
        "behind" colour.
    higher_is_better
        Order and colour: the best unit first.

    Returns
    -------
    str
        ``<svg …>`` markup (escaped; safe to insert).
    """
    known = [(label, float(v)) for label, v in items if v is not None]
    known.sort(key=lambda lv: -lv[1] if higher_is_better else lv[1])
    rows = [*known, *[(label, None) for label, v in items if v is None]]
    top = max([v for _, v in known] + ([target] if target is not None else []) + [0.0]) or 1.0
    plot_w = WIDTH - LABEL_W - VALUE_W
    head = 18 if target is not None else 0
    height = TOP + head + len(rows) * (BAR_H + GAP)
    ident = f' id="{escape(chart_id)}"' if chart_id else ""
    parts = [f'<svg class="ictgis-chart"{ident} viewBox="0 0 {WIDTH} {height}" role="img" '
             f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">',
             f"<title>{escape(title)}</title>"]
    for i, (label, value) in enumerate(rows):
        y = TOP + head + i * (BAR_H + GAP)
        parts.append(f'<text class="chart-label" x="{LABEL_W - 6}" y="{y + BAR_H - 4}" text-anchor="end">'
                     f"{escape(_short(label))}</text>")
        if value is None:
            parts.append(f'<text class="chart-value" x="{LABEL_W + 4}" y="{y + BAR_H - 4}">—</text>')
            continue
        w = max(0.0, value) / top * plot_w
        missed = target is not None and (value < target if higher_is_better else value > target)
        css = "bar bar-behind" if missed else "bar"
        parts.append(f'<rect class="{css}" x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}">'
                     f"<title>{escape(label)}: {escape(fmt(value))}</title></rect>")
        parts.append(f'<text class="chart-value" x="{LABEL_W + w + 4:.1f}" y="{y + BAR_H - 4}">'
                     f"{escape(fmt(value))}</text>")
    if target is not None:
        x = LABEL_W + target / top * plot_w
        parts.append(f'<line class="chart-target" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP + head - 2}" y2="{height}"/>')
        anchor = "end" if x > WIDTH - VALUE_W else "middle"
        parts.append(f'<text class="chart-target-text" x="{x:.1f}" y="{TOP + 10}" text-anchor="{anchor}">'
                     f"{escape(target_text)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _short(label: str, limit: int = 26) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"

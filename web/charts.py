"""Charts drawn on the server as inline SVG (no chart library, no CDN; they print as they are shown).

`bar_chart`: one bar per unit (district, commune), best first. `time_chart`: one indicator over time (one point per
changeset of the shared database), a step line against a target.
"""

from __future__ import annotations

import datetime as dt
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


#: Geometry of a time chart, in SVG units.
TIME_HEIGHT = 200
TIME_LEFT = 64
TIME_RIGHT = 16
TIME_TOP = 22
TIME_BOTTOM = 28
TIME_LAST_W = 72


def time_chart(points: Sequence[tuple[dt.datetime, float | None]], *, title: str, fmt: Callable[[float | None], str],
               date_fmt: Callable[[dt.datetime], str], target: float | None = None, target_text: str = "",
               higher_is_better: bool = True, labels: Sequence[str] | None = None,
               chart_id: str | None = None) -> str:
    """Return an indicator over time as an SVG step chart: one point per state, a dashed line at the target.

    The value holds from one point until the next (a changeset changes the data at once), so the line is drawn in
    steps. Points are placed by time; when every point has the same time they are spread evenly.

    Parameters
    ----------
    points
        ``(time, value)`` pairs, oldest first; a point without a value is drawn as a hollow mark on the axis.
    title
        The chart's accessible name (``<title>``).
    fmt
        Formats a value (axis labels, the point's tooltip).
    date_fmt
        Formats a time (the axis's first and last labels, the point's tooltip).
    target
        Draws a dashed line at the target, with `target_text`; points that miss it are drawn in the "behind"
        colour.
    higher_is_better
        Whether a value must reach the target (True) or stay below it.
    labels
        One text per point added to its tooltip (e.g. the changeset's id and message).

    Returns
    -------
    str
        ``<svg …>`` markup (escaped; safe to insert), one ``circle.chart-point`` per point.

    Examples
    --------
    >>> t = dt.datetime(2024, 1, 1)
    >>> svg = time_chart([(t, 80.0), (t + dt.timedelta(days=90), 90.0)], title="Cáp quang", fmt=str,
    ...                  date_fmt=lambda d: d.date().isoformat(), target=100.0)
    >>> svg.count('class="chart-point')
    2
    """
    if labels is not None and len(labels) != len(points):
        raise ValueError("time_chart: one label per point")
    known = [float(v) for _, v in points if v is not None]
    scale = known + ([float(target)] if target is not None else [])
    low, high = (min(scale), max(scale)) if scale else (0.0, 1.0)
    low = min(low, 0.0) if low >= 0 and high - low > 0.5 * high else low  # counts and shares start from 0
    if high == low:
        low, high = low - 1.0, high + 1.0
    plot_w, plot_h = WIDTH - TIME_LEFT - TIME_RIGHT, TIME_HEIGHT - TIME_TOP - TIME_BOTTOM
    room = TIME_LAST_W  # after the last point: its value, and the line holding until today
    times = [t.timestamp() for t, _ in points]
    span = (max(times) - min(times)) if times else 0.0

    def x_of(i: int) -> float:
        if len(points) == 1:
            return TIME_LEFT + (plot_w - room) / 2
        if span <= 0:
            return TIME_LEFT + (plot_w - room) * i / (len(points) - 1)
        return TIME_LEFT + (plot_w - room) * (times[i] - times[0]) / span

    def y_of(v: float) -> float:
        return TIME_TOP + plot_h * (high - v) / (high - low)

    ident = f' id="{escape(chart_id)}"' if chart_id else ""
    parts = [f'<svg class="ictgis-chart ictgis-time-chart"{ident} viewBox="0 0 {WIDTH} {TIME_HEIGHT}" role="img" '
             f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">',
             f"<title>{escape(title)}</title>",
             f'<line class="chart-axis" x1="{TIME_LEFT}" x2="{WIDTH - TIME_RIGHT}" y1="{TIME_TOP + plot_h}" '
             f'y2="{TIME_TOP + plot_h}"/>']
    for v in (low, high):
        parts.append(f'<text class="chart-label" x="{TIME_LEFT - 6}" y="{y_of(v) + 4:.1f}" text-anchor="end">'
                     f"{escape(fmt(v))}</text>")
    if points:
        first, last = date_fmt(points[0][0]), date_fmt(points[-1][0])
        base = TIME_HEIGHT - 8
        parts.append(f'<text class="chart-label" x="{TIME_LEFT}" y="{base}">{escape(first)}</text>')
        if len(points) > 1 and last != first:
            parts.append(f'<text class="chart-label" x="{x_of(len(points) - 1):.1f}" y="{base}" '
                         f'text-anchor="middle">{escape(last)}</text>')
    if target is not None:
        y = y_of(float(target))
        parts.append(f'<line class="chart-target" x1="{TIME_LEFT}" x2="{WIDTH - TIME_RIGHT}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/>')
        parts.append(f'<text class="chart-target-text" x="{WIDTH - TIME_RIGHT}" y="{max(y - 4, 10):.1f}" '
                     f'text-anchor="end">{escape(target_text)}</text>')
    path: list[str] = []
    for i, (_, v) in enumerate(points):
        if v is None:
            continue
        x, y = x_of(i), y_of(float(v))
        path.append(f"M{x:.1f},{y:.1f}" if not path else f"H{x:.1f}V{y:.1f}")
    if path:
        path.append(f"H{WIDTH - TIME_RIGHT}")  # the last value holds until today
        parts.append(f'<path class="chart-line" d="{"".join(path)}"/>')
        i_last = max(i for i, (_, v) in enumerate(points) if v is not None)
        y_last = y_of(float(points[i_last][1]))  # type: ignore[arg-type]
        parts.append(f'<text class="chart-value chart-last" x="{WIDTH - TIME_RIGHT}" '
                     f'y="{y_last - 6 if y_last > TIME_TOP + 12 else y_last + 14:.1f}" text-anchor="end">'
                     f"{escape(fmt(points[i_last][1]))}</text>")
    for i, (t, v) in enumerate(points):
        tip = f"{date_fmt(t)}: {fmt(v)}" + (f" — {labels[i]}" if labels is not None else "")
        if v is None:
            parts.append(f'<circle class="chart-point chart-point-missing" cx="{x_of(i):.1f}" '
                         f'cy="{TIME_TOP + plot_h}" r="3"><title>{escape(tip)}</title></circle>')
            continue
        missed = target is not None and (v < target if higher_is_better else v > target)
        css = "chart-point chart-point-behind" if missed else "chart-point"
        parts.append(f'<circle class="{css}" cx="{x_of(i):.1f}" cy="{y_of(float(v)):.1f}" r="3.5">'
                     f"<title>{escape(tip)}</title></circle>")
    parts.append("</svg>")
    return "".join(parts)


def _short(label: str, limit: int = 26) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"

"""Inline SVG charts of the report pack (no script, print as drawn)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

import pandas as pd

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
_MAX_POINTS = 600


def _thin(series: pd.Series) -> pd.Series:
    """At most :data:`_MAX_POINTS` points, the first and the last kept."""
    if len(series) <= _MAX_POINTS:
        return series
    step = math.ceil(len(series) / _MAX_POINTS)
    return pd.concat([series.iloc[::step], series.iloc[-1:]]).loc[lambda s: ~s.index.duplicated()]


def growth_chart(
    curves: Sequence[tuple[str, pd.Series]], *, width: int = 720, color: int = 0
) -> str:
    """Growth of 1 of each equity curve on one time axis (each from its own start).

    ``curves``: (label, equity) pairs with a DatetimeIndex; empty or one-point curves
    are left out; ``color``: the palette index of the first curve. Returns ``""`` when
    nothing is left to draw.
    """
    height, left, right, top, bottom = 260, 56, 12, 12, 28
    lines = []
    for label, equity in curves:
        values = equity.astype("float64").dropna()
        values = values[values > 0]
        if len(values) >= 2:
            lines.append((label, _thin(values / values.iloc[0])))
    if not lines:
        return ""
    t0 = int(min(s.index[0] for _, s in lines).value)
    t1 = int(max(s.index[-1] for _, s in lines).value)
    y0 = min(float(s.min()) for _, s in lines)
    y1 = max(float(s.max()) for _, s in lines)
    span_t, span_y = max(t1 - t0, 1), max(y1 - y0, 1e-12)
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(ts: pd.Timestamp) -> float:
        return float(left + plot_w * (int(ts.value) - t0) / span_t)

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - y0) / span_y)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="Growth of 1">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#bbb"/>',
    ]
    digits = min(6, max(2, math.ceil(-math.log10(span_y)) + 1))  # ticks that differ
    for value in (y0, (y0 + y1) / 2, y1):
        parts.append(
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
            f'font-size="11">{value:.{digits}f}</text>'
        )
    for ts, anchor in ((pd.Timestamp(t0), "start"), (pd.Timestamp(t1), "end")):
        parts.append(
            f'<text x="{x(ts):.1f}" y="{height - 8}" text-anchor="{anchor}" '
            f'font-size="11">{ts:%Y-%m-%d}</text>'
        )
    for k, (label, series) in enumerate(lines):
        stroke = COLORS[(color + k) % len(COLORS)]
        points = " ".join(
            f"{x(ts):.1f},{y(float(v)):.1f}" for ts, v in zip(series.index, series, strict=True)
        )
        parts.append(
            f'<polyline fill="none" stroke="{stroke}" stroke-width="1.5" points="{points}">'
            f"<title>{escape(label)}</title></polyline>"
        )
        parts.append(
            f'<text x="{left + 8}" y="{top + 16 + 14 * k}" font-size="12" fill="{stroke}">'
            f"{escape(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def utilization_bars(used: Sequence[tuple[str, float]], *, width: int = 720) -> str:
    """Horizontal bars of each limit's share in use (1.0 = at the limit; red from 1).

    Non-finite shares are drawn as "n/a". Returns ``""`` for no rows.
    """
    if not used:
        return ""
    row, left, right = 22, 210, 70
    height = row * len(used) + 8
    plot_w = width - left - right
    top = max((v for _, v in used if math.isfinite(v)), default=1.0)
    scale = max(1.0, top)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="Limit utilization">',
        f'<line x1="{left + plot_w / scale:.1f}" y1="0" x2="{left + plot_w / scale:.1f}" '
        f'y2="{height}" stroke="#888" stroke-dasharray="4 3"/>',
    ]
    for k, (label, value) in enumerate(used):
        y = 4 + row * k
        parts.append(
            f'<text x="{left - 8}" y="{y + 14}" text-anchor="end" font-size="12">'
            f"{escape(label)}</text>"
        )
        if math.isfinite(value):
            bar = plot_w * max(value, 0.0) / scale
            color = "#d62728" if value >= 1.0 else "#1f77b4"
            parts.append(
                f'<rect x="{left}" y="{y + 3}" width="{bar:.1f}" height="{row - 8}" '
                f'fill="{color}"/>'
            )
            text = f"{value * 100:.1f}%"
        else:
            text = "n/a"
        parts.append(
            f'<text x="{width - 4}" y="{y + 14}" text-anchor="end" font-size="12">{text}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["growth_chart", "utilization_bars"]

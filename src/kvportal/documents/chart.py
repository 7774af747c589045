# CSP: the chart is server-rendered SVG without script or style attributes (no external service).
"""Bar chart of Honorar amounts per quarter as inline SVG markup (pure, no Django)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from html import escape

WIDTH = 480
HEIGHT = 274
MARGIN_LEFT = 104
MARGIN_RIGHT = 12
MARGIN_TOP = 34
MARGIN_BOTTOM = 52
# The panel shows the chart 275–320 px wide (scale 0.57–0.67): 19 units give about 11 px text.
FONT_SIZE = 19
_QUARTER_LABEL = re.compile(r"^([1-4])/(\d{4})$")


@dataclass(frozen=True)
class Bar:
    label: str
    amount: Decimal | None


def format_euro(amount: Decimal) -> str:
    """German notation: 12.345,67 €."""
    sign = "-" if amount < 0 else ""
    whole, _, cents = f"{abs(amount):.2f}".partition(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}{'.'.join(groups)},{cents} €"


def _nice_max(value: Decimal) -> Decimal:
    """Round the axis maximum up to 1, 2 or 5 × a power of ten."""
    if value <= 0:
        return Decimal(1)
    exponent = len(str(int(value))) - 1
    base = Decimal(10) ** exponent
    for step in (1, 2, 5, 10):
        if value <= step * base:
            return step * base
    return 10 * base  # pragma: no cover


def format_axis(value: Decimal) -> str:
    """Axis tick in German notation without the unit and without zero cents: 12.500 / 0,25."""
    text = format_euro(value).removesuffix(" €")
    return text.removesuffix(",00")


def _quarter_groups(bars: list[Bar]) -> list[tuple[str, list[int]]] | None:
    """Consecutive bars of the same year, if every label is a quarter like "1/2026"."""
    groups: list[tuple[str, list[int]]] = []
    for index, bar in enumerate(bars):
        match = _QUARTER_LABEL.match(bar.label)
        if match is None:
            return None
        year = match.group(2)
        if groups and groups[-1][0] == year:
            groups[-1][1].append(index)
        else:
            groups.append((year, [index]))
    return groups


def _text(
    css: str, x: float, y: float, content: str, *, anchor: str = "middle", extra: str = ""
) -> str:
    return (
        f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" '
        f'font-size="{FONT_SIZE}"{extra}>{escape(content)}</text>'
    )


def render_bar_chart(bars: list[Bar], *, title: str) -> str:
    """SVG of one bar per entry; missing amounts draw no bar and say so in the tooltip.

    Quarter labels ("1/2026") are drawn as "Q1" under the bar with the year once below its
    quarters, so that the labels stay large enough to read when the chart is shown small.
    """
    amounts = [b.amount for b in bars if b.amount is not None]
    top = _nice_max(max((a for a in amounts if a > 0), default=Decimal(0)))
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_w / max(len(bars), 1)
    bar_w = slot * 0.6
    base_y = MARGIN_TOP + plot_h
    # one id per chart: the start page shows one chart per BSNR
    title_id = "kv-chart-title-" + hashlib.sha256(title.encode()).hexdigest()[:10]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="kv-chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" aria-labelledby="{title_id}">',
        f'<title id="{title_id}">{escape(title)}</title>',
        _text("kv-chart-unit", MARGIN_LEFT - 6, MARGIN_TOP - 14, "in €", anchor="end"),
    ]
    for i in range(5):
        value = top * i / 4
        y = base_y - plot_h * i / 4
        parts.append(
            f'<line class="kv-chart-grid" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de" stroke-width="1"/>'
        )
        parts.append(
            _text("kv-chart-axis", MARGIN_LEFT - 6, y + 6, format_axis(value), anchor="end")
        )
    groups = _quarter_groups(bars)
    for index, bar in enumerate(bars):
        x = MARGIN_LEFT + slot * index + (slot - bar_w) / 2
        center = x + bar_w / 2
        match = _QUARTER_LABEL.match(bar.label) if groups else None
        short = f"Q{match.group(1)}" if match else bar.label
        parts.append(_text("kv-chart-label", center, base_y + 22, short))
        if bar.amount is None:
            parts.append(_text("kv-chart-empty", center, base_y - 6, "–", extra=' fill="#4a4a4a"'))
            continue
        height = float(max(bar.amount, Decimal(0)) / top) * plot_h
        parts.append(
            f'<rect class="kv-chart-bar" x="{x:.1f}" y="{base_y - height:.1f}" '
            f'width="{bar_w:.1f}" height="{height:.1f}" fill="#1f6feb">'
            f"<title>{escape(bar.label)}: {escape(format_euro(bar.amount))}</title></rect>"
        )
    for number, (year, indexes) in enumerate(groups or []):
        first = MARGIN_LEFT + slot * indexes[0]
        last = MARGIN_LEFT + slot * (indexes[-1] + 1)
        parts.append(_text("kv-chart-year", (first + last) / 2, base_y + 46, year))
        if number:
            parts.append(
                f'<line class="kv-chart-sep" x1="{first:.1f}" x2="{first:.1f}" y1="{base_y:.1f}" '
                f'y2="{HEIGHT - 2}" stroke="#6f7c89" stroke-width="1"/>'
            )
    parts.append("</svg>")
    return "".join(parts)

# CSP: the chart is server-rendered SVG without script or style attributes (no external service).
"""Bar chart of Honorar amounts per quarter as inline SVG markup (pure, no Django)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from html import escape

WIDTH = 480
HEIGHT = 240
MARGIN_LEFT = 100
MARGIN_RIGHT = 12
MARGIN_TOP = 16
MARGIN_BOTTOM = 36


@dataclass(frozen=True)
class Bar:
    label: str
    amount: Decimal | None


def format_euro(amount: Decimal) -> str:
    """German notation: 12.345,67 €."""
    sign = "-" if amount < 0 else ""
    whole, _, cents = f"{abs(amount):.2f}".partition(".")
    groups = []
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


def render_bar_chart(bars: list[Bar], *, title: str) -> str:
    """SVG of one bar per entry; missing amounts draw no bar and say so in the tooltip."""
    amounts = [b.amount for b in bars if b.amount is not None]
    top = _nice_max(max((a for a in amounts if a > 0), default=Decimal(0)))
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_w / max(len(bars), 1)
    bar_w = slot * 0.6
    base_y = MARGIN_TOP + plot_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="kv-chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" aria-labelledby="kv-chart-title">',
        f'<title id="kv-chart-title">{escape(title)}</title>',
    ]
    for i in range(5):
        value = top * i / 4
        y = base_y - plot_h * i / 4
        parts.append(
            f'<line class="kv-chart-grid" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de" stroke-width="1"/>'
        )
        parts.append(
            f'<text class="kv-chart-axis" x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end" font-size="13">{escape(format_euro(value))}</text>'
        )
    for index, bar in enumerate(bars):
        x = MARGIN_LEFT + slot * index + (slot - bar_w) / 2
        center = x + bar_w / 2
        parts.append(
            f'<text class="kv-chart-label" x="{center:.1f}" y="{HEIGHT - 12}" '
            f'text-anchor="middle" font-size="12">{escape(bar.label)}</text>'
        )
        if bar.amount is None:
            parts.append(
                f'<text class="kv-chart-empty" x="{center:.1f}" y="{base_y - 4}" '
                f'text-anchor="middle" font-size="10" fill="#6e7781">–</text>'
            )
            continue
        height = float(max(bar.amount, Decimal(0)) / top) * plot_h
        parts.append(
            f'<rect class="kv-chart-bar" x="{x:.1f}" y="{base_y - height:.1f}" '
            f'width="{bar_w:.1f}" height="{height:.1f}" fill="#1f6feb">'
            f"<title>{escape(bar.label)}: {escape(format_euro(bar.amount))}</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)

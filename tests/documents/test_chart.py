"""The start-page chart is plain SVG: no script, no style attribute, amounts escaped."""

from decimal import Decimal

from kvportal.documents.chart import Bar, format_euro, render_bar_chart


def test_format_euro_german():
    assert format_euro(Decimal("1234567.5")) == "1.234.567,50 €"
    assert format_euro(Decimal("-12")) == "-12,00 €"
    assert format_euro(Decimal("0")) == "0,00 €"


def test_chart_bars_scale_and_missing_quarters():
    svg = render_bar_chart(
        [Bar("1/2026", Decimal("50000")), Bar("2/2026", None), Bar("3/2026", Decimal("25000"))],
        title="Honorar <BSNR>",
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<script" not in svg and "style=" not in svg
    assert svg.count('class="kv-chart-bar"') == 2
    assert "Honorar &lt;BSNR&gt;" in svg
    assert "1/2026: 50.000,00 €" in svg
    # axis tops out at 50.000 → the first bar fills the plot height (188 px), the third half
    assert 'height="188.0"' in svg
    assert 'height="94.0"' in svg


def test_chart_without_amounts_draws_no_bars():
    svg = render_bar_chart([Bar("1/2026", None)], title="x")
    assert 'class="kv-chart-bar"' not in svg

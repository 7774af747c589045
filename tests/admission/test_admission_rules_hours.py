"""Hours bands (every boundary), monthly conversion, minimum consultation hours, the matrix."""

from decimal import Decimal as D

import pytest

from kvportal.admission.rules.hours import (
    all_increases,
    check_hours,
    check_increase,
    factor_for_hours,
    min_consultation_hours,
    parse_factor,
    weekly_hours,
)
from kvportal.admission.rules.text import fmt_decimal, fmt_money


@pytest.mark.parametrize(
    ("weekly", "factor"),
    [
        ("6.24", None),
        ("6.25", "0.25"),
        ("10.0", "0.25"),
        ("10.01", None),
        ("12.49", None),
        ("12.5", "0.5"),
        ("20.0", "0.5"),
        ("20.01", None),
        ("20.49", None),
        ("20.5", "0.75"),
        ("30.0", "0.75"),
        ("30.01", None),
        ("30.49", None),
        ("30.5", "1.0"),
        ("40", "1.0"),
        ("60", "1.0"),
    ],
)
def test_factor_for_hours_boundaries(weekly, factor):
    assert factor_for_hours(D(weekly)) == (D(factor) if factor else None)


@pytest.mark.parametrize(
    ("weekly", "target", "ok"),
    [
        ("30.5", "1.0", True),
        ("30.49", "1.0", False),
        ("60", "1.0", True),
        ("60.01", "1.0", False),
        ("20.5", "0.75", True),
        ("20.49", "0.75", False),
        ("30.0", "0.75", True),
        ("30.01", "0.75", False),
        ("12.5", "0.5", True),
        ("12.49", "0.5", False),
        ("20.0", "0.5", True),
        ("20.01", "0.5", False),
        ("6.25", "0.25", True),
        ("10.0", "0.25", True),
        ("10.01", "0.25", False),
        ("0", "0.5", False),
        ("-5", "0.5", False),
    ],
)
def test_check_hours_against_target_band(weekly, target, ok):
    message = check_hours(D(weekly), D(target))
    assert (message is None) is ok
    if not ok:
        assert "Wochenstunden" in message or "größer als 0" in message


def test_check_hours_message_names_fitting_factor():
    message = check_hours(D("25"), D("1.0"))
    assert "Faktor 0,75" in message and "ab 30,5 h" in message


def test_check_hours_message_for_gap():
    message = check_hours(D("30.25"), D("1.0"))
    assert "keiner Spanne" in message and "30,25" in message


@pytest.mark.parametrize(
    ("monthly", "weekly"),
    [("100", "23.00"), ("133", "30.59"), ("87", "20.01"), ("54.35", "12.50"), ("43.5", "10.01")],
)
def test_monthly_hours_times_023(monthly, weekly):
    assert weekly_hours(D(monthly), per_month=True) == D(weekly)
    assert weekly_hours(D(monthly), per_month=False) == D(monthly)


@pytest.mark.parametrize(
    ("factor", "minimum"),
    [("1.0", "25.0"), ("0.75", "18.75"), ("0.5", "12.5"), ("0.25", "6.25")],
)
def test_min_consultation_hours(factor, minimum):
    assert min_consultation_hours(D(factor)) == D(minimum)


ALLOWED = {
    ("0.75", "1.0"),
    ("0.5", "0.75"),
    ("0.5", "1.0"),
    ("0.25", "0.5"),
    ("0.25", "0.75"),
    ("0.25", "1.0"),
}


@pytest.mark.parametrize("src", ["0.25", "0.5", "0.75", "1.0"])
@pytest.mark.parametrize("dst", ["0.25", "0.5", "0.75", "1.0"])
def test_increase_matrix(src, dst):
    message = check_increase(D(src), D(dst))
    assert (message is None) == ((src, dst) in ALLOWED)


def test_exactly_six_increases():
    assert len(all_increases()) == 6
    assert {(str(a), str(b)) for a, b in all_increases()} == ALLOWED


def test_increase_requires_both_factors():
    assert "bisherigen" in check_increase(None, D("1.0"))
    assert "neuen" in check_increase(D("0.5"), None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0,5", "0.5"), ("0.50", "0.5"), ("1", "1.0"), (D("0.75"), "0.75"), ("0.3", None),
     ("abc", None), ("", None), (None, None)],
)  # fmt: skip
def test_parse_factor(raw, expected):
    assert parse_factor(raw) == (D(expected) if expected else None)


@pytest.mark.parametrize(
    ("value", "text"),
    [(D("0.75"), "0,75"), (D("1.0"), "1,0"), (D("25"), "25,0"), (D("30.50"), "30,5"),
     (D("100"), "100,0")],
)  # fmt: skip
def test_fmt_decimal(value, text):
    assert fmt_decimal(value) == text


def test_fmt_money():
    assert fmt_money(D("120")) == "120,00 €"
    assert fmt_money(D("1400.5")) == "1.400,50 €"

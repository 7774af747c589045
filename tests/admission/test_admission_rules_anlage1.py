"""Anlage 1: gapless, chronological, overlaps allowed, reaching today."""

import datetime as dt

import pytest

from kvportal.admission.rules.anlage1 import check_anlage1

TODAY = dt.date(2026, 11, 23)


def row(start, end="", evidence="arztregister", hours="40", kind="Assistenzarzt", inst="Klinik X"):
    return {
        "start": start,
        "end": end,
        "kind": kind,
        "institution": inst,
        "weekly_hours": hours,
        "evidence": evidence,
    }


@pytest.mark.parametrize(
    ("rows", "ok"),
    [
        ([row("2015-01-01")], True),
        ([row("2015-01-01", "2020-03-31"), row("2020-04-01")], True),  # seamless
        ([row("2015-01-01", "2020-03-31"), row("2020-04-02")], False),  # one day gap
        ([row("2015-01-01", "2020-06-30"), row("2020-04-01")], True),  # overlap allowed
        ([row("2020-04-01"), row("2015-01-01", "2020-03-31")], True),  # sorted chronologically
        # a long activity covers a short one; the next starts inside the long one
        ([row("2015-01-01", "2022-12-31"), row("2016-01-01", "2016-06-30"), row("2023-01-01")],
         True),
        ([row("2015-01-01", "2016-12-31"), row("2016-01-01", "2016-06-30"), row("2017-01-02")],
         False),
        ([row("2015-01-01", "2026-11-23")], True),  # ends today
        ([row("2015-01-01", "2026-11-22")], False),  # ends before today
        ([row("01.01.2015", "31.12.2019"), row("01.01.2020")], True),  # German date format
    ],
)  # fmt: skip
def test_gapless(rows, ok):
    assert check_anlage1(rows, today=TODAY).ok is ok


def test_gap_message_names_the_gap():
    check = check_anlage1([row("2015-01-01", "2020-03-31"), row("2020-05-01")], today=TODAY)
    assert check.errors == {
        1: ["Zeile 2: Lücke vom 01.04.2020 bis 30.04.2020 – bitte auch Zeiten ohne ärztliche "
            "Tätigkeit (z. B. Elternzeit) eintragen."]
    }  # fmt: skip


def test_not_reaching_today_is_a_table_error():
    check = check_anlage1([row("2015-01-01", "2020-03-31")], today=TODAY)
    assert "bis heute" in check.errors[None][0]


@pytest.mark.parametrize(
    ("bad", "part"),
    [
        (row(""), "Beginn"),
        (row("2027-01-01"), "Zukunft"),
        (row("2020-01-01", "2019-01-01"), "vor dem Beginn"),
        (row("2020-01-01", "31.02.2020"), "kein gültiges Datum"),
        (row("2020-01-01", hours="0"), "Wochenstunden"),
        (row("2020-01-01", hours="61"), "Wochenstunden"),
        (row("2020-01-01", evidence=""), "Nachweis"),
        (row("2020-01-01", kind=""), "Art der Tätigkeit"),
        (row("2020-01-01", inst=""), "Einrichtung"),
    ],
)
def test_row_errors(bad, part):
    check = check_anlage1([bad], today=TODAY)
    assert any(part in m for m in check.errors[0]), check.errors


def test_empty_table():
    assert "Bitte tragen Sie" in check_anlage1([], today=TODAY).errors[None][0]


def test_attached_evidence_flag():
    assert not check_anlage1([row("2015-01-01")], today=TODAY).needs_attached_evidence
    assert check_anlage1(
        [row("2015-01-01", "2019-12-31"), row("2020-01-01", evidence="anlage")], today=TODAY
    ).needs_attached_evidence


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

DAY = dt.timedelta(days=1)


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=6),
    overlaps=st.lists(st.integers(min_value=0, max_value=30), min_size=6, max_size=6),
    gap_at=st.integers(min_value=0, max_value=5),
    gap=st.integers(min_value=0, max_value=40),
    shuffle=st.randoms(use_true_random=False),
)
def test_property_gap_detected_exactly_when_present(lengths, overlaps, gap_at, gap, shuffle):
    """Chained activities (each starts on/before the day after the previous end) are gapless
    in any order; inserting a gap of ≥ 1 day between two of them is reported."""
    rows = []
    start = dt.date(2000, 1, 1)
    latest_end = start
    has_gap = False
    for index, length in enumerate(lengths):
        end = start + dt.timedelta(days=length - 1)
        latest_end = max(latest_end, end)
        rows.append(row(start.isoformat(), end.isoformat()))
        start = end + DAY - dt.timedelta(days=min(overlaps[index], length - 1))
        if index == gap_at and gap:
            start = latest_end + DAY + dt.timedelta(days=gap)  # a real gap
            has_gap = True
    rows.append(row(start.isoformat()))  # the current activity, open-ended
    shuffle.shuffle(rows)
    check = check_anlage1(rows, today=TODAY)
    gap_errors = [m for k, ms in check.errors.items() if k is not None for m in ms if "Lücke" in m]
    assert bool(gap_errors) is has_gap

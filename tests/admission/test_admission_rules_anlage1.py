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

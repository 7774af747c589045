"""Effective date and committee sessions (time passed explicitly = frozen)."""

import datetime as dt

import pytest

from kvportal.admission.rules.dates import (
    SessionSlot,
    check_effective_date,
    earliest_effective_date,
    earliest_reachable_session,
    first_of_month_on_or_after,
)

S = [
    SessionSlot(dt.date(2027, 1, 13), "dresden", "aerzte"),
    SessionSlot(dt.date(2027, 2, 1), "dresden", "aerzte"),
    SessionSlot(dt.date(2027, 3, 17), "dresden", "aerzte", deadline=dt.date(2027, 3, 10)),
    SessionSlot(dt.date(2026, 12, 9), "dresden", "psychotherapie"),
    SessionSlot(dt.date(2026, 12, 16), "leipzig", "aerzte"),
]


@pytest.mark.parametrize(
    ("received", "bezirk", "committee", "expected"),
    [
        # 13.01.2027 − 6 weeks = 02.12.2026
        (dt.date(2026, 12, 2), "dresden", "aerzte", dt.date(2027, 1, 13)),
        (dt.date(2026, 12, 3), "dresden", "aerzte", dt.date(2027, 2, 1)),
        # 01.02.2027 − 6 weeks = 21.12.2026
        (dt.date(2026, 12, 21), "dresden", "aerzte", dt.date(2027, 2, 1)),
        (dt.date(2026, 12, 22), "dresden", "aerzte", dt.date(2027, 3, 17)),
        # explicit Annahmeschluss 10.03.2027 instead of 03.02.2027
        (dt.date(2027, 3, 10), "dresden", "aerzte", dt.date(2027, 3, 17)),
        (dt.date(2027, 3, 11), "dresden", "aerzte", None),
        (dt.date(2026, 10, 28), "dresden", "psychotherapie", dt.date(2026, 12, 9)),
        (dt.date(2026, 10, 29), "dresden", "psychotherapie", None),
        (dt.date(2026, 11, 1), "leipzig", "aerzte", dt.date(2026, 12, 16)),
        (dt.date(2026, 11, 1), "chemnitz", "aerzte", None),
    ],
)
def test_earliest_reachable_session(received, bezirk, committee, expected):
    session = earliest_reachable_session(
        S, received_on=received, bezirk=bezirk, committee=committee
    )
    assert (session.date if session else None) == expected


def test_lead_time_is_configurable():
    received = dt.date(2026, 12, 2)
    eight = dt.timedelta(weeks=8)
    session = earliest_reachable_session(
        S, received_on=received, bezirk="dresden", committee="aerzte", lead_time=eight
    )
    # 01.02.2027 − 8 weeks = 07.12.2026 → reachable; 13.01.2027 − 8 weeks = 18.11.2026 → not
    assert session.date == dt.date(2027, 2, 1)


@pytest.mark.parametrize(
    ("session_date", "earliest"),
    [
        (dt.date(2027, 1, 13), dt.date(2027, 2, 1)),
        (dt.date(2027, 2, 1), dt.date(2027, 2, 1)),
        (dt.date(2027, 12, 15), dt.date(2028, 1, 1)),
    ],
)
def test_earliest_effective_date(session_date, earliest):
    assert earliest_effective_date(SessionSlot(session_date, "dresden", "aerzte")) == earliest


def test_first_of_month_on_or_after():
    assert first_of_month_on_or_after(dt.date(2026, 12, 2)) == dt.date(2027, 1, 1)
    assert first_of_month_on_or_after(dt.date(2026, 12, 1)) == dt.date(2026, 12, 1)


TODAY = dt.date(2026, 11, 23)


@pytest.mark.parametrize(
    ("effective", "error_part"),
    [
        (dt.date(2027, 2, 1), None),  # session 13.01. reachable → 01.02.
        (dt.date(2027, 6, 1), None),
        (dt.date(2027, 2, 2), "Monatsbeginn"),
        (dt.date(2026, 11, 1), "rückwirkende"),
        (dt.date(2026, 11, 23), "rückwirkende"),
        (dt.date(2027, 1, 1), "frühestens ab dem 01.02.2027"),
        (dt.date(2026, 12, 1), "Sitzung am 13.01.2027"),
        (None, "Bitte geben Sie an"),
    ],
)
def test_check_effective_date(effective, error_part):
    check = check_effective_date(
        effective, today=TODAY, sessions=S, bezirk="dresden", committee="aerzte"
    )
    if error_part is None:
        assert check.errors == ()
    else:
        assert any(error_part in e for e in check.errors), check.errors
    assert check.earliest_session.date == dt.date(2027, 1, 13)
    assert check.earliest_date == dt.date(2027, 2, 1)


def test_too_early_is_only_a_warning_when_rechecking():
    check = check_effective_date(
        dt.date(2027, 1, 1),
        today=TODAY,
        sessions=S,
        bezirk="dresden",
        committee="aerzte",
        session_too_late_is_error=False,
    )
    assert check.errors == ()
    assert any("frühestens ab dem 01.02.2027" in w for w in check.warnings)


def test_no_reachable_session_warns_but_does_not_block():
    check = check_effective_date(
        dt.date(2027, 1, 1), today=TODAY, sessions=S, bezirk="chemnitz", committee="aerzte"
    )
    assert check.errors == ()
    assert check.earliest_session is None
    assert any("keine Sitzung" in w for w in check.warnings)

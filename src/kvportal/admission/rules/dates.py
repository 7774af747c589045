# No retroactive approval (Hinweise zu seeds 002/004): status changes only for the future, from
# the first of a month, and the application must reach the committee's office ≥ 6 weeks before
# the session (lead time configurable).
"""Effective date and committee sessions. No Django."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from kvportal.admission.rules.text import fmt_date

#: Default lead time between receipt of a complete application and the session.
DEFAULT_LEAD_TIME = dt.timedelta(weeks=6)


@dataclass(frozen=True)
class SessionSlot:
    """A committee session as the rules see it (the model adapts to this)."""

    date: dt.date
    bezirk: str
    committee: str
    #: explicit Annahmeschluss set by the Geschäftsstelle; default: date − lead time
    deadline: dt.date | None = None
    ref: object = None  # the model instance / primary key, passed through

    def receipt_deadline(self, lead_time: dt.timedelta = DEFAULT_LEAD_TIME) -> dt.date:
        return self.deadline if self.deadline is not None else self.date - lead_time


def first_of_next_month(day: dt.date) -> dt.date:
    if day.month == 12:
        return dt.date(day.year + 1, 1, 1)
    return dt.date(day.year, day.month + 1, 1)


def first_of_month_on_or_after(day: dt.date) -> dt.date:
    return day if day.day == 1 else first_of_next_month(day)


def earliest_reachable_session(
    sessions: Iterable[SessionSlot],
    *,
    received_on: dt.date,
    bezirk: str,
    committee: str,
    lead_time: dt.timedelta = DEFAULT_LEAD_TIME,
) -> SessionSlot | None:
    """First session of the Bezirk and committee whose receipt deadline is not yet past."""
    candidates = sorted(
        (
            s
            for s in sessions
            if s.bezirk == bezirk
            and s.committee == committee
            and s.date > received_on
            and received_on <= s.receipt_deadline(lead_time)
        ),
        key=lambda s: s.date,
    )
    return candidates[0] if candidates else None


def earliest_effective_date(session: SessionSlot) -> dt.date:
    """The committee decides in the session: the earliest first of a month on/after it."""
    return first_of_month_on_or_after(session.date)


@dataclass(frozen=True)
class DateCheck:
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    earliest_session: SessionSlot | None
    earliest_date: dt.date | None


def check_effective_date(
    effective: dt.date | None,
    *,
    today: dt.date,
    sessions: Iterable[SessionSlot],
    bezirk: str | None,
    committee: str,
    lead_time: dt.timedelta = DEFAULT_LEAD_TIME,
    session_too_late_is_error: bool = True,
) -> DateCheck:
    """Check "Die Änderung soll ab dem … erfolgen" for an application received `today`.

    Errors: missing, not the first of a month, not in the future, earlier than the earliest
    reachable session allows (unless `session_too_late_is_error` is False, then a warning —
    used when re-checking an application that already waited for signatures).
    Warning: no reachable session published yet.
    """
    errors: list[str] = []
    warnings: list[str] = []
    session = None
    earliest = None
    if bezirk:
        session = earliest_reachable_session(
            sessions, received_on=today, bezirk=bezirk, committee=committee, lead_time=lead_time
        )
        if session is not None:
            earliest = earliest_effective_date(session)
    if effective is None:
        errors.append("Bitte geben Sie an, ab wann die Änderung erfolgen soll.")
        return DateCheck(tuple(errors), tuple(warnings), session, earliest)
    if effective.day != 1:
        errors.append(
            "Die Änderung ist nur zum Monatsbeginn möglich – bitte den 1. eines Monats wählen "
            f"(z. B. {fmt_date(first_of_month_on_or_after(effective))})."
        )
    if effective <= today:
        errors.append(
            "Eine rückwirkende Genehmigung ist nicht möglich – das Datum muss in der Zukunft "
            "liegen."
        )
    if bezirk and session is None:
        warnings.append(
            "Für Ihren Zulassungsbezirk ist noch keine Sitzung veröffentlicht, die Ihr Antrag "
            "rechtzeitig erreicht. Die Geschäftsstelle teilt Ihnen den Termin mit."
        )
    elif session is not None and earliest is not None and today < effective < earliest:
        message = (
            f"Der Zulassungsausschuss kann frühestens in seiner Sitzung am "
            f"{fmt_date(session.date)} entscheiden (Antragseingang mindestens "
            f"{lead_time.days // 7} Wochen vorher); die Änderung ist daher frühestens ab dem "
            f"{fmt_date(earliest)} möglich."
        )
        (errors if session_too_late_is_error else warnings).append(message)
    return DateCheck(tuple(errors), tuple(warnings), session, earliest)

# § 38 Ärzte-ZV: the committee deals with an application only after the fee is paid; unpaid after
# the deadline it counts as withdrawn unless the chairman defers (stundet) the fee. § 41 Ärzte-ZV:
# decision in a session; status changes only for the future.
"""The application lifecycle as a pure state machine. No Django."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    ENTWURF = "entwurf"
    EINGEREICHT = "eingereicht"  # waiting for the signatories' confirmations
    VOLLSTAENDIG = "vollstaendig"  # all confirmed: received by the Geschäftsstelle
    NACHFORDERUNG = "nachforderung"  # the office asked for documents/information
    GEBUEHR_ANGEFORDERT = "gebuehr_angefordert"
    GEBUEHR_BEZAHLT = "gebuehr_bezahlt"
    GEBUEHR_GESTUNDET = "gebuehr_gestundet"
    TERMINIERT = "terminiert"  # assigned to a session
    GENEHMIGT = "genehmigt"
    ABGELEHNT = "abgelehnt"
    RECHTSKRAEFTIG = "rechtskraeftig"
    ZURUECKGENOMMEN = "zurueckgenommen"
    GILT_ALS_ZURUECKGENOMMEN = "gilt_als_zurueckgenommen"  # § 38 Ärzte-ZV


STATE_LABELS: dict[State, str] = {
    State.ENTWURF: "Entwurf",
    State.EINGEREICHT: "Eingereicht – Bestätigungen ausstehend",
    State.VOLLSTAENDIG: "Eingegangen – in Prüfung",
    State.NACHFORDERUNG: "Nachforderung – Ihre Antwort wird benötigt",
    State.GEBUEHR_ANGEFORDERT: "Gebühr angefordert",
    State.GEBUEHR_BEZAHLT: "Gebühr bezahlt",
    State.GEBUEHR_GESTUNDET: "Gebühr gestundet",
    State.TERMINIERT: "Terminiert",
    State.GENEHMIGT: "Beschluss: genehmigt",
    State.ABGELEHNT: "Beschluss: abgelehnt",
    State.RECHTSKRAEFTIG: "Rechtskräftig",
    State.ZURUECKGENOMMEN: "Zurückgenommen",
    State.GILT_ALS_ZURUECKGENOMMEN: "Gilt als zurückgenommen (§ 38 Ärzte-ZV)",
}


class Event(StrEnum):
    SUBMIT = "submit"  # applicant submits; confirmations start
    REOPEN = "reopen"  # applicant takes a submitted application back into draft
    ALL_CONFIRMED = "all_confirmed"  # system: last signatory confirmed
    REQUEST_DOCUMENTS = "request_documents"  # office: Nachforderung
    ANSWER = "answer"  # applicant answers the Nachforderung
    REQUEST_FEE = "request_fee"  # office: completeness check passed, fee requested
    BOOK_PAYMENT = "book_payment"
    DEFER_FEE = "defer_fee"  # Stundung by the chairman
    FEE_EXPIRED = "fee_expired"  # system: deadline passed unpaid
    SCHEDULE = "schedule"  # office: assign (or move) to a session
    APPROVE = "approve"
    REJECT = "reject"
    FINALIZE = "finalize"  # decision became final (rechtskräftig)
    WITHDRAW = "withdraw"  # applicant


EVENT_LABELS: dict[Event, str] = {
    Event.SUBMIT: "Antrag eingereicht",
    Event.REOPEN: "Zur Bearbeitung zurückgeholt",
    Event.ALL_CONFIRMED: "Alle Bestätigungen liegen vor – Antrag eingegangen",
    Event.REQUEST_DOCUMENTS: "Unterlagen nachgefordert",
    Event.ANSWER: "Nachforderung beantwortet",
    Event.REQUEST_FEE: "Gebühr angefordert",
    Event.BOOK_PAYMENT: "Zahlung gebucht",
    Event.DEFER_FEE: "Gebühr gestundet",
    Event.FEE_EXPIRED: "Gebühr nicht fristgerecht gezahlt – Antrag gilt als zurückgenommen",
    Event.SCHEDULE: "Für eine Sitzung terminiert",
    Event.APPROVE: "Beschluss: genehmigt",
    Event.REJECT: "Beschluss: abgelehnt",
    Event.FINALIZE: "Beschluss rechtskräftig",
    Event.WITHDRAW: "Antrag zurückgenommen",
}

#: Before the decision the applicant may withdraw (any state from submission on).
WITHDRAWABLE = frozenset(
    {
        State.EINGEREICHT,
        State.VOLLSTAENDIG,
        State.NACHFORDERUNG,
        State.GEBUEHR_ANGEFORDERT,
        State.GEBUEHR_BEZAHLT,
        State.GEBUEHR_GESTUNDET,
        State.TERMINIERT,
    }
)
#: Nachforderung is possible while no fee deadline is running.
NACHFORDERUNG_FROM = frozenset(
    {State.VOLLSTAENDIG, State.GEBUEHR_BEZAHLT, State.GEBUEHR_GESTUNDET, State.TERMINIERT}
)
#: No further transitions.
TERMINAL = frozenset({State.RECHTSKRAEFTIG, State.ZURUECKGENOMMEN})
#: "Pending": counts for the double-application check.
PENDING = frozenset(
    {
        State.EINGEREICHT,
        State.VOLLSTAENDIG,
        State.NACHFORDERUNG,
        State.GEBUEHR_ANGEFORDERT,
        State.GEBUEHR_BEZAHLT,
        State.GEBUEHR_GESTUNDET,
        State.TERMINIERT,
        State.GENEHMIGT,
        State.ABGELEHNT,
    }
)
#: States in which the office works on the application (back-office inbox).
OFFICE_STATES = frozenset(
    {
        State.VOLLSTAENDIG,
        State.NACHFORDERUNG,
        State.GEBUEHR_ANGEFORDERT,
        State.GEBUEHR_BEZAHLT,
        State.GEBUEHR_GESTUNDET,
        State.TERMINIERT,
        State.GENEHMIGT,
        State.ABGELEHNT,
    }
)

_TABLE: dict[tuple[State, Event], State] = {
    (State.ENTWURF, Event.SUBMIT): State.EINGEREICHT,
    (State.EINGEREICHT, Event.REOPEN): State.ENTWURF,
    (State.EINGEREICHT, Event.ALL_CONFIRMED): State.VOLLSTAENDIG,
    (State.VOLLSTAENDIG, Event.REQUEST_FEE): State.GEBUEHR_ANGEFORDERT,
    (State.GEBUEHR_ANGEFORDERT, Event.BOOK_PAYMENT): State.GEBUEHR_BEZAHLT,
    (State.GEBUEHR_ANGEFORDERT, Event.DEFER_FEE): State.GEBUEHR_GESTUNDET,
    (State.GEBUEHR_ANGEFORDERT, Event.FEE_EXPIRED): State.GILT_ALS_ZURUECKGENOMMEN,
    (State.GEBUEHR_GESTUNDET, Event.BOOK_PAYMENT): State.GEBUEHR_BEZAHLT,
    # a payment made in time but booked after the expiry job ran revives the application
    (State.GILT_ALS_ZURUECKGENOMMEN, Event.BOOK_PAYMENT): State.GEBUEHR_BEZAHLT,
    (State.GEBUEHR_BEZAHLT, Event.SCHEDULE): State.TERMINIERT,
    (State.GEBUEHR_GESTUNDET, Event.SCHEDULE): State.TERMINIERT,
    (State.TERMINIERT, Event.SCHEDULE): State.TERMINIERT,  # vertagt / moved
    (State.TERMINIERT, Event.APPROVE): State.GENEHMIGT,
    (State.TERMINIERT, Event.REJECT): State.ABGELEHNT,
    (State.GENEHMIGT, Event.FINALIZE): State.RECHTSKRAEFTIG,
    (State.ABGELEHNT, Event.FINALIZE): State.RECHTSKRAEFTIG,
}


class TransitionError(ValueError):
    """The event is not allowed in the current state (German message)."""


@dataclass(frozen=True)
class Context:
    """Facts some transitions depend on."""

    today: dt.date | None = None
    fee_deadline: dt.date | None = None
    paid_on: dt.date | None = None
    resume_state: State | None = None  # the state a Nachforderung interrupted


def next_state(state: State, event: Event, ctx: Context | None = None) -> State:
    """The state after `event`, or TransitionError with a German explanation."""
    ctx = ctx or Context()
    state = State(state)
    event = Event(event)
    if event is Event.WITHDRAW:
        if state in WITHDRAWABLE:
            return State.ZURUECKGENOMMEN
        raise TransitionError(
            f"Ein Antrag im Status „{STATE_LABELS[state]}“ kann nicht zurückgenommen werden "
            "(nur nach dem Einreichen und vor dem Beschluss)."
        )
    if event is Event.REQUEST_DOCUMENTS:
        if state in NACHFORDERUNG_FROM:
            return State.NACHFORDERUNG
        raise TransitionError(
            f"Im Status „{STATE_LABELS[state]}“ können keine Unterlagen nachgefordert werden."
        )
    if event is Event.ANSWER:
        if state is State.NACHFORDERUNG and ctx.resume_state in NACHFORDERUNG_FROM:
            return ctx.resume_state
        raise TransitionError("Es liegt keine offene Nachforderung vor.")
    if event is Event.FEE_EXPIRED:
        if state is not State.GEBUEHR_ANGEFORDERT:
            raise TransitionError("Es ist keine Gebühr angefordert.")
        if ctx.fee_deadline is None or ctx.today is None or ctx.today <= ctx.fee_deadline:
            raise TransitionError("Die Zahlungsfrist ist noch nicht abgelaufen.")
    if (
        event is Event.REQUEST_FEE
        and ctx.fee_deadline is not None
        and ctx.today is not None
        and ctx.fee_deadline <= ctx.today
    ):
        raise TransitionError("Die Zahlungsfrist muss in der Zukunft liegen.")
    if (
        event is Event.BOOK_PAYMENT
        and state is State.GILT_ALS_ZURUECKGENOMMEN
        and (ctx.paid_on is None or ctx.fee_deadline is None or ctx.paid_on > ctx.fee_deadline)
    ):
        raise TransitionError(
            "Der Antrag gilt nach § 38 Ärzte-ZV als zurückgenommen; nur eine fristgerecht "
            "(bis zur Zahlungsfrist) geleistete Zahlung kann noch gebucht werden."
        )
    target = _TABLE.get((state, event))
    if target is None:
        raise TransitionError(
            f"„{EVENT_LABELS[event]}“ ist im Status „{STATE_LABELS[state]}“ nicht möglich."
        )
    return target


def allowed_events(state: State) -> list[Event]:
    """Events that may be possible in `state` (context-dependent checks aside)."""
    state = State(state)
    events = [event for (src, event) in _TABLE if src is state]
    if state in WITHDRAWABLE:
        events.append(Event.WITHDRAW)
    if state in NACHFORDERUNG_FROM:
        events.append(Event.REQUEST_DOCUMENTS)
    if state is State.NACHFORDERUNG:
        events.append(Event.ANSWER)
    return events


def fee_expired(*, state: State, fee_deadline: dt.date | None, today: dt.date) -> bool:
    """§ 38 Ärzte-ZV: requested, unpaid, not deferred and the deadline has passed."""
    return (
        State(state) is State.GEBUEHR_ANGEFORDERT
        and fee_deadline is not None
        and (today > fee_deadline)
    )

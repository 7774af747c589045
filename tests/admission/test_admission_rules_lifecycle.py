"""Lifecycle transitions including § 38 Ärzte-ZV and the Nachforderung loop."""

import datetime as dt

import pytest

from kvportal.admission.rules.lifecycle import (
    PENDING,
    WITHDRAWABLE,
    Context,
    Event,
    State,
    TransitionError,
    allowed_events,
    fee_expired,
    next_state,
)

S, E = State, Event

VALID = [
    (S.ENTWURF, E.SUBMIT, S.EINGEREICHT),
    (S.EINGEREICHT, E.REOPEN, S.ENTWURF),
    (S.EINGEREICHT, E.ALL_CONFIRMED, S.VOLLSTAENDIG),
    (S.VOLLSTAENDIG, E.REQUEST_FEE, S.GEBUEHR_ANGEFORDERT),
    (S.VOLLSTAENDIG, E.REQUEST_DOCUMENTS, S.NACHFORDERUNG),
    (S.GEBUEHR_ANGEFORDERT, E.BOOK_PAYMENT, S.GEBUEHR_BEZAHLT),
    (S.GEBUEHR_ANGEFORDERT, E.DEFER_FEE, S.GEBUEHR_GESTUNDET),
    (S.GEBUEHR_GESTUNDET, E.BOOK_PAYMENT, S.GEBUEHR_BEZAHLT),
    (S.GEBUEHR_BEZAHLT, E.SCHEDULE, S.TERMINIERT),
    (S.GEBUEHR_GESTUNDET, E.SCHEDULE, S.TERMINIERT),
    (S.TERMINIERT, E.SCHEDULE, S.TERMINIERT),
    (S.TERMINIERT, E.APPROVE, S.GENEHMIGT),
    (S.TERMINIERT, E.REJECT, S.ABGELEHNT),
    (S.GENEHMIGT, E.FINALIZE, S.RECHTSKRAEFTIG),
    (S.ABGELEHNT, E.FINALIZE, S.RECHTSKRAEFTIG),
    (S.TERMINIERT, E.REQUEST_DOCUMENTS, S.NACHFORDERUNG),
]


@pytest.mark.parametrize(("state", "event", "target"), VALID)
def test_valid_transitions(state, event, target):
    assert next_state(state, event) is target


INVALID = [
    (S.ENTWURF, E.ALL_CONFIRMED),
    (S.ENTWURF, E.REQUEST_FEE),
    (S.EINGEREICHT, E.REQUEST_FEE),  # not before all signatories confirmed
    (S.VOLLSTAENDIG, E.SCHEDULE),  # § 38: not before the fee is paid
    (S.GEBUEHR_ANGEFORDERT, E.SCHEDULE),
    (S.GEBUEHR_ANGEFORDERT, E.REQUEST_DOCUMENTS),
    (S.GEBUEHR_BEZAHLT, E.APPROVE),
    (S.VOLLSTAENDIG, E.APPROVE),
    (S.GENEHMIGT, E.WITHDRAW),
    (S.ABGELEHNT, E.WITHDRAW),
    (S.ENTWURF, E.WITHDRAW),
    (S.RECHTSKRAEFTIG, E.APPROVE),
    (S.ZURUECKGENOMMEN, E.SUBMIT),
    (S.GEBUEHR_BEZAHLT, E.BOOK_PAYMENT),
    (S.VOLLSTAENDIG, E.ANSWER),
]


@pytest.mark.parametrize(("state", "event"), INVALID)
def test_invalid_transitions(state, event):
    with pytest.raises(TransitionError):
        next_state(state, event)


@pytest.mark.parametrize("state", list(State))
def test_withdraw_only_after_submission_and_before_decision(state):
    if state in WITHDRAWABLE:
        assert next_state(state, E.WITHDRAW) is S.ZURUECKGENOMMEN
    else:
        with pytest.raises(TransitionError, match="zurückgenommen"):
            next_state(state, E.WITHDRAW)


DEADLINE = dt.date(2027, 1, 15)


@pytest.mark.parametrize(
    ("today", "expired"),
    [(dt.date(2027, 1, 14), False), (dt.date(2027, 1, 15), False), (dt.date(2027, 1, 16), True)],
)
def test_para38_fee_expiry(today, expired):
    ctx = Context(today=today, fee_deadline=DEADLINE)
    assert fee_expired(state=S.GEBUEHR_ANGEFORDERT, fee_deadline=DEADLINE, today=today) is expired
    if expired:
        assert next_state(S.GEBUEHR_ANGEFORDERT, E.FEE_EXPIRED, ctx) is S.GILT_ALS_ZURUECKGENOMMEN
    else:
        with pytest.raises(TransitionError, match="noch nicht abgelaufen"):
            next_state(S.GEBUEHR_ANGEFORDERT, E.FEE_EXPIRED, ctx)


@pytest.mark.parametrize("state", [S.GEBUEHR_GESTUNDET, S.GEBUEHR_BEZAHLT, S.TERMINIERT])
def test_deferred_or_paid_fee_never_expires(state):
    assert not fee_expired(state=state, fee_deadline=DEADLINE, today=dt.date(2030, 1, 1))
    with pytest.raises(TransitionError):
        next_state(state, E.FEE_EXPIRED, Context(today=dt.date(2030, 1, 1), fee_deadline=DEADLINE))


@pytest.mark.parametrize(
    ("paid_on", "ok"), [(dt.date(2027, 1, 15), True), (dt.date(2027, 1, 16), False)]
)
def test_payment_in_time_revives_expired_application(paid_on, ok):
    ctx = Context(today=dt.date(2027, 1, 20), fee_deadline=DEADLINE, paid_on=paid_on)
    if ok:
        assert next_state(S.GILT_ALS_ZURUECKGENOMMEN, E.BOOK_PAYMENT, ctx) is S.GEBUEHR_BEZAHLT
    else:
        with pytest.raises(TransitionError, match="§ 38"):
            next_state(S.GILT_ALS_ZURUECKGENOMMEN, E.BOOK_PAYMENT, ctx)


def test_fee_deadline_must_be_in_future():
    with pytest.raises(TransitionError, match="Zukunft"):
        next_state(
            S.VOLLSTAENDIG,
            E.REQUEST_FEE,
            Context(today=dt.date(2027, 1, 1), fee_deadline=dt.date(2027, 1, 1)),
        )


@pytest.mark.parametrize(
    "resume", [S.VOLLSTAENDIG, S.GEBUEHR_BEZAHLT, S.GEBUEHR_GESTUNDET, S.TERMINIERT]
)
def test_nachforderung_loop_returns_to_previous_state(resume):
    state = next_state(resume, E.REQUEST_DOCUMENTS)
    assert state is S.NACHFORDERUNG
    assert next_state(state, E.ANSWER, Context(resume_state=resume)) is resume


def test_answer_needs_open_nachforderung():
    with pytest.raises(TransitionError):
        next_state(S.NACHFORDERUNG, E.ANSWER, Context(resume_state=None))


def test_allowed_events():
    assert set(allowed_events(S.TERMINIERT)) == {
        E.SCHEDULE, E.APPROVE, E.REJECT, E.WITHDRAW, E.REQUEST_DOCUMENTS,
    }  # fmt: skip
    assert allowed_events(S.RECHTSKRAEFTIG) == []
    assert S.ENTWURF not in PENDING and S.ZURUECKGENOMMEN not in PENDING

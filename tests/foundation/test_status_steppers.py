"""Issue 14 "Status pages": a stepper with dates and "Wie geht es weiter?" with expected
duration and channel (access application and admission application)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from kvportal.access.templatetags.access_status import access_steps
from kvportal.admission.templatetags.admission_status import admission_steps
from kvportal.core.steps import build_steps


def test_build_steps_marks_done_current_and_todo():
    day = dt.date(2026, 3, 2)
    steps = build_steps(
        [("a", "A", day), ("b", "B", None), ("c", "C", None)], "b", hints={"c": "ca. 5 Tage"}
    )
    assert [s.state for s in steps] == ["done", "current", "todo"]
    assert steps[0].date == day and steps[2].hint == "ca. 5 Tage"
    assert build_steps([("a", "A", None)], "a", problem=True)[0].state == "problem"


def _access(status, **dates):
    base = dict.fromkeys(("created_at", "sent_for_confirmation_at", "submitted_at", "decided_at"))
    return SimpleNamespace(status=status, **{**base, **dates})


def test_access_stepper_follows_the_status_with_dates():
    now = timezone.now()
    steps = access_steps(
        _access("eingereicht", created_at=now, sent_for_confirmation_at=now, submitted_at=now)
    )
    assert [s.state for s in steps] == ["done", "done", "current", "todo", "todo"]
    assert steps[2].date == now
    assert steps[4].hint.startswith("3–5 Werktage")  # expected duration of the letter


def test_access_stepper_for_corrections_and_withdrawal():
    now = timezone.now()
    corrections = access_steps(_access("nachbesserung", created_at=now, submitted_at=now))
    assert corrections[2].state == "problem"
    withdrawn = access_steps(_access("zurueckgezogen", created_at=now))
    assert [s.state for s in withdrawn] == ["done", "todo", "todo", "todo", "todo"]
    approved = access_steps(_access("genehmigt", created_at=now, decided_at=now))
    assert approved[3].state == "done" and approved[4].state == "current"


def _admission(state, **values):
    base = dict.fromkeys(
        (
            "created_at",
            "submitted_at",
            "received_at",
            "fee_paid_on",
            "fee_deferred_at",
            "decided_on",
            "final_on",
            "session",
            "fee_deadline",
        )
    )
    base["session_id"] = values.get("session") and 1
    return SimpleNamespace(state=state, **{**base, **values})


def test_admission_stepper_shows_the_session_date_and_whose_turn_it_is():
    today = timezone.localdate()
    session = SimpleNamespace(date=today + dt.timedelta(weeks=4))
    steps = admission_steps(
        _admission("terminiert", created_at=timezone.now(), session=session, fee_paid_on=today)
    )
    labels = {s.label: s for s in steps}
    assert labels["Sitzung des Ausschusses"].date == session.date
    assert labels["Sitzung des Ausschusses"].state == "done"
    assert labels["Beschluss"].state == "current"
    fee = admission_steps(_admission("gebuehr_angefordert"))
    assert {s.label: s.state for s in fee}["Antragsgebühr"] == "problem"


@pytest.mark.django_db
def test_access_status_page_has_stepper_and_next_steps(client):
    from kvportal.accounts.constants import Right
    from tests.access.helpers import draft, mvz_world
    from tests.factories import UserFactory, grant

    practice, leiter, arzt = mvz_world()
    user = UserFactory(person=leiter)
    grant(user, practice, Right.BILLING)
    app = draft(practice, leiter, arzt, actor=user)
    client.force_login(user)
    html = client.get(reverse("access:status", args=[app.reference])).content.decode()
    assert 'id="stepper"' in html and 'aria-current="step"' in html
    assert timezone.localtime(app.created_at).strftime("%d.%m.%Y") in html
    next_steps = html.split('id="next-steps"', 1)[1].split("</section>", 1)[0]
    assert "Wie geht es weiter?" in next_steps and "Dauer:" in next_steps
    assert "E-Mail" in next_steps  # the channel

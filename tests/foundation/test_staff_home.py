"""Issue 14: the KV staff start page shows, per staff role held, the open work with links and
the deadlines (billing deadline, next committee sessions); nothing of roles not held; a
constant number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kvportal.access import rules as access_rules
from kvportal.access.models import AccessApplication
from kvportal.admission.models import Application, CommitteeSession
from kvportal.admission.rules.definitions import BEZIRKE, COMMITTEES
from kvportal.billing import rules as billing_rules
from kvportal.billing.models import Submission, SubmissionState
from kvportal.core.quarters import Quarter
from kvportal.selfservice.models import CredentialLetterRequest
from tests.billing.html import main
from tests.factories import BetriebsstaetteFactory


def default_quarter(today: dt.date) -> Quarter:
    """The quarter whose window (from the 30th of its last month) is open or just closed."""
    quarter = Quarter.of(today)
    return (
        quarter if today >= dt.date(quarter.year, 3 * quarter.quarter, 30) else quarter.previous()
    )


def counts(response) -> dict[str, str]:
    page = main(response.content)
    return {
        tr.attrs["data-key"]: tr.find_all("td")[1].text
        for tr in page.find_all("tr")
        if "data-key" in tr.attrs
    }


def deadlines(response) -> dict[str, str]:
    page = main(response.content)
    return {li.attrs["data-key"]: li.text for li in page.find_all("li") if "data-key" in li.attrs}


def sections(response) -> list[str]:
    page = main(response.content)
    return [
        s.attrs["id"]
        for s in page.find_all("section")
        if s.attrs.get("id", "").startswith("rolle-")
    ]


def make_world(n: int = 1):
    today = timezone.localdate()
    quarter = default_quarter(today)
    for i in range(n):
        AccessApplication.objects.create(
            reference=f"ZA-T{i:04d}-{n}",
            variant=access_rules.Variant.EINZELPRAXIS.value,
            status=access_rules.Status.EINGEREICHT.value,
        )
        AccessApplication.objects.create(
            reference=f"ZA-D{i:04d}-{n}", variant=access_rules.Variant.EINZELPRAXIS.value
        )
        CredentialLetterRequest.objects.create(username=f"user{i}", bsnr="951000000")
        practice = BetriebsstaetteFactory()
        Submission.objects.create(
            betriebsstaette=practice,
            quarter=quarter.slug,
            kind="con",
            original_name="a.con",
            storage_name="x",
            size=1,
            sha256="0" * 64,
            submitted_by_name="Test",
            timing=billing_rules.Timing.LATE.value,
            state=SubmissionState.REJECTED,
        )
        CommitteeSession.objects.create(
            bezirk=BEZIRKE[0][0],
            committee=COMMITTEES[0][0],
            date=today + dt.timedelta(days=60 + 7 * i + n),
        )
    # a past session is not listed
    CommitteeSession.objects.create(
        bezirk=BEZIRKE[1][0], committee=COMMITTEES[0][0], date=today - dt.timedelta(days=n)
    )
    return quarter


@pytest.mark.django_db
def test_arztregister_sees_only_its_counts(staff_client):
    make_world(2)
    client, _ = staff_client("Arztregister")
    response = client.get(reverse("core:home"))
    assert response.status_code == 200
    assert sections(response) == ["rolle-Arztregister"]
    found = counts(response)
    assert found["access_submitted"] == "2"  # drafts are not counted
    assert found["selfservice_letter_requests"] == "2"
    assert found["kim_smcb_orders"] == "0"
    assert not any(k.startswith(("billing_", "admission_")) for k in found)
    links = [a.attrs.get("href") for a in main(response.content).find_all("a")]
    assert f"{reverse('access:staff_queue')}?status=eingereicht" in links


@pytest.mark.django_db
def test_abrechnung_sees_billing_counts_and_the_current_deadline(staff_client):
    quarter = make_world(1)
    client, _ = staff_client("Abrechnung")
    response = client.get(reverse("core:home"))
    assert sections(response) == ["rolle-Abrechnung"]
    found = counts(response)
    assert found["billing_rejected"] == "1"
    assert found["billing_late"] == "1"
    # the practice with only a rejected file has no current submission
    assert found["billing_missing"] == "1"
    assert not any(k.startswith(("access_", "admission_", "kim_", "selfservice_")) for k in found)
    # the next deadline: the first regular window (…–15th of the following month) not yet over
    today = timezone.localdate()
    candidates = [quarter, quarter.next(), quarter.next().next()]
    window = next(w for w in map(billing_rules.default_window, candidates) if w.ends >= today)
    shown = deadlines(response)["billing_deadline"]
    assert f"{window.starts:%d.%m.%Y} bis {window.ends:%d.%m.%Y}" in shown
    assert str(window.quarter) in shown
    links = [a.attrs.get("href") for a in main(response.content).find_all("a")]
    assert f"{reverse('billing:missing')}?quartal={quarter.slug}" in links


@pytest.mark.django_db
def test_zulassung_sees_next_sessions_with_deadline(staff_client):
    make_world(1)
    client, office = staff_client("Zulassung")
    practice = BetriebsstaetteFactory()
    for state in ("vollstaendig", "vollstaendig", "nachforderung", "entwurf", "rechtskraeftig"):
        Application.objects.create(
            type_code="erhoehung_arzt",
            betriebsstaette=practice,
            committee="aerzte",
            created_by=office,
            state=state,
        )
    response = client.get(reverse("core:home"))
    assert sections(response) == ["rolle-Zulassung"]
    per_state = counts(response)
    # the office inbox states; drafts and final (rechtskräftig) applications are not open work
    assert per_state["admission_vollstaendig"] == "2"
    assert per_state["admission_nachforderung"] == "1"
    assert "admission_entwurf" not in per_state and "admission_rechtskraeftig" not in per_state
    found = deadlines(response)
    upcoming = CommitteeSession.objects.get(date__gte=timezone.localdate())
    # Annahmeschluss by default six weeks before the session
    expected = upcoming.date - dt.timedelta(weeks=6)
    assert f"{expected:%d.%m.%Y}" in found[f"admission_session_{upcoming.pk}"]
    assert len([k for k in found if k.startswith("admission_session_")]) == 1
    assert not any(k.startswith(("billing_", "access_")) for k in counts(response))


@pytest.mark.django_db
def test_several_roles_see_several_sections(staff_client):
    make_world(1)
    client, _ = staff_client("Arztregister", "Abrechnung", "Zulassung")
    response = client.get(reverse("core:home"))
    assert sections(response) == ["rolle-Arztregister", "rolle-Abrechnung", "rolle-Zulassung"]


@pytest.mark.django_db
def test_query_count_does_not_grow_with_the_data(staff_client):
    client, _ = staff_client("Arztregister", "Abrechnung", "Zulassung")
    make_world(1)
    client.get(reverse("core:home"))  # warm-up (session, sites …)
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("core:home"))
    make_world(4)
    with CaptureQueriesContext(connection) as large:
        client.get(reverse("core:home"))
    assert len(large) == len(small)

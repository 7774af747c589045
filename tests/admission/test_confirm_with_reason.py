"""Issue 14: destructive decisions on an admission application are confirmed with a reason —
the member's withdrawal, the office's rejection (Beschluss „abgelehnt“) and the deletion of a
session. GET shows the confirmation step; a POST without a reason changes nothing and names
the field in German; with a reason the state changes and the reason is audited, shown in the
history and (rejection) sent to the applicant."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from kvportal.admission import services
from kvportal.admission.models import CommitteeSession
from kvportal.audit.models import AccessLogEntry, Activity
from tests.admission.test_admission_services import received

pytestmark = pytest.mark.django_db

CONFIRMED = {"confirmed": "on"}


def _page(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def _scheduled(draft, world, office):
    application = received(draft, world)
    services.request_fee(actor=office, application=application, deadline=dt.date(2026, 12, 14))
    services.book_payment(actor=office, application=application, paid_on=dt.date(2026, 11, 23))
    services.schedule(actor=office, application=application, session=world.sessions[0])
    application.refresh_from_db()
    assert application.state == "terminiert"
    return application


# --- member: „Antrag zurücknehmen“ ---------------------------------------------------------------


def test_withdrawal_is_confirmed_with_a_reason(draft, world, member_client):
    application = received(draft, world)
    client = member_client(world.leiterin)
    detail = _page(client.get(reverse("admission:detail", args=[application.pk])))
    url = reverse("admission:withdraw", args=[application.pk])
    assert f'href="{url}"' in detail  # a link to the confirmation step, no one-click POST

    page = _page(client.get(url))
    assert 'id="confirm-step"' in page and "Folgen dieser Entscheidung" in page
    assert "kann danach nicht mehr geändert" in page

    page = _page(client.post(url, {"reason": "   ", **CONFIRMED}))
    assert "Bitte geben Sie eine Begründung an." in page
    assert 'id="id_reason_error"' in page  # the error is tied to the field
    application.refresh_from_db()
    assert application.state == "vollstaendig"
    assert not application.history.filter(event="withdraw").exists()

    page = _page(client.post(url, {"reason": "Die Praxis gibt den Sitz ab."}))
    assert "Bitte bestätigen Sie, dass Sie fortfahren möchten." in page
    application.refresh_from_db()
    assert application.state == "vollstaendig"

    response = client.post(url, {"reason": "Die Praxis gibt den Sitz ab.", **CONFIRMED})
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.state == "zurueckgenommen"
    entry = application.history.get(event="withdraw")
    assert entry.reason == "Die Praxis gibt den Sitz ab."
    log = AccessLogEntry.objects.get(
        object_id=str(application.pk), activity=Activity.UPDATE, detail__event="withdraw"
    )
    assert log.detail["reason"] == "Die Praxis gibt den Sitz ab."
    detail = _page(client.get(reverse("admission:detail", args=[application.pk])))
    assert 'id="history"' in detail
    assert "Begründung: Die Praxis gibt den Sitz ab." in detail
    # once withdrawn, the step is not offered again
    assert f'href="{url}"' not in detail
    assert client.get(url).status_code == 302


def test_withdrawal_only_by_who_may_edit(draft, world, member_client):
    application = received(draft, world)
    client = member_client(world.employee_user)  # a signatory, not the applicant
    url = reverse("admission:withdraw", args=[application.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": "x", **CONFIRMED}).status_code == 404
    application.refresh_from_db()
    assert application.state == "vollstaendig"


# --- office: rejection (Beschluss „abgelehnt“) -----------------------------------------------


def test_rejection_is_confirmed_with_its_reasons(
    draft, world, staff_client, mailoutbox, django_capture_on_commit_callbacks
):
    client, office = staff_client("Zulassung")
    application = _scheduled(draft, world, office)
    detail_url = reverse("admission:staff_detail", args=[application.pk])
    url = reverse("admission:staff_action", args=[application.pk, "ablehnen"])
    assert f'href="{url}"' in _page(client.get(detail_url))

    page = _page(client.get(url))
    assert 'id="confirm-step"' in page and "Gründe des Beschlusses" in page

    # the decision form's „abgelehnt“ leads to the same step, with the reasons entered
    page = _page(
        client.post(
            reverse("admission:staff_action", args=[application.pk, "beschluss"]),
            {"outcome": "abgelehnt", "reasons": "Kein Versorgungsbedarf."},
        )
    )
    assert 'id="confirm-step"' in page and "Kein Versorgungsbedarf." in page
    application.refresh_from_db()
    assert application.state == "terminiert"

    page = _page(client.post(url, {"reason": "", **CONFIRMED}))
    assert "Bitte geben Sie eine Begründung an." in page and 'id="id_reason_error"' in page
    application.refresh_from_db()
    assert application.state == "terminiert" and not application.decision_reasons

    reasons = "Kein Versorgungsbedarf.\nDie Stelle ist nicht ausgeschrieben."
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"reason": reasons, **CONFIRMED})
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.state == "abgelehnt" and application.outcome == "abgelehnt"
    assert application.decision_reasons == reasons  # paragraphs kept for the Beschluss
    assert application.history.get(event="reject").reason == reasons
    log = AccessLogEntry.objects.get(object_id=str(application.pk), activity=Activity.DECISION)
    assert log.detail == {"outcome": "abgelehnt", "reason": reasons}
    staff_page = _page(client.get(detail_url))
    assert "Begründung: Kein Versorgungsbedarf." in staff_page
    assert [m.subject for m in mailoutbox] == [f"Beschluss zu Antrag {application.reference}"]
    assert "abgelehnt" in mailoutbox[0].body and "Kein Versorgungsbedarf." in mailoutbox[0].body


def test_member_sees_the_rejection_reason_in_the_history(draft, world, member_client):
    from kvportal.accounts.constants import StaffRole
    from tests.factories import kv_staff

    office = kv_staff(StaffRole.ZULASSUNG, username="kv.zulassung2")
    application = _scheduled(draft, world, office)
    services.decide(
        actor=office, application=application, outcome="abgelehnt", reasons="Stelle fehlt."
    )
    client = member_client(world.leiterin)
    page = _page(client.get(reverse("admission:detail", args=[application.pk])))
    assert "Begründung: Stelle fehlt." in page
    assert "Geschäftsstelle" in page and office.username not in page


def test_approval_needs_no_confirmation_step(draft, world, staff_client):
    client, office = staff_client("Zulassung")
    application = _scheduled(draft, world, office)
    client.post(
        reverse("admission:staff_action", args=[application.pk, "beschluss"]),
        {"outcome": "genehmigt", "reasons": ""},
    )
    application.refresh_from_db()
    assert application.state == "genehmigt"
    assert not application.history.get(event="approve").reason
    # a decided application cannot be rejected any more
    response = client.get(reverse("admission:staff_action", args=[application.pk, "ablehnen"]))
    assert response.status_code == 302


def test_other_office_actions_stay_post_only(draft, world, staff_client):
    client, _office = staff_client("Zulassung")
    application = received(draft, world)
    url = reverse("admission:staff_action", args=[application.pk, "gebuehr"])
    assert client.get(url).status_code == 405


# --- office: deleting a session ------------------------------------------------------------------


def test_session_deletion_is_confirmed_with_a_reason(world, staff_client):
    client, _office = staff_client("Zulassung")
    session = world.sessions[2]
    url = reverse("admission:session_delete", args=[session.pk])
    assert f'href="{url}"' in _page(
        client.get(reverse("admission:session_detail", args=[session.pk]))
    )
    assert 'id="confirm-step"' in _page(client.get(url))
    page = _page(client.post(url, {"reason": "", **CONFIRMED}))
    assert "Bitte geben Sie eine Begründung an." in page
    assert CommitteeSession.objects.filter(pk=session.pk).exists()
    assert client.post(url, {"reason": "Doppelt angelegt.", **CONFIRMED}).status_code == 302
    assert not CommitteeSession.objects.filter(pk=session.pk).exists()
    log = AccessLogEntry.objects.get(activity=Activity.DELETE, object_id=str(session.pk))
    assert log.detail["reason"] == "Doppelt angelegt."

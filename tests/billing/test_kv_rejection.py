"""Issue 14: the KV's rejection of a submission („Prüfung durch die KV: von der KV
zurückgewiesen“) is a destructive decision — the shared confirmation step (consequence,
reason, explicit confirmation); without a reason nothing changes; the reason is the note the
practice sees and is in the audit event. Accepting stays one step."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from kvportal.audit.models import AccessLogEntry
from kvportal.billing import services
from kvportal.billing.models import KvResult
from tests.billing.conftest import kvdt_file

pytestmark = pytest.mark.django_db

CONFIRMED = {"confirmed": "on"}


def _kv_logs(submission):
    return AccessLogEntry.objects.filter(
        object_type="billing.submission",
        object_id=str(submission.pk),
        detail__event="billing.kv_result",
    )


def test_rejection_is_confirmed_with_a_reason(staff_client, employed, practice, submit_file):
    submission = submit_file(employed, practice, kvdt_file(practice.bsnr, seed=1))
    client, _staff = staff_client("Abrechnung")
    url = f"/abrechnung/kv/einreichung/{submission.pk}/"
    step = f"{url}?schritt=zurueckweisen"
    assert 'href="?schritt=zurueckweisen"' in client.get(url).content.decode()

    page = client.get(step)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="confirm-step"' in text and "Die Praxis muss eine korrigierte Datei" in text
    assert f'action="{step}"' in text

    # choosing „zurückgewiesen“ in the result form shows the step with the note entered
    page = client.post(url, {"result": "rejected", "note": "Falsche BSNR im Kopf."})
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="confirm-step"' in text and "Falsche BSNR im Kopf.</textarea>" in text
    submission.refresh_from_db()
    assert submission.kv_result == "" and not _kv_logs(submission).exists()

    page = client.post(step, {**CONFIRMED, "reason": " "})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Bitte geben Sie eine Begründung an." in text and 'id="id_reason_error"' in text
    page = client.post(step, {"reason": "Falsche BSNR im Kopf."})
    assert "Bitte bestätigen Sie, dass Sie fortfahren möchten." in page.content.decode()
    submission.refresh_from_db()
    assert submission.kv_result == "" and not _kv_logs(submission).exists()

    response = client.post(step, {**CONFIRMED, "reason": "Falsche BSNR im Kopf."})
    assert response.status_code == 302
    submission.refresh_from_db()
    assert submission.kv_result == KvResult.REJECTED
    assert submission.kv_note == "Falsche BSNR im Kopf."
    assert _kv_logs(submission).get().detail == {
        "event": "billing.kv_result",
        "result": "rejected",
        "reason": "Falsche BSNR im Kopf.",
    }
    member = Client()
    member.force_login(employed)
    detail = member.get(f"/abrechnung/einreichung/{submission.pk}/").content.decode()
    assert "von der KV zurückgewiesen – Falsche BSNR im Kopf." in detail
    # the step of an earlier rejection starts with its reason
    assert "Falsche BSNR im Kopf.</textarea>" in client.get(step).content.decode()


def test_acceptance_stays_one_step(staff_client, employed, practice, submit_file):
    submission = submit_file(employed, practice, kvdt_file(practice.bsnr, seed=1))
    client, _staff = staff_client("Abrechnung")
    url = f"/abrechnung/kv/einreichung/{submission.pk}/"
    response = client.post(url, {"result": "accepted", "note": ""})
    assert response.status_code == 302
    submission.refresh_from_db()
    assert submission.kv_result == KvResult.ACCEPTED
    assert _kv_logs(submission).get().detail == {"event": "billing.kv_result", "result": "accepted"}


def test_service_refuses_a_rejection_without_reason(staff_client, employed, practice, submit_file):
    submission = submit_file(employed, practice, kvdt_file(practice.bsnr, seed=1))
    _client, staff = staff_client("Abrechnung")
    with pytest.raises(ValidationError) as exc:
        services.set_kv_result(
            actor=staff, submission=submission, result=KvResult.REJECTED, note="  "
        )
    assert exc.value.message_dict == {"reason": ["Bitte geben Sie den Grund der Zurückweisung an."]}
    submission.refresh_from_db()
    assert submission.kv_result == "" and not _kv_logs(submission).exists()


def test_members_cannot_reach_the_rejection(member_client, employed, practice, submit_file):
    submission = submit_file(employed, practice, kvdt_file(practice.bsnr, seed=1))
    client = member_client(employed)
    response = client.post(
        f"/abrechnung/kv/einreichung/{submission.pk}/?schritt=zurueckweisen",
        {**CONFIRMED, "reason": "x"},
    )
    assert response.status_code in (302, 403, 404)
    submission.refresh_from_db()
    assert submission.kv_result == ""

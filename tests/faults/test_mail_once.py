"""Issue 11: access and admission mails are sent once per logical message — a job that runs
twice sends once, a job whose first attempt hits an SMTP error is retried (outbox) and sends
once."""

from __future__ import annotations

import datetime as dt
import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend

from kvportal.access import services, tasks
from kvportal.access.models import Confirmation
from kvportal.core.models import OutboxJob
from kvportal.core.tasks import deliver_mail, run_job, send_mail_once
from tests.access.helpers import codes_by_email, draft, mvz_world

pytestmark = pytest.mark.django_db
FAILS = {"left": 0}


class FailOnceBackend(EmailBackend):
    """locmem backend whose next FAILS["left"] sends raise an SMTP error."""

    def send_messages(self, messages):
        if FAILS["left"] > 0:
            FAILS["left"] -= 1
            raise smtplib.SMTPServerDisconnected("Verbindung unterbrochen")
        return super().send_messages(messages)


@pytest.fixture
def failing_once(settings):
    settings.EMAIL_BACKEND = "tests.faults.test_mail_once.FailOnceBackend"
    FAILS["left"] = 1
    yield
    FAILS["left"] = 0


@pytest.fixture
def submitted(django_capture_on_commit_callbacks):
    practice, leiter, arzt = mvz_world()
    app = draft(practice, leiter, arzt)
    with django_capture_on_commit_callbacks(execute=True):
        services.submit(actor=None, application=app)
    app.refresh_from_db()
    return app


def _requests(outbox) -> list:
    return [m for m in outbox if m.subject.startswith("Bitte bestätigen")]


def test_confirmation_request_job_run_twice_mails_once_and_the_code_still_works(submitted):
    conf = Confirmation.objects.filter(application=submitted).first()
    before = len(_requests(mail.outbox))
    assert before == submitted.confirmations.count() > 0
    assert tasks.send_confirmation_request(conf.pk) is False  # the re-run is skipped
    assert len(_requests(mail.outbox)) == before
    # the stored code is still the one that was mailed
    token, code = codes_by_email()[conf.person.email.lower()]
    services.confirm_with_code(
        actor=None, confirmation=services.find_confirmation(token), code=code
    )
    conf.refresh_from_db()
    assert conf.confirmed_at is not None


def test_confirmation_request_retried_after_smtp_error_mails_once(
    submitted, failing_once, django_capture_on_commit_callbacks
):
    conf = Confirmation.objects.filter(application=submitted).first()
    conf.expires_at -= dt.timedelta(minutes=5)  # past the resend pause
    if conf.code_sent_at:
        conf.code_sent_at -= dt.timedelta(minutes=5)
    conf.save(update_fields=["expires_at", "code_sent_at"])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.resend_confirmation(actor=None, confirmation=conf)  # SMTP error: logged
    assert mail.outbox == [] and FAILS["left"] == 0
    job = OutboxJob.objects.get(
        task__endswith="send_confirmation_request", state=OutboxJob.State.PENDING
    )
    assert job.attempts == 1 and job.last_error == "SMTPServerDisconnected"
    assert tasks.send_confirmation_request(conf.pk) is True  # the retry sends
    assert len(mail.outbox) == 1
    assert tasks.send_confirmation_request(conf.pk) is False
    assert len(mail.outbox) == 1
    token, code = codes_by_email()[conf.person.email.lower()]
    services.confirm_with_code(
        actor=None, confirmation=services.find_confirmation(token), code=code
    )


def test_status_mail_job_run_twice_mails_once(submitted):
    status_mails = [m for m in mail.outbox if "Online-Zugang:" in m.subject]
    assert len(status_mails) == 1  # "Wartet auf Bestätigungen"
    assert tasks.notify_status(submitted.pk, submitted.status) is False
    assert len([m for m in mail.outbox if "Online-Zugang:" in m.subject]) == 1


def test_status_mail_retried_after_smtp_error_mails_once(
    submitted, failing_once, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.withdraw(actor=None, application=submitted)  # SMTP error: logged
    submitted.refresh_from_db()
    assert mail.outbox == [] and FAILS["left"] == 0
    assert tasks.notify_status(submitted.pk, submitted.status) is True  # the retry
    assert [m.subject for m in mail.outbox] == [
        f"Ihr Antrag {submitted.reference} auf Online-Zugang: Zurückgezogen"
    ]
    tasks.notify_status(submitted.pk, submitted.status)
    assert len(mail.outbox) == 1


def test_draft_link_mailed_once_even_after_smtp_error(
    failing_once, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        app, token = services.create_application(
            actor=None, variant="mvz", contact_email="kontakt@mvz.example"
        )
    assert FAILS["left"] == 0 and mail.outbox == []  # failed, logged, not raised
    job = OutboxJob.objects.get(key=f"mail:access.draft_link:{app.pk}")
    assert job.state == OutboxJob.State.PENDING and token not in job.payload
    OutboxJob.objects.filter(pk=job.pk).update(next_attempt_at=job.created_at)  # back-off over
    assert run_job(job.pk) == "done"  # the retry
    assert run_job(job.pk) == "skipped"  # a re-run
    key = f"access.draft_link:{app.pk}"
    assert not deliver_mail(key, payload={"subject": "x", "body": "y", "recipients": ["a@b.c"]})
    assert len(mail.outbox) == 1 and token in mail.outbox[0].body


def test_admission_style_mail_job_twice_and_after_smtp_error_sends_once(failing_once):
    args = ("admission.code:1:2026-01-01:1", "Betreff", "Text", ["a@praxis.example"])
    with pytest.raises(OSError):
        send_mail_once(*args)  # first attempt: SMTP error
    assert mail.outbox == []
    assert send_mail_once(*args) is True  # the retry
    assert send_mail_once(*args) is False  # the job delivered twice
    assert len(mail.outbox) == 1 and FAILS["left"] == 0

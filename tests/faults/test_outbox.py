"""Issue 11: background jobs without a broker survive a failing mail server and a crashed
process (durable outbox `core.OutboxJob`): retried with back-off (30 s … 1 h), taken up again
after the lease of a dead run expired, sent exactly once, given up after N attempts with an
audit event; one-time codes and link tokens are never stored in plain text."""

from __future__ import annotations

import datetime as dt
import re
import smtplib

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone

from kvportal.access import services as access_services
from kvportal.access.models import Confirmation
from kvportal.audit.models import AccessLogEntry
from kvportal.core import registry
from kvportal.core.models import Delivery, OutboxJob
from kvportal.core.tasks import (
    enqueue_job,
    enqueue_mail,
    outbox_backoff,
    outbox_lease_seconds,
    recover_outbox,
    run_job,
)
from tests.access.helpers import codes_by_email, draft, mvz_world

pytestmark = pytest.mark.django_db
DOWN = {"left": 0}


class FlakySmtpBackend(EmailBackend):
    """locmem backend whose next DOWN["left"] sends fail as if the SMTP server were down."""

    def send_messages(self, messages):
        if DOWN["left"] > 0:
            DOWN["left"] -= 1
            raise smtplib.SMTPConnectError(421, "Dienst nicht verfügbar")
        return super().send_messages(messages)


@pytest.fixture
def smtp_down(settings):
    """`smtp_down(n)`: the next n sends fail."""
    settings.EMAIL_BACKEND = "tests.faults.test_outbox.FlakySmtpBackend"

    def fail(n: int) -> None:
        DOWN["left"] = n

    yield fail
    DOWN["left"] = 0


@pytest.fixture
def frozen():
    """Freeze the clock the test runs under (also under faketime), then build from it."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def status_mails() -> list:
    return [m for m in mail.outbox if "auf Online-Zugang:" in m.subject]


def fresh_draft():
    """An access application draft; its draft-link mail job is not part of these tests."""
    practice, leiter, arzt = mvz_world()
    app = draft(practice, leiter, arzt)
    OutboxJob.objects.all().delete()
    mail.outbox.clear()
    return app


def test_the_recoverer_is_registered():
    assert "outbox" in registry._recoverers


def test_backoff_from_30_seconds_to_one_hour():
    waits = [outbox_backoff(n).total_seconds() for n in range(1, 10)]
    assert waits[0] == 30 and waits[1] == 60 and waits[2] == 120
    assert waits == sorted(waits) and waits[-1] == 3600
    assert max(waits) == 3600


def test_smtp_down_first_then_sent_exactly_once_without_broker(
    frozen, smtp_down, django_capture_on_commit_callbacks
):
    app = fresh_draft()
    smtp_down(100)  # the mail server is down for every mail of the submission
    with django_capture_on_commit_callbacks(execute=True):
        access_services.submit(actor=None, application=app)  # no exception for the applicant
    assert mail.outbox == []
    jobs = list(OutboxJob.objects.filter(state=OutboxJob.State.PENDING))
    assert len(jobs) >= 2 and all(j.attempts == 1 for j in jobs)
    assert all(j.last_error == "SMTPConnectError" for j in jobs)
    smtp_down(0)  # the server is back
    frozen.shift(dt.timedelta(seconds=20))
    assert recover_outbox(now=timezone.now()) == 0  # back-off (30 s) not over yet
    assert mail.outbox == []
    frozen.shift(dt.timedelta(seconds=11))
    assert recover_outbox(now=timezone.now()) == len(jobs)
    confirmations = app.confirmations.count()
    requests = [m for m in mail.outbox if m.subject.startswith("Bitte bestätigen")]
    assert len(requests) == confirmations and len(status_mails()) == 1
    # a second recovery, a re-run of each job: nothing is sent twice
    frozen.shift(dt.timedelta(hours=2))
    assert recover_outbox(now=timezone.now()) == 0
    for job in OutboxJob.objects.all():
        assert run_job(job.pk) == "skipped"
    assert len(mail.outbox) == confirmations + 1
    assert set(OutboxJob.objects.values_list("state", flat=True)) == {OutboxJob.State.DONE}
    # the mailed code is the one that works
    conf = Confirmation.objects.filter(application=app).first()
    token, code = codes_by_email()[conf.person.email.lower()]
    access_services.confirm_with_code(
        actor=None, confirmation=access_services.find_confirmation(token), code=code
    )
    conf.refresh_from_db()
    assert conf.confirmed_at is not None


def test_crash_after_commit_before_the_job_ran_is_recovered(
    frozen, django_capture_on_commit_callbacks
):
    """The process dies right after the commit: the on-commit run never happens."""
    app = fresh_draft()
    with django_capture_on_commit_callbacks(execute=False):
        access_services.submit(actor=None, application=app)
    assert mail.outbox == [] and OutboxJob.objects.filter(attempts=0).count() >= 2
    frozen.shift(dt.timedelta(seconds=11))
    assert recover_outbox(now=timezone.now()) >= 2  # "at process start"
    assert len(status_mails()) == 1
    assert recover_outbox(now=timezone.now()) == 0


def test_crash_mid_job_is_taken_up_after_the_lease_and_sent_once(frozen, smtp_down):
    """A run took the lease and died (kill -9) before it finished: no other run starts while
    the lease holds; after it ran out the recoverer runs the job, once."""
    enqueue_mail("test.crash:1", "Betreff", "Inhalt", ["praxis@example.org"])
    job = OutboxJob.objects.get(key="mail:test.crash:1")
    # the dead run: lease taken, attempt counted, nothing sent
    OutboxJob.objects.filter(pk=job.pk).update(
        attempts=1, lease_token="dead", lease_until=timezone.now() + dt.timedelta(seconds=300)
    )
    frozen.shift(dt.timedelta(seconds=outbox_lease_seconds() - 5))
    assert recover_outbox(now=timezone.now()) == 0
    assert run_job(job.pk) == "skipped"  # a second delivery while the lease holds
    assert mail.outbox == []
    frozen.shift(dt.timedelta(seconds=10))
    assert recover_outbox(now=timezone.now()) == 1
    assert [m.subject for m in mail.outbox] == ["Betreff"]
    job.refresh_from_db()
    assert job.state == OutboxJob.State.DONE and job.attempts == 2 and job.payload == ""
    assert run_job(job.pk) == "skipped" and len(mail.outbox) == 1


def test_crash_after_send_before_done_does_not_send_twice(frozen):
    """Died after the mail went out but before the job was marked done: the delivery marker
    (written with the send) keeps the re-run from mailing again."""
    enqueue_mail("test.sent:1", "Betreff", "Inhalt", ["praxis@example.org"])
    job = OutboxJob.objects.get(key="mail:test.sent:1")
    assert run_job(job.pk) == "done"
    # as if the "done" update had been lost with the process
    OutboxJob.objects.filter(pk=job.pk).update(state=OutboxJob.State.PENDING, payload=job.payload)
    assert run_job(job.pk) == "done"
    assert len(mail.outbox) == 1


def test_codes_and_tokens_are_never_stored_in_plain_text(
    frozen, smtp_down, django_capture_on_commit_callbacks
):
    code, token = "482915", "Xy7-link-token-very-secret"
    body = f"Ihr Einmalcode lautet: {code}\nLink: https://portal.example/b/{token}/"
    smtp_down(1)
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_mail("admission.code:9:x:1", "Ihr Bestätigungscode", body, ["arzt@example.org"])
    job = OutboxJob.objects.get(key="mail:admission.code:9:x:1")
    assert job.state == OutboxJob.State.PENDING  # the first send failed: it waits for retry
    stored = " ".join(
        str(v) for row in OutboxJob.objects.values() for v in row.values()
    ) + " ".join(Delivery.objects.values_list("key", flat=True))
    assert code not in stored and token not in stored and "arzt@example.org" not in stored
    frozen.shift(dt.timedelta(seconds=31))
    recover_outbox(now=timezone.now())
    assert len(mail.outbox) == 1 and code in mail.outbox[0].body
    job.refresh_from_db()
    assert job.payload == ""  # deleted after the send

    # access confirmation requests store only ids: the code is made when the mail is sent
    app = fresh_draft()
    with django_capture_on_commit_callbacks(execute=True):
        access_services.submit(actor=None, application=app)
    codes = [c for _t, c in codes_by_email().values()]
    assert codes
    jobs = OutboxJob.objects.filter(task__endswith="send_confirmation_request")
    assert jobs.exists() and all(j.payload == "" for j in jobs)
    assert all(all(isinstance(a, int) for a in j.args) for j in jobs)
    dump = " ".join(str(v) for row in OutboxJob.objects.values() for v in row.values())
    assert not any(re.search(rf"\b{c}\b", dump) for c in codes)


def test_given_up_after_max_attempts_with_an_audit_event(frozen, smtp_down, settings):
    settings.KVPORTAL_OUTBOX_MAX_ATTEMPTS = 3
    smtp_down(100)
    enqueue_mail("test.dead:1", "Betreff", "Inhalt", ["praxis@example.org"])
    job = OutboxJob.objects.get(key="mail:test.dead:1")
    results = []
    for _ in range(5):
        results.append(run_job(job.pk))
        frozen.shift(dt.timedelta(hours=1, seconds=1))
    assert results == ["retry", "retry", "failed", "skipped", "skipped"]
    job.refresh_from_db()
    assert job.state == OutboxJob.State.FAILED and job.attempts == 3 and job.payload == ""
    events = [
        e
        for e in AccessLogEntry.objects.filter(object_type="core.outboxjob")
        if (e.detail or {}).get("event") == "outbox.gave_up"
    ]
    assert len(events) == 1 and events[0].detail["attempts"] == 3
    assert events[0].detail["error"] == "SMTPConnectError"
    assert recover_outbox(now=timezone.now()) == 0


def test_same_key_is_one_job_and_runs_only_after_commit(frozen, django_capture_on_commit_callbacks):
    calls_before = len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        enqueue_mail("test.key:1", "Betreff", "Inhalt", ["praxis@example.org"])
        enqueue_mail("test.key:1", "Betreff", "Inhalt", ["praxis@example.org"])
        assert len(mail.outbox) == calls_before  # nothing before the commit
    assert OutboxJob.objects.filter(key="mail:test.key:1").count() == 1
    assert len(callbacks) == 1


def test_jobs_take_plain_ids():
    from kvportal.documents.tasks import send_document_notices_task

    job = enqueue_job(send_document_notices_task, [3, 1])
    assert job.task == "kvportal.documents.tasks.send_document_notices_task"
    assert job.args == [[3, 1]] and job.payload == ""


def test_finished_jobs_are_purged_after_a_month_and_still_never_resent(frozen):
    from kvportal.core.tasks import purge_outbox

    assert "outbox" in registry.purgers()
    enqueue_mail("test.purge:1", "Betreff", "Inhalt", ["praxis@example.org"])
    job = OutboxJob.objects.get(key="mail:test.purge:1")
    assert run_job(job.pk) == "done"
    frozen.shift(dt.timedelta(days=30))
    assert purge_outbox(now=timezone.now()).count == 0
    frozen.shift(dt.timedelta(days=2))
    assert purge_outbox(now=timezone.now(), dry_run=True).count == 1
    assert purge_outbox(now=timezone.now()).count == 1
    assert not OutboxJob.objects.filter(pk=job.pk).exists()
    # the same logical mail queued again: the delivery marker still holds
    enqueue_mail("test.purge:1", "Betreff", "Inhalt", ["praxis@example.org"])
    again = OutboxJob.objects.get(key="mail:test.purge:1")
    assert run_job(again.pk) == "done" and len(mail.outbox) == 1

"""Run by the fault tests in a child process: `python -m tests.faults.helper create [N]`
stores a generated KVDT file for a new synthetic practice and prints the submission id.
With a broker the check is queued; without one the submission waits for the recovery.
`mail KEY` queues one outbox mail (its first send runs right after the commit);
`die-in-mail KEY` queues one and is killed (SIGKILL) inside the job, holding its lease."""

from __future__ import annotations

import datetime as dt
import sys

import django


def create(cases: int) -> int:
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from kvportal.billing.models import Submission, SubmissionState
    from kvportal.billing.services import lease_seconds
    from kvportal.core.quarters import Quarter
    from kvportal.core.storage import private_storage
    from kvportal.kvdt import generate
    from kvportal.members.models import Betriebsstaette
    from tests.factories import BetriebsstaetteFactory

    practice = Betriebsstaette.objects.order_by("pk").first() or BetriebsstaetteFactory()
    quarter = Quarter.of(timezone.localdate()).previous()
    content = generate(cases, seed=7, quarter=quarter, bsnr=practice.bsnr)
    name = private_storage.save(f"billing/{practice.bsnr}/faults.con", ContentFile(content))
    broker = bool(__import__("django.conf").conf.settings.CELERY_BROKER_URL)
    # without a broker the upload request "died" before its check: received a lease ago
    received = timezone.now() - dt.timedelta(seconds=0 if broker else lease_seconds() + 1)
    submission = Submission.objects.create(
        betriebsstaette=practice,
        quarter=quarter.slug,
        kind="con",
        original_name="Z01.con",
        storage_name=name,
        size=len(content),
        sha256="0" * 64,
        received_at=received,
        submitted_by_name="Fault Test",
        timing="on_time",
        state=SubmissionState.PENDING,
    )
    if broker:
        from kvportal.billing.tasks import check_submission

        check_submission.delay(submission.pk)
    return submission.pk


def mail(key: str) -> int:
    from django.db import transaction

    from kvportal.core.models import OutboxJob
    from kvportal.core.tasks import enqueue_mail

    with transaction.atomic():
        enqueue_mail(key, "Fehlertest", "Synthetischer Inhalt", ["praxis@example.org"])
    return OutboxJob.objects.get(key=f"mail:{key}").pk


def die_in_mail(key: str) -> None:
    import os
    import signal
    from unittest import mock

    from kvportal.core import tasks

    def killed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)  # kill -9 in the middle of the job

    with mock.patch.object(tasks, "deliver_once", killed):
        mail(key)


if __name__ == "__main__":
    django.setup()
    if sys.argv[1] == "create":
        print(create(int(sys.argv[2]) if len(sys.argv) > 2 else 2000))
    elif sys.argv[1] == "mail":
        print(mail(sys.argv[2]))
    elif sys.argv[1] == "die-in-mail":
        die_in_mail(sys.argv[2])

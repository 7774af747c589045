# Seed 001 / issue 12 item 5: Testabrechnung only with the billing right; test files hold
# patient data and are deleted after a short time (BILLING_TEST_RUN_HOURS, default 24 h).
"""Testabrechnung: upload a plain `.con` any time in the quarter, check it like a submission,
compare its protocol with the previous run for the BSNR and quarter; no submission is made."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kvportal import audit
from kvportal.accounts import scope
from kvportal.accounts.constants import Right
from kvportal.audit.models import Activity
from kvportal.billing import rules
from kvportal.billing.comparison import compare
from kvportal.billing.models import TestRun
from kvportal.billing.rules import FileKind, Problem
from kvportal.billing.services import Refused, _report_dict, _sha256_and_size, max_upload_bytes
from kvportal.core.quarters import Quarter
from kvportal.core.registry import PurgeResult
from kvportal.core.storage import private_storage
from kvportal.members.models import Betriebsstaette


def keep_hours() -> int:
    return int(getattr(settings, "BILLING_TEST_RUN_HOURS", 24))


def receive_test_run(
    *,
    actor: Any,
    betriebsstaette: Betriebsstaette,
    quarter: Quarter,
    upload: IO[bytes],
    filename: str,
) -> TestRun:
    """Refused (German reasons): no billing right, not a plain `.con`, empty or too large.
    No window, no duplicate check: test runs are unlimited."""
    if not scope.has_right(actor, betriebsstaette, Right.BILLING):
        raise Refused([Problem("no_right", {"bsnr": betriebsstaette.bsnr})])
    name = rules.clean_filename(filename)
    problems = rules.filename_problems(name, chosen_bsnr=betriebsstaette.bsnr)
    if not problems and rules.parse_filename(name).kind is not FileKind.PLAIN:
        problems = [Problem("test_run_plain_only", {"name": name})]
    if problems:
        raise Refused(problems)
    _sha, size = _sha256_and_size(upload)
    problems = rules.size_problems(size, max_upload_bytes())
    if problems:
        raise Refused(problems)
    upload.seek(0)
    stored = private_storage.save(
        f"billing-test/{betriebsstaette.bsnr}/{quarter.slug}/{uuid.uuid4().hex}.con", upload
    )
    now = timezone.now()
    with transaction.atomic():
        run = TestRun.objects.create(
            betriebsstaette=betriebsstaette,
            quarter=quarter.slug,
            original_name=name[:255],
            storage_name=stored,
            size=size,
            created_at=now,
            uploaded_by=actor,
            expires_at=now + dt.timedelta(hours=keep_hours()),
        )
        audit.record(
            actor=actor,
            activity=Activity.SUBMIT,
            obj=run,
            detail={"event": "billing.test_run", "quarter": str(quarter), "size": size},
        )
        from kvportal.billing.tasks import check_test_run
        from kvportal.core.tasks import enqueue

        enqueue(check_test_run, run.pk)
    return run


def run_test_check(*, test_run_id: int) -> TestRun | None:
    """The same KVDT check as for a submission; the result is written once (conditional update
    on `state`), so a redelivered task changes nothing."""
    run = TestRun.objects.filter(pk=test_run_id).select_related("betriebsstaette").first()
    if run is None or run.state == "done" or run.purged_at is not None:
        return run
    from kvportal.kvdt import validate_file

    with private_storage.open(run.storage_name, "rb") as fileobj:
        report = validate_file(
            fileobj,
            expected_quarter=run.quarter_obj,
            expected_bsnr=run.betriebsstaette.bsnr,
            today=timezone.localdate(run.created_at),
        )
    data = _report_dict(report)
    previous = (
        TestRun.objects.filter(
            betriebsstaette_id=run.betriebsstaette_id,
            quarter=run.quarter,
            state="done",
            purged_at__isnull=True,
            created_at__lte=run.created_at,
        )
        .exclude(pk=run.pk)
        .order_by("-created_at", "-pk")
        .first()
    )
    result = compare(
        previous.report.get("messages", []) if previous else None, data.get("messages", [])
    )
    TestRun.objects.filter(pk=run.pk, state="pending").update(
        state="done",
        check_status=int(report.status),
        checked_at=timezone.now(),
        report=data,
        comparison=result,
        previous=previous,
    )
    run.refresh_from_db()
    return run


def purge_expired_test_runs(*, now: dt.datetime, dry_run: bool = False) -> PurgeResult:
    """Delete test files and protocols after their short keeping time; idempotent."""
    from kvportal.core.retention import purge_in_batches

    @transaction.atomic
    def purge_one(run: TestRun) -> None:
        name = run.storage_name
        TestRun.objects.filter(pk=run.pk).update(
            report={}, comparison={}, storage_name="", purged_at=now
        )
        if name:
            private_storage.delete(name)

    due = TestRun.objects.filter(purged_at__isnull=True, expires_at__lt=now).order_by("pk")
    return purge_in_batches(due, name="Testabrechnungen", purge_one=purge_one, dry_run=dry_run)

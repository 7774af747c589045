# Seed 001 / issue 12 item 5: Testabrechnung only with the billing right; test files hold
# patient data and are deleted after a short time (BILLING_TEST_RUN_HOURS, default 24 h).
"""Testabrechnung: upload a plain `.con` any time in the quarter, check it like a submission,
compare its protocol with the previous run for the BSNR and quarter; no submission is made."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import IO, Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from kvportal import audit
from kvportal.accounts import scope
from kvportal.accounts.constants import Right
from kvportal.audit.models import Activity
from kvportal.billing import rules
from kvportal.billing.comparison import compare
from kvportal.billing.models import TestRun
from kvportal.billing.rules import FileKind, Problem
from kvportal.billing.services import (
    Refused,
    TransientCheckError,
    _report_dict,
    _sha256_and_size,
    max_upload_bytes,
)
from kvportal.core.quarters import Quarter
from kvportal.core.registry import PurgeResult
from kvportal.core.storage import private_storage
from kvportal.members.models import Betriebsstaette

logger = logging.getLogger(__name__)


def keep_hours() -> int:
    return int(settings.BILLING_TEST_RUN_HOURS)


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


# Durability (issue 11): a check run takes the test run's lease (token + expiry, compare-and-set)
# and writes its result only while it holds it, so a killed run is taken up again by the
# recoverer "billing-test-runs" and the protocol is written exactly once.


def _claim_test_run(test_run_id: int) -> str | None:
    """Take the lease of a pending test run whose lease is free or ran out; None otherwise."""
    from django.db.models import F, Q

    from kvportal.billing.services import lease_seconds

    now = timezone.now()
    token = uuid.uuid4().hex
    claimed = (
        TestRun.objects.filter(pk=test_run_id, state="pending", purged_at__isnull=True)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(
            check_token=token,
            lease_until=now + dt.timedelta(seconds=lease_seconds()),
            check_attempts=F("check_attempts") + 1,
        )
    )
    return token if claimed else None


def _write_test_result(
    run: TestRun, token: str, *, status: int, data: dict, result: dict, previous
) -> TestRun:
    """Write the result once, only as holder of the lease, with its audit event."""
    with transaction.atomic():
        written = TestRun.objects.filter(pk=run.pk, state="pending", check_token=token).update(
            state="done",
            check_status=status,
            checked_at=timezone.now(),
            report=data,
            comparison=result,
            previous=previous,
            lease_until=None,
        )
        if written:
            from kvportal.billing import hooks

            hooks.check_done("test_run", run.pk)
            audit.record(
                actor=None,
                activity=Activity.UPDATE,
                obj=run,
                bsnr=run.betriebsstaette.bsnr,
                detail={
                    "event": "billing.test_run_checked",
                    "status": status,
                    "attempt": run.check_attempts,
                },
            )
    run.refresh_from_db()
    return run


def run_test_check(*, test_run_id: int) -> TestRun | None:
    """The same KVDT check as for a submission. Exactly once: the run takes the lease first (a
    run held by a live check is left alone), the result is written only by the lease holder,
    so a redelivered or recovered task changes nothing. A run that keeps dying is closed as
    aborted after `max_attempts()`."""
    from kvportal.billing.services import max_attempts

    run = TestRun.objects.filter(pk=test_run_id).select_related("betriebsstaette").first()
    if run is None or run.state == "done" or run.purged_at is not None:
        return run
    token = _claim_test_run(test_run_id)
    if token is None:
        return TestRun.objects.filter(pk=test_run_id).first()
    run.refresh_from_db()
    if run.check_attempts > max_attempts():
        return _write_test_result(
            run, token, status=rules.CHECK_ABORTED, data={}, result={}, previous=None
        )
    try:
        return _check_and_write(run, token)
    except (DatabaseError, OSError) as exc:
        logger.warning("billing test run %s: transient %s", run.pk, type(exc).__name__)
        _release_test_run(run.pk, token)
        raise TransientCheckError(str(run.pk)) from exc


def _release_test_run(test_run_id: int, token: str) -> None:
    """Give the lease back after a transient error, so a retry or the recovery takes it up."""
    try:
        TestRun.objects.filter(pk=test_run_id, check_token=token).update(
            lease_until=None, check_token=""
        )
    except DatabaseError:  # still down: the lease simply runs out
        logger.warning("could not release the lease of test run %s", test_run_id)


def _check_and_write(run: TestRun, token: str) -> TestRun:
    from kvportal.billing.checkdata import for_check
    from kvportal.kvdt import validate_file

    with private_storage.open(run.storage_name, "rb") as fileobj:
        report = validate_file(
            fileobj,
            expected_quarter=run.quarter_obj,
            expected_bsnr=run.betriebsstaette.bsnr,
            today=timezone.localdate(run.created_at),
            masterdata=for_check(run.quarter_obj),
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
    return _write_test_result(
        run, token, status=int(report.status), data=data, result=result, previous=previous
    )


def stalled_test_runs(*, now: dt.datetime):
    """Test runs whose check stopped: lease ran out, or never started within one lease."""
    from django.db.models import Q

    from kvportal.billing.services import lease_seconds

    grace = now - dt.timedelta(seconds=lease_seconds())
    return TestRun.objects.filter(state="pending", purged_at__isnull=True).filter(
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, created_at__lt=grace)
    )


def recover_stalled_test_runs(*, now: dt.datetime) -> int:
    """Registered recoverer "billing-test-runs": queue the check of every stalled test run
    again (idempotent: the check takes the lease, so queuing twice runs it once)."""
    from kvportal.billing.tasks import check_test_run

    ids = list(stalled_test_runs(now=now).order_by("created_at").values_list("pk", flat=True)[:100])
    for pk in ids:
        logger.info("billing test run %s stalled: started again", pk)
        check_test_run.delay(pk)
    return len(ids)


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

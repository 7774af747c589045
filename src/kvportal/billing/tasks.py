# Durable background work (issue 11): acked after the run, rejected back to the queue when the
# worker dies, retried with back-off on database/storage errors; the check is exactly-once.
"""Background check of uploaded billing files (takes IDs, idempotent, only calls a service)."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name="kvportal.billing.tasks.check_submission",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=8,
)
def check_submission(self, submission_id: int) -> str:
    from kvportal.billing.services import TransientCheckError, run_check

    try:
        submission = run_check(submission_id=submission_id)
    except TransientCheckError as exc:
        if self.request.is_eager:
            # in-process: the lease was given back; the recovery starts the check again later
            logger.warning("billing check of submission %s postponed", submission_id)
            return "postponed"
        raise self.retry(exc=exc, countdown=min(300, 5 * 2**self.request.retries)) from exc
    return submission.state if submission is not None else "missing"


@shared_task(
    bind=True,
    name="kvportal.billing.tasks.check_test_run",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=8,
)
def check_test_run(self, test_run_id: int) -> str:
    from kvportal.billing.services import TransientCheckError
    from kvportal.billing.testruns import run_test_check

    try:
        run = run_test_check(test_run_id=test_run_id)
    except TransientCheckError as exc:
        if self.request.is_eager:
            # in-process: the lease was given back; the recovery starts the check again later
            logger.warning("billing test run %s postponed", test_run_id)
            return "postponed"
        raise self.retry(exc=exc, countdown=min(300, 5 * 2**self.request.retries)) from exc
    return run.state if run is not None else "missing"

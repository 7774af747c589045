"""Background check of uploaded billing files (takes IDs, idempotent, only calls a service)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="kvportal.billing.tasks.check_submission", acks_late=True)
def check_submission(submission_id: int) -> str:
    from kvportal.billing.services import run_check

    submission = run_check(submission_id=submission_id)
    return submission.state if submission is not None else "missing"

# § 37 (2a) SGB X: the notice carries no content; tasks take ids and are idempotent.
# Issue 11: a failing mail server or database is retried with back-off; delivery markers
# (core.tasks.deliver_once) keep a re-run from mailing anyone twice.
"""Background tasks of the document archive."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError


@shared_task(
    name="kvportal.documents.tasks.send_document_notices",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OSError, DatabaseError),  # smtplib errors are OSErrors
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=10,
)
def send_document_notices_task(document_ids: list[int]) -> int:
    from kvportal.documents.services import send_document_notices

    return send_document_notices(document_ids=list(document_ids))

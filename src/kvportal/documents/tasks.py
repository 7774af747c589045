# § 37 (2a) SGB X: the notice carries no content; tasks take ids and are idempotent.
# Issue 11: run from the durable outbox (core.tasks.enqueue_job: retried with back-off,
# recovered after a crash); delivery markers (core.tasks.deliver_once) keep a re-run from
# mailing anyone twice.
"""Background tasks of the document archive."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="kvportal.documents.tasks.send_document_notices")
def send_document_notices_task(document_ids: list[int]) -> int:
    from kvportal.documents.services import send_document_notices

    return send_document_notices(document_ids=list(document_ids))

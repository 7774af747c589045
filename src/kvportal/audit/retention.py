"""Seed 000: access-log entries are kept 31 days and then deleted (in batches, idempotent)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction

from kvportal.audit.models import AccessLogEntry
from kvportal.core.registry import PurgeResult
from kvportal.core.retention import cutoff


def purge_access_log(*, now: dt.datetime, dry_run: bool = False) -> PurgeResult:
    # bulk deletes (no row-by-row purge_in_batches): the log has no files and no tombstones
    expired = AccessLogEntry.objects.filter(
        timestamp__lt=cutoff(now, days=settings.AUDIT_RETENTION_DAYS)
    )
    result = PurgeResult(name="Zugriffsprotokoll")
    if dry_run:
        result.count = expired.count()
        return result
    batch = settings.PURGE_BATCH_SIZE
    while True:
        with transaction.atomic():
            ids = list(expired.values_list("pk", flat=True)[:batch])
            if not ids:
                break
            result.count += AccessLogEntry.objects.filter(pk__in=ids).delete()[0]
    return result

# § 43 Ärzte-ZV: files five years, Beschlüsse twenty years; stale drafts deleted.
"""Retention of admission data (periodic purgers)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction

from kvportal.admission.models import (
    Application,
    Attachment,
    GeneratedFile,
)
from kvportal.admission.rules.lifecycle import (
    State,
)
from kvportal.admission.services.common import (
    _audit,
)
from kvportal.admission.services.drafts import delete_draft
from kvportal.audit.models import Activity
from kvportal.core.registry import PurgeResult
from kvportal.core.retention import cutoff, purge_in_batches
from kvportal.core.storage import private_storage


def purge_stale_drafts(*, now: dt.datetime, dry_run: bool = False) -> PurgeResult:
    """Drafts nobody touched for ADMISSION_DRAFT_DAYS (default 180) are deleted with their
    uploads (data minimisation; nothing was submitted)."""
    stale = Application.objects.filter(
        state=State.ENTWURF, updated_at__lt=cutoff(now, days=int(settings.ADMISSION_DRAFT_DAYS))
    ).order_by("pk")
    return purge_in_batches(
        stale,
        name="zulassung_entwuerfe",
        purge_one=lambda application: delete_draft(actor=None, application=application),
        label=lambda application: application.reference,
        dry_run=dry_run,
    )


CLOSED_STATES = (State.RECHTSKRAEFTIG, State.ZURUECKGENOMMEN, State.GILT_ALS_ZURUECKGENOMMEN)
FILE_YEARS = 5  # § 43 Ärzte-ZV: Akten fünf Jahre
BESCHLUSS_YEARS = 20  # § 43 Ärzte-ZV: Urschriften von Beschlüssen zwanzig Jahre


def purge_closed_files(*, now: dt.datetime, dry_run: bool = False) -> PurgeResult:
    """§ 43 Ärzte-ZV: five years after an application was closed its file (data, uploads,
    copies, confirmations) is deleted and only the Beschluss with the key data is kept; twenty
    years after, the rest is deleted too."""
    from django.db.models import Max, Q

    closed = (
        Application.objects.filter(state__in=[s.value for s in CLOSED_STATES])
        .annotate(
            closed_at=Max(
                "history__at", filter=Q(history__to_state__in=[s.value for s in CLOSED_STATES])
            )
        )
        .order_by("pk")
    )
    deleted = purge_in_batches(
        closed.filter(closed_at__lt=cutoff(now, years=BESCHLUSS_YEARS)),
        name="zulassung_aufbewahrung",
        purge_one=lambda application: _delete_closed(application.pk),
        label=lambda application: f"{application.reference} (gelöscht)",
        dry_run=dry_run,
    )
    reduced = purge_in_batches(
        closed.filter(
            closed_at__lt=cutoff(now, years=FILE_YEARS),
            closed_at__gte=cutoff(now, years=BESCHLUSS_YEARS),
        ).exclude(data={}),
        name="zulassung_aufbewahrung",
        purge_one=lambda application: _reduce_closed(application.pk),
        label=lambda application: f"{application.reference} (Akte reduziert)",
        dry_run=dry_run,
    )
    deleted.count += reduced.count
    deleted.items += reduced.items
    return deleted


@transaction.atomic(durable=True)
def _reduce_closed(pk: int) -> None:
    application = Application.objects.select_for_update().get(pk=pk)
    for item in application.attachments.all():
        private_storage.delete(item.path)
        item.delete()
    for generated in application.files.exclude(kind=GeneratedFile.Kind.BESCHLUSS):
        private_storage.delete(generated.path)
        generated.delete()
    application.signatories.all().delete()
    application.nachforderungen.all().delete()
    application.data = {}
    application.save(update_fields=["data"])
    _audit(None, application, Activity.DELETE, event="aufbewahrung_5_jahre")


@transaction.atomic(durable=True)
def _delete_closed(pk: int) -> None:
    application = Application.objects.select_for_update().get(pk=pk)
    _audit(None, application, Activity.DELETE, event="aufbewahrung_20_jahre")
    items: list[Attachment | GeneratedFile] = [
        *application.attachments.all(),
        *application.files.all(),
    ]
    for item in items:
        private_storage.delete(item.path)
    application.delete()

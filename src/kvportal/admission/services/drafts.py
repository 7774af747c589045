# Seed 000: drafts and their PDF attachments; every write is audited in the same transaction.
"""Drafts: create, save, delete, attachments."""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING

from django.db import transaction

from kvportal.admission.models import (
    Application,
    Attachment,
)
from kvportal.admission.rules.definitions import (
    clean_data,
    parse_date,
)
from kvportal.admission.rules.hours import parse_factor
from kvportal.admission.rules.lifecycle import (
    State,
)
from kvportal.admission.rules.types import REGISTRY
from kvportal.admission.services.common import (
    AdmissionError,
    _audit,
    _history,
    _store,
    max_attachment_bytes,
    prefill,
)
from kvportal.audit.models import Activity
from kvportal.core.storage import private_storage
from kvportal.members.models import Betriebsstaette, Person

if TYPE_CHECKING:
    from kvportal.accounts.models import User


@transaction.atomic
def create_draft(
    *,
    actor: User,
    type_code: str,
    betriebsstaette: Betriebsstaette,
    employee: Person | None = None,
) -> Application:
    app_type = REGISTRY[type_code]
    application = Application.objects.create(
        type_code=type_code,
        betriebsstaette=betriebsstaette,
        committee=app_type.committee,
        created_by=actor,
        data=prefill(betriebsstaette, employee, actor),
    )
    _sync_columns(application)
    application.save()
    _history(application, actor=actor, event="create", label="Entwurf angelegt")
    _audit(actor, application, Activity.CREATE, type=type_code)
    return application


def _sync_columns(application: Application) -> None:
    data = application.data
    application.bezirk = data.get("bezirk", "") or ""
    application.employee_lanr = (data.get("employee_lanr") or "")[:9]
    name = " ".join(p for p in (data.get("employee_title"), data.get("employee_name")) if p)
    application.employee_name = name[:200]
    application.effective_date = parse_date(data.get("effective_date"))
    key = application.app_type.duplicate_key(
        {
            **data,
            "factor_from": str(parse_factor(data.get("factor_from")) or ""),
            "factor_to": str(parse_factor(data.get("factor_to")) or ""),
        }
    )
    application.duplicate_key = "|".join(key)[:200]


@transaction.atomic
def save_draft(*, actor: User, application: Application, data: dict) -> Application:
    """Store the entered values of a draft (incomplete drafts are allowed)."""
    application = Application.objects.select_for_update().get(pk=application.pk)
    if application.state != State.ENTWURF:
        raise AdmissionError("Nur Entwürfe können geändert werden.")
    application.data = clean_data(application.app_type, data)
    _sync_columns(application)
    application.save()
    _audit(actor, application, Activity.UPDATE)
    return application


@transaction.atomic
def delete_draft(*, actor: User | None, application: Application) -> None:
    if application.state != State.ENTWURF:
        raise AdmissionError("Nur Entwürfe können gelöscht werden.")
    _audit(actor, application, Activity.DELETE)
    for attachment in application.attachments.all():
        private_storage.delete(attachment.path)
    application.delete()


def check_pdf(content: bytes, file_name: str) -> None:
    """Attachments must be real PDFs within the size limit (seeds: one PDF per document)."""
    limit = max_attachment_bytes()
    if len(content) > limit:
        raise AdmissionError(
            f"„{file_name}“ ist {len(content) / 1024 / 1024:.1f} MB groß; erlaubt sind höchstens "
            f"{limit // 1024 // 1024} MB."
        )
    if not content:
        raise AdmissionError(f"„{file_name}“ ist leer.")
    if not content.startswith(b"%PDF-"):
        raise AdmissionError(f"„{file_name}“ ist keine PDF-Datei. Bitte als PDF hochladen.")
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(content))
        if len(reader.pages) < 1:
            raise AdmissionError(f"„{file_name}“ enthält keine Seite.")
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise AdmissionError(f"„{file_name}“ ist beschädigt oder keine gültige PDF-Datei.") from exc


@transaction.atomic
def add_attachment(
    *, actor: User, application: Application, kind: str, file_name: str, content: bytes
) -> Attachment:
    application = Application.objects.select_for_update().get(pk=application.pk)
    if application.state == State.NACHFORDERUNG:
        kind = Attachment.Kind.NACHREICHUNG
    elif application.state != State.ENTWURF:
        raise AdmissionError(
            "Unterlagen können nur im Entwurf oder bei einer Nachforderung hochgeladen werden."
        )
    if kind not in Attachment.Kind.values:
        raise AdmissionError("Unbekannte Art der Unterlage.")
    check_pdf(content, file_name)
    if application.state == State.ENTWURF:
        for old in application.attachments.filter(kind=kind):
            private_storage.delete(old.path)
            old.delete()
    safe_name = "".join(c for c in file_name if c.isalnum() or c in "._- ")[:150] or "anlage.pdf"
    attachment = Attachment.objects.create(
        application=application,
        kind=kind,
        file_name=safe_name,
        path=_store(application, "anlage.pdf", content),
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=actor,
    )
    _audit(actor, application, Activity.CREATE, attachment=kind, sha256=attachment.sha256)
    return attachment


@transaction.atomic(durable=True)
def remove_attachment(*, actor: User, attachment: Attachment) -> None:
    if attachment.application.state != State.ENTWURF:
        raise AdmissionError("Unterlagen eines eingereichten Antrags können nicht entfernt werden.")
    _audit(actor, attachment.application, Activity.DELETE, attachment=attachment.kind)
    private_storage.delete(attachment.path)
    attachment.delete()

# Errors, limits and helpers shared by the admission services (registry prefill, checks).
"""Shared parts of the admission services: errors, settings, history/audit/file helpers."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from kvportal import audit
from kvportal.admission.models import (
    Application,
    CommitteeSession,
    GeneratedFile,
    HistoryEntry,
)
from kvportal.admission.rules.dates import DEFAULT_LEAD_TIME, SessionSlot
from kvportal.admission.rules.definitions import (
    BEZIRK_BY_BSNR_PREFIX,
    ValidationContext,
    ValidationResult,
    validate,
)
from kvportal.admission.rules.hours import parse_factor
from kvportal.admission.rules.lifecycle import (
    EVENT_LABELS,
    Context,
    Event,
    State,
    TransitionError,
    next_state,
)
from kvportal.core.storage import private_storage
from kvportal.members.constants import Role
from kvportal.members.models import Betriebsstaette, Person, Taetigkeit

if TYPE_CHECKING:
    from kvportal.accounts.models import User

DECIDED_OR_CLOSED = frozenset(
    {
        State.GENEHMIGT,
        State.ABGELEHNT,
        State.RECHTSKRAEFTIG,
        State.ZURUECKGENOMMEN,
        State.GILT_ALS_ZURUECKGENOMMEN,
    }
)


class AdmissionError(Exception):
    """A refused action, with a German message for the user."""


class SubmissionRefused(AdmissionError):
    def __init__(self, message: str, result: ValidationResult | None = None):
        super().__init__(message)
        self.result = result


class DuplicateApplication(AdmissionError):
    def __init__(self, existing: Application):
        super().__init__(
            f"Für diese Änderung liegt bereits der Antrag {existing.reference} vor "
            f"(Status: {existing.get_state_display()}). Ein zweiter Antrag ist nicht möglich."
        )
        self.existing = existing


def lead_time() -> dt.timedelta:
    weeks = settings.ADMISSION_LEAD_WEEKS
    return dt.timedelta(weeks=int(weeks)) if weeks else DEFAULT_LEAD_TIME


def max_attachment_bytes() -> int:
    return int(settings.ADMISSION_MAX_ATTACHMENT_MB) * 1024 * 1024


# --- helpers --------------------------------------------------------------------------------


def _history(
    application: Application,
    *,
    actor: User | None,
    event: str,
    label: str,
    before: str = "",
    note: str = "",
    reason: str = "",
) -> HistoryEntry:
    return HistoryEntry.objects.create(
        application=application,
        actor=actor if getattr(actor, "pk", None) else None,
        event=event,
        label=label,
        from_state=before,
        to_state=application.state,
        note=note,
        reason=reason,
    )


def _log_event(
    application: Application,
    event: Event,
    *,
    actor: User | None,
    before: str,
    note: str = "",
    reason: str = "",
) -> HistoryEntry:
    """The history entry of a lifecycle event, labelled with the event's German name."""
    return _history(
        application,
        actor=actor,
        event=event,
        label=EVENT_LABELS[event],
        before=before,
        note=note,
        reason=reason,
    )


def _lock(application: Application) -> Application:
    """The application re-read and locked for the rest of the transaction."""
    return Application.objects.select_for_update().get(pk=application.pk)


def _transition(application: Application, event: Event, ctx: Context | None = None) -> str:
    """Move the application along the lifecycle; returns the previous state."""
    before = application.state
    try:
        application.state = next_state(State(before), event, ctx).value
    except TransitionError as exc:
        raise AdmissionError(str(exc)) from exc
    return before


def _audit(actor: User | None, application: Application, activity: str, **detail: object) -> None:
    audit.record(
        actor=actor,
        activity=activity,
        obj=application,
        bsnr=application.betriebsstaette.bsnr,
        object_repr=application.reference,
        detail=detail,
    )


def _store(application: Application, name: str, content: bytes) -> str:
    path = f"admission/{application.pk}/{uuid.uuid4().hex}-{name}"
    return private_storage.save(path, ContentFile(content))


def _store_generated(application: Application, kind: str, content: bytes) -> GeneratedFile:
    path = _store(application, f"{kind}.pdf", content)
    existing = GeneratedFile.objects.filter(application=application, kind=kind).first()
    if existing:
        private_storage.delete(existing.path)
        existing.path, existing.size = path, len(content)
        existing.sha256 = hashlib.sha256(content).hexdigest()
        existing.created_at = timezone.now()
        existing.save()
        return existing
    return GeneratedFile.objects.create(
        application=application,
        kind=kind,
        path=path,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )


def _notify(key: str, recipients: list[str], subject: str, body: str) -> None:
    """E-mail without health data; queued after commit, retried on SMTP errors and sent once
    per `key` (issue 11: one key per logical message, see core.tasks.send_mail_once)."""
    from kvportal.core.tasks import enqueue_mail

    recipients = [r for r in recipients if r]
    if not recipients:
        return
    enqueue_mail(f"admission.{key}", subject, body, recipients)


def _applicant_emails(application: Application) -> list[str]:
    emails = [application.data.get("email", ""), application.created_by.email]
    return sorted({e for e in emails if e})


# --- registry prefill -------------------------------------------------------------------------


def prefill(
    betriebsstaette: Betriebsstaette, employee: Person | None, user: User
) -> dict[str, Any]:
    """Values the portal already knows (registry: Betriebsstätte, Person, Tätigkeit)."""
    practice = betriebsstaette
    data: dict = {
        "bezirk": practice.bezirk or BEZIRK_BY_BSNR_PREFIX.get(practice.bsnr[:2], ""),
        "applicant_kind": practice.kind,
        "bsnr": practice.bsnr,
        "applicant_name": practice.name,
        "sitz_strasse": practice.street,
        "sitz_plz": practice.postal_code,
        "sitz_ort": practice.city,
        "phone": practice.phone,
        "email": practice.email,
        "work_strasse": practice.street,
        "work_plz": practice.postal_code,
        "work_ort": practice.city,
        "hours_unit": "woche",
        "related": "nein",
        "partners": [],
        "anlage1": [],
    }
    me = getattr(user, "person", None)
    if practice.kind == "einzelpraxis" and me is not None:
        data.update(
            applicant_title=me.title,
            applicant_name=f"{me.first_name} {me.last_name}",
            applicant_lanr=me.lanr or "",
            applicant_fach=me.fachgebiet,
        )
    elif me is not None:
        data.update(
            representative_name=me.full_name,
            representative_lanr=me.lanr or "",
            representative_email=me.email or user.email,
        )
    if practice.kind == "bag":
        partners = (
            Taetigkeit.objects.active()
            .filter(betriebsstaette=practice, role=Role.VERTRAGSARZT)
            .select_related("person")
        )
        data["partners"] = [
            {"name": t.person.full_name, "lanr": t.person.lanr or "", "email": t.person.email}
            for t in partners
        ]
    if employee is not None:
        data.update(
            employee_title=employee.title,
            employee_name=f"{employee.first_name} {employee.last_name}",
            employee_lanr=employee.lanr or "",
            employee_fach=employee.fachgebiet,
            employee_email=employee.email,
        )
        if practice.kind != "einzelpraxis" and not data.get("applicant_fach"):
            data["applicant_fach"] = employee.fachgebiet
        work = (
            Taetigkeit.objects.active()
            .filter(betriebsstaette=practice, person=employee, role=Role.ANGESTELLT)
            .first()
        )
        if work is not None and work.anrechnungsfaktor is not None:
            data["factor_from"] = str(parse_factor(work.anrechnungsfaktor) or "")
    return {k: ("" if v is None else v) for k, v in data.items()}


def registered_factor(application: Application) -> Decimal | None:
    lanr = application.data.get("employee_lanr")
    if not lanr:
        return None
    work = (
        Taetigkeit.objects.active()
        .filter(
            betriebsstaette=application.betriebsstaette,
            person__lanr=lanr,
            role=Role.ANGESTELLT,
        )
        .first()
    )
    return parse_factor(work.anrechnungsfaktor) if work and work.anrechnungsfaktor else None


def session_slots(bezirk: str, committee: str, *, after: dt.date) -> list[SessionSlot]:
    return [
        SessionSlot(s.date, s.bezirk, s.committee, s.deadline, ref=s)
        for s in CommitteeSession.objects.filter(bezirk=bezirk, committee=committee, date__gt=after)
    ]


def known_logins(lanrs: list[str]) -> frozenset[str]:
    from kvportal.accounts.models import User

    found = User.objects.filter(person__lanr__in=[x for x in lanrs if x], is_active=True)
    return frozenset(lanr for lanr in found.values_list("person__lanr", flat=True) if lanr)


def check(application: Application, *, drafting: bool = True) -> ValidationResult:
    """Validate the application with everything the database knows."""
    data = application.data
    today = timezone.localdate()
    lanrs = [
        data.get("applicant_lanr", ""),
        data.get("representative_lanr", ""),
        data.get("employee_lanr", ""),
        *[p.get("lanr", "") for p in data.get("partners") or []],
    ]
    ctx = ValidationContext(
        today=today,
        sessions=tuple(session_slots(data.get("bezirk", ""), application.committee, after=today)),
        lead_time=lead_time(),
        # after the decision the registry already holds the new factor
        registered_factor=registered_factor(application)
        if application.state not in DECIDED_OR_CLOSED
        else None,
        attachments=frozenset(application.attachments.values_list("kind", flat=True)),
        known_logins=known_logins(lanrs),
        drafting=drafting,
    )
    return validate(application.app_type, data, ctx)

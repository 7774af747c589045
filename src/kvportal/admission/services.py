# § 38 Ärzte-ZV (fee before dealing, deemed withdrawal), § 46 Ärzte-ZV (fees), § 36a Abs. 2b SGB I
# (copy after submitting); every write is audited in the same transaction (seed 000).
"""Writes of the admission app. Keyword-only, `actor` first, atomic, audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import secrets
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from kvportal import audit
from kvportal.admission import pdfs
from kvportal.admission.models import (
    Application,
    Attachment,
    CommitteeSession,
    Confirmation,
    GeneratedFile,
    HistoryEntry,
    Nachforderung,
    Outcome,
    Signatory,
)
from kvportal.admission.rules.dates import DEFAULT_LEAD_TIME, SessionSlot
from kvportal.admission.rules.definitions import (
    BEZIRK_BY_BSNR_PREFIX,
    ValidationContext,
    ValidationResult,
    clean_data,
    parse_date,
    validate,
)
from kvportal.admission.rules.hours import parse_factor, parse_hours, weekly_hours
from kvportal.admission.rules.lifecycle import (
    EVENT_LABELS,
    PENDING,
    Context,
    Event,
    State,
    TransitionError,
    fee_expired,
    next_state,
)
from kvportal.admission.rules.text import fmt_money
from kvportal.admission.rules.types import REGISTRY
from kvportal.audit.models import Activity
from kvportal.core.registry import PurgeResult
from kvportal.core.storage import private_storage
from kvportal.members.constants import Role
from kvportal.members.models import Betriebsstaette, Person, Taetigkeit

CODE_VALIDITY = dt.timedelta(minutes=30)
DECIDED_OR_CLOSED = frozenset(
    {
        State.GENEHMIGT,
        State.ABGELEHNT,
        State.RECHTSKRAEFTIG,
        State.ZURUECKGENOMMEN,
        State.GILT_ALS_ZURUECKGENOMMEN,
    }
)
MAX_CODE_ATTEMPTS = 5
#: brute-force brake: a new code (which resets the attempts) at most once a minute
CODE_RESEND_AFTER = dt.timedelta(minutes=1)
#: no mail bombing through the signatory link: at most this many codes per signatory and day
MAX_CODES_PER_DAY = 5


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
    weeks = getattr(settings, "ADMISSION_LEAD_WEEKS", None)
    return dt.timedelta(weeks=int(weeks)) if weeks else DEFAULT_LEAD_TIME


def max_attachment_bytes() -> int:
    return int(getattr(settings, "ADMISSION_MAX_ATTACHMENT_MB", 20)) * 1024 * 1024


# --- helpers --------------------------------------------------------------------------------


def _history(application, *, actor, event: str, label: str, before: str = "", note: str = ""):
    return HistoryEntry.objects.create(
        application=application,
        actor=actor if getattr(actor, "pk", None) else None,
        event=event,
        label=label,
        from_state=before,
        to_state=application.state,
        note=note,
    )


def _transition(application: Application, event: Event, ctx: Context | None = None) -> str:
    """Move the application along the lifecycle; returns the previous state."""
    before = application.state
    try:
        application.state = next_state(State(before), event, ctx).value
    except TransitionError as exc:
        raise AdmissionError(str(exc)) from exc
    return before


def _audit(actor, application, activity, **detail):
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


def prefill(betriebsstaette: Betriebsstaette, employee: Person | None, user) -> dict:
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

    return frozenset(
        User.objects.filter(person__lanr__in=[x for x in lanrs if x], is_active=True).values_list(
            "person__lanr", flat=True
        )
    )


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


# --- drafts -------------------------------------------------------------------------------------


@transaction.atomic
def create_draft(
    *,
    actor,
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
def save_draft(*, actor, application: Application, data: dict) -> Application:
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
def delete_draft(*, actor, application: Application) -> None:
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
    *, actor, application: Application, kind: str, file_name: str, content: bytes
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


@transaction.atomic
def remove_attachment(*, actor, attachment: Attachment) -> None:
    if attachment.application.state != State.ENTWURF:
        raise AdmissionError("Unterlagen eines eingereichten Antrags können nicht entfernt werden.")
    _audit(actor, attachment.application, Activity.DELETE, attachment=attachment.kind)
    private_storage.delete(attachment.path)
    attachment.delete()


# --- submission and confirmations ------------------------------------------------------------


def content_hash(application: Application) -> str:
    payload = {
        "type": application.type_code,
        "data": application.data,
        "attachments": sorted(application.attachments.values_list("kind", "sha256")),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def hash_link_token(token: str) -> str:
    """The signatory link token is stored only as this SHA-256 (like the access app)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def signatory_for_token(token: str) -> Signatory | None:
    return (
        Signatory.objects.select_related("application")
        .filter(token_sha256=hash_link_token(token))
        .first()
    )


def link_open(signatory: Signatory) -> bool:
    """The signatory link shows the application only while his confirmation is still needed."""
    return signatory.application.state == State.EINGEREICHT and signatory.confirmation is None


def issue_link(*, signatory: Signatory) -> str:
    """Give the signatory a new secret link (an earlier one stops working). Returns the raw
    token for the e-mail; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    signatory.token_sha256 = hash_link_token(token)
    signatory.save(update_fields=["token_sha256"])
    return token


def _hash_code(signatory: Signatory, code: str) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(), f"{signatory.pk}:{code}".encode(), hashlib.sha256
    ).hexdigest()


def is_submitter(actor, signatory) -> bool:
    """The submitting user is this signatory (applicant/representative): same LANR, or —
    for representatives without LANR, e.g. the Geschäftsführer of an MVZ-Träger — the same
    registry person by name."""
    from kvportal.admission.rules.text import normalise

    person = getattr(actor, "person", None)
    if person is None or not ({"antragsteller", "vertretungsberechtigter"} & set(signatory.roles)):
        return False
    if signatory.person.lanr:
        return person.lanr == signatory.person.lanr
    return normalise(person.full_name) == normalise(signatory.person.name)


def _user_for(lanr: str, email: str):
    from kvportal.accounts.models import User

    if lanr:
        user = User.objects.filter(person__lanr=lanr, is_active=True).first()
        if user:
            return user
    return None


@transaction.atomic
def submit(*, actor, application: Application, token: str) -> Application:
    """Submit (idempotent per form token): freeze the content, list the signatories, confirm
    for the submitting user where he is one, produce the PDF copy."""
    application = Application.objects.select_for_update().get(pk=application.pk)
    if application.state != State.ENTWURF:
        if str(application.submission_token) == str(token) and application.submitted_at:
            return application  # the same submission again: one application
        raise AdmissionError("Dieser Antrag ist bereits eingereicht.")
    if str(application.submission_token) != str(token):
        raise AdmissionError(
            "Das Formular ist veraltet. Bitte prüfen Sie den Antrag erneut und reichen Sie ihn "
            "dann ein."
        )
    result = check(application)
    if not result.ok:
        raise SubmissionRefused("Der Antrag ist noch nicht vollständig.", result)
    existing = (
        Application.objects.filter(duplicate_key=application.duplicate_key, state__in=PENDING)
        .exclude(pk=application.pk)
        .first()
    )
    if existing is not None:
        raise DuplicateApplication(existing)
    before = _transition(application, Event.SUBMIT)
    application.submitted_at = timezone.now()
    application.fee_amount = result.fees.application_fee if result.fees else None
    application.admin_fee_amount = result.fees.admin_fee_after_final if result.fees else None
    application.content_sha256 = content_hash(application)
    application.save()
    application.signatories.all().delete()
    links: dict[int, str] = {}
    for position, s in enumerate(result.signatories):
        user = _user_for(s.person.lanr, s.person.email)
        if user is None and is_submitter(actor, s):
            user = actor
        token = secrets.token_urlsafe(32)
        signatory = Signatory.objects.create(
            application=application,
            position=position,
            name=s.person.name,
            roles=s.roles,
            role_label=s.label,
            lanr=s.person.lanr,
            email=s.person.email,
            user=user,
            token_sha256=hash_link_token(token),
        )
        links[signatory.pk] = token
    _history(
        application,
        actor=actor,
        event=Event.SUBMIT,
        label=EVENT_LABELS[Event.SUBMIT],
        before=before,
    )
    _audit(actor, application, Activity.SUBMIT, sha256=application.content_sha256)
    _store_generated(application, GeneratedFile.Kind.ANTRAG, pdfs.application_pdf(application))
    if application.app_type.needs_anlage1(application.data):
        _store_generated(application, GeneratedFile.Kind.ANLAGE1, pdfs.anlage1_pdf(application))
    # the submitting user confirms by submitting, where he is a signatory
    for signatory in application.signatories.filter(user=actor):
        _confirm(actor=actor, signatory=signatory, method=Confirmation.Method.PORTAL)
    application.refresh_from_db()
    if application.state == State.EINGEREICHT:
        for signatory in application.signatories.all():
            if signatory.confirmation is None:
                _invite(signatory, links[signatory.pk])
    return application


def _invite(signatory: Signatory, token: str) -> None:
    application = signatory.application
    if signatory.user_id:
        link = settings.PORTAL_URL + reverse("admission:detail", args=[application.pk])
        to = signatory.user.email or signatory.email
    else:
        link = settings.PORTAL_URL + reverse("admission:confirm_code", args=[token])
        to = signatory.email
    _notify(
        f"invite:{signatory.pk}:{application.content_sha256}",
        [to],
        f"Bitte bestätigen: Antrag {application.reference} an den Zulassungsausschuss",
        f"Guten Tag {signatory.name},\n\nder Antrag {application.reference} "
        f"({application.app_type.title}) wartet auf Ihre Bestätigung als "
        f"{signatory.role_label}.\n\nBitte prüfen und bestätigen Sie ihn hier:\n{link}\n",
    )


def _confirm(*, actor, signatory: Signatory, method: str, evidence: dict | None = None):
    application = signatory.application
    if application.state != State.EINGEREICHT:
        raise AdmissionError("Dieser Antrag wartet nicht (mehr) auf Bestätigungen.")
    if signatory.confirmation is not None:
        return signatory.confirmation
    confirmation = Confirmation.objects.create(
        signatory=signatory,
        method=method,
        user=actor if getattr(actor, "pk", None) else None,
        content_sha256=application.content_sha256,
        evidence=evidence or {},
    )
    _history(
        application,
        actor=actor,
        event="confirm",
        label=f"Bestätigt von {signatory.name} ({signatory.role_label}) – "
        f"{confirmation.get_method_display()}",
    )
    audit.record(
        actor=actor,
        activity=Activity.SIGN,
        obj=application,
        bsnr=application.betriebsstaette.bsnr,
        object_repr=application.reference,
        detail={"signatory": signatory.pk, "method": method},
    )
    confirmed = Confirmation.objects.filter(
        signatory__application=application, revoked_at__isnull=True
    ).values("signatory_id")
    if not Signatory.objects.filter(application=application).exclude(pk__in=confirmed).exists():
        before = _transition(application, Event.ALL_CONFIRMED)
        application.received_at = timezone.now()
        application.save(update_fields=["state", "received_at", "updated_at"])
        _history(
            application,
            actor=None,
            event=Event.ALL_CONFIRMED,
            label=EVENT_LABELS[Event.ALL_CONFIRMED],
            before=before,
        )
        _notify(
            f"received:{application.pk}:{application.content_sha256}",
            _applicant_emails(application),
            f"Antrag {application.reference} eingegangen",
            f"Alle Bestätigungen liegen vor. Der Antrag {application.reference} ist bei der "
            "Geschäftsstelle des Zulassungsausschusses eingegangen.",
        )
    return confirmation


@transaction.atomic
def confirm(
    *,
    actor,
    signatory: Signatory,
    method: str = Confirmation.Method.PORTAL,
    evidence: dict | None = None,
) -> Confirmation:
    """Confirm as `signatory`. PORTAL: `actor` must be the signatory's portal account.
    QES (eHBA helper): pass `evidence` (e.g. {"signature_file": ..., "certificate": ...})."""
    signatory = Signatory.objects.select_for_update().get(pk=signatory.pk)
    Application.objects.select_for_update().get(pk=signatory.application_id)
    if method in (Confirmation.Method.PORTAL, Confirmation.Method.QES) and (
        signatory.user_id is None or signatory.user_id != getattr(actor, "pk", None)
    ):
        raise AdmissionError("Sie sind für diesen Antrag nicht als Unterzeichner eingetragen.")
    return _confirm(actor=actor, signatory=signatory, method=method, evidence=evidence)


@transaction.atomic
def send_code(*, signatory: Signatory) -> None:
    """One-time code by e-mail for signatories without a portal login."""
    signatory = Signatory.objects.select_for_update().get(pk=signatory.pk)
    if signatory.application.state != State.EINGEREICHT or signatory.confirmation is not None:
        raise AdmissionError("Für diesen Antrag ist keine Bestätigung mehr nötig.")
    if not signatory.email:
        raise AdmissionError("Für Sie ist keine E-Mail-Adresse hinterlegt.")
    now = timezone.now()
    if signatory.code_sent_at and now - signatory.code_sent_at < CODE_RESEND_AFTER:
        raise AdmissionError(
            "Ein Code wurde gerade erst gesendet. Bitte warten Sie eine Minute, bevor Sie einen "
            "neuen Code anfordern."
        )
    today = timezone.localdate(now)
    sent_today = signatory.codes_sent if signatory.codes_day == today else 0
    if sent_today >= MAX_CODES_PER_DAY:
        raise AdmissionError(
            f"Heute wurden bereits {MAX_CODES_PER_DAY} Codes an Sie gesendet. Bitte fordern Sie "
            "morgen einen neuen Code an oder wenden Sie sich an die Geschäftsstelle."
        )
    code = f"{secrets.randbelow(10**6):06d}"
    signatory.code_hash = _hash_code(signatory, code)
    signatory.code_sent_at = now
    signatory.code_attempts = 0
    signatory.codes_day = today
    signatory.codes_sent = sent_today + 1
    signatory.save(
        update_fields=["code_hash", "code_sent_at", "code_attempts", "codes_day", "codes_sent"]
    )
    audit.record(
        actor=None,
        activity=Activity.CREATE,
        obj=signatory.application,
        object_repr=signatory.application.reference,
        detail={"einmalcode_fuer": signatory.pk},
    )
    _notify(
        f"code:{signatory.pk}:{today.isoformat()}:{signatory.codes_sent}",
        [signatory.email],
        f"Ihr Bestätigungscode für Antrag {signatory.application.reference}",
        f"Ihr Einmalcode lautet: {code}\n\nEr ist 30 Minuten gültig.",
    )


def confirm_with_code(*, signatory: Signatory, code: str) -> Confirmation:
    """Confirm with the one-time code. Failed attempts are counted even though the call
    raises (the counter is committed before the error is raised)."""
    error = ""
    confirmation = None
    with transaction.atomic():
        signatory = Signatory.objects.select_for_update().get(pk=signatory.pk)
        if not signatory.code_hash or signatory.code_sent_at is None:
            error = "Bitte fordern Sie zuerst einen Code an."
        elif signatory.code_attempts >= MAX_CODE_ATTEMPTS:
            error = "Zu viele Fehlversuche. Bitte fordern Sie einen neuen Code an."
        elif timezone.now() - signatory.code_sent_at > CODE_VALIDITY:
            error = "Der Code ist abgelaufen. Bitte fordern Sie einen neuen Code an."
        elif not hmac.compare_digest(signatory.code_hash, _hash_code(signatory, code.strip())):
            signatory.code_attempts += 1
            signatory.save(update_fields=["code_attempts"])
            error = "Der Code ist falsch."
        else:
            signatory.code_hash = ""
            signatory.save(update_fields=["code_hash"])
            confirmation = _confirm(
                actor=None,
                signatory=signatory,
                method=Confirmation.Method.EMAIL_CODE,
                evidence={"email": signatory.email},
            )
    if error:
        raise AdmissionError(error)
    return confirmation


@transaction.atomic
def reopen(*, actor, application: Application) -> Application:
    """Take a submitted application (still waiting for confirmations) back into draft."""
    application = Application.objects.select_for_update().get(pk=application.pk)
    before = _transition(application, Event.REOPEN)
    application.submitted_at = None
    application.submission_token = uuid.uuid4()
    application.save()
    Confirmation.objects.filter(signatory__application=application).update(
        revoked_at=timezone.now()
    )
    application.signatories.all().delete()
    _history(
        application,
        actor=actor,
        event=Event.REOPEN,
        label=EVENT_LABELS[Event.REOPEN],
        before=before,
        note="Bisherige Bestätigungen sind ungültig.",
    )
    _audit(actor, application, Activity.UPDATE, event="reopen")
    return application


@transaction.atomic
def withdraw(*, actor, application: Application) -> Application:
    application = Application.objects.select_for_update().get(pk=application.pk)
    before = _transition(application, Event.WITHDRAW)
    application.save()
    _history(
        application,
        actor=actor,
        event=Event.WITHDRAW,
        label=EVENT_LABELS[Event.WITHDRAW],
        before=before,
    )
    _audit(actor, application, Activity.UPDATE, event="withdraw")
    return application


# --- Nachforderung -------------------------------------------------------------------------


@transaction.atomic
def request_documents(
    *, actor, application: Application, text: str, due_date: dt.date | None = None
) -> Nachforderung:
    application = Application.objects.select_for_update().get(pk=application.pk)
    if not text.strip():
        raise AdmissionError("Bitte beschreiben Sie, was nachgefordert wird.")
    before = _transition(application, Event.REQUEST_DOCUMENTS)
    application.resume_state = before
    application.save()
    item = Nachforderung.objects.create(
        application=application, text=text.strip(), due_date=due_date, requested_by=actor
    )
    entry = _history(
        application,
        actor=actor,
        event=Event.REQUEST_DOCUMENTS,
        label=EVENT_LABELS[Event.REQUEST_DOCUMENTS],
        before=before,
        note=text.strip(),
    )
    _audit(actor, application, Activity.STAFF_ACTION, event="nachforderung")
    _notify(
        f"event:{entry.pk}",
        _applicant_emails(application),
        f"Nachforderung zu Antrag {application.reference}",
        "Die Geschäftsstelle des Zulassungsausschusses benötigt weitere Angaben oder "
        "Unterlagen. Bitte melden Sie sich im Portal an (Meine Anträge).",
    )
    return item


@transaction.atomic
def answer_nachforderung(*, actor, application: Application, answer: str) -> Application:
    application = Application.objects.select_for_update().get(pk=application.pk)
    item = application.nachforderungen.filter(answered_at__isnull=True).last()
    if item is None:
        raise AdmissionError("Es liegt keine offene Nachforderung vor.")
    if (
        not answer.strip()
        and not application.attachments.filter(
            kind=Attachment.Kind.NACHREICHUNG, uploaded_at__gte=item.requested_at
        ).exists()
    ):
        raise AdmissionError(
            "Bitte antworten Sie oder laden Sie die nachgeforderte Unterlage hoch."
        )
    before = _transition(
        application, Event.ANSWER, Context(resume_state=State(application.resume_state))
    )
    application.resume_state = ""
    application.save()
    item.answer, item.answered_by, item.answered_at = answer.strip(), actor, timezone.now()
    item.save()
    _history(
        application,
        actor=actor,
        event=Event.ANSWER,
        label=EVENT_LABELS[Event.ANSWER],
        before=before,
        note=answer.strip(),
    )
    _audit(actor, application, Activity.UPDATE, event="answer")
    return application


# --- fees ---------------------------------------------------------------------------------------


@transaction.atomic
def request_fee(*, actor, application: Application, deadline: dt.date) -> Application:
    application = Application.objects.select_for_update().get(pk=application.pk)
    before = _transition(
        application,
        Event.REQUEST_FEE,
        Context(today=timezone.localdate(), fee_deadline=deadline),
    )
    application.fee_deadline = deadline
    application.fee_requested_at = timezone.now()
    application.save()
    _store_generated(application, GeneratedFile.Kind.GEBUEHR, pdfs.fee_request_pdf(application))
    entry = _history(
        application,
        actor=actor,
        event=Event.REQUEST_FEE,
        label=f"{EVENT_LABELS[Event.REQUEST_FEE]}: {fmt_money(application.fee_amount)} bis "
        f"{deadline:%d.%m.%Y}",
        before=before,
    )
    _audit(actor, application, Activity.STAFF_ACTION, event="request_fee", deadline=str(deadline))
    _notify(
        f"event:{entry.pk}",
        _applicant_emails(application),
        f"Gebührenanforderung zu Antrag {application.reference}",
        f"Für den Antrag {application.reference} ist eine Gebühr von "
        f"{fmt_money(application.fee_amount)} "
        f"bis zum {deadline:%d.%m.%Y} zu zahlen. Wird sie nicht fristgerecht gezahlt, gilt der "
        "Antrag als zurückgenommen (§ 38 Ärzte-ZV). Die Anforderung finden Sie im Portal.",
    )
    return application


@transaction.atomic
def book_payment(
    *, actor, application: Application, paid_on: dt.date, reference: str = ""
) -> Application:
    application = Application.objects.select_for_update().get(pk=application.pk)
    if paid_on > timezone.localdate():
        raise AdmissionError("Das Zahlungsdatum darf nicht in der Zukunft liegen.")
    before = _transition(
        application,
        Event.BOOK_PAYMENT,
        Context(today=timezone.localdate(), fee_deadline=application.fee_deadline, paid_on=paid_on),
    )
    application.fee_paid_on = paid_on
    application.fee_payment_ref = reference.strip()[:100]
    application.save()
    _history(
        application,
        actor=actor,
        event=Event.BOOK_PAYMENT,
        label=f"{EVENT_LABELS[Event.BOOK_PAYMENT]} (Zahlung vom {paid_on:%d.%m.%Y})",
        before=before,
    )
    _audit(actor, application, Activity.STAFF_ACTION, event="book_payment", paid_on=str(paid_on))
    return application


@transaction.atomic
def defer_fee(*, actor, application: Application, note: str = "") -> Application:
    application = Application.objects.select_for_update().get(pk=application.pk)
    before = _transition(application, Event.DEFER_FEE)
    application.fee_deferred_at = timezone.now()
    application.save()
    _history(
        application,
        actor=actor,
        event=Event.DEFER_FEE,
        label=EVENT_LABELS[Event.DEFER_FEE],
        before=before,
        note=note,
    )
    _audit(actor, application, Activity.STAFF_ACTION, event="defer_fee")
    return application


def expire_unpaid_fees(*, now: dt.datetime, dry_run: bool = False) -> PurgeResult:
    """§ 38 Ärzte-ZV: unpaid after the deadline → the application counts as withdrawn.
    Registered as a periodic job (idempotent)."""
    today = timezone.localdate(now)
    result = PurgeResult(name="zulassung_gebuehrenfrist")
    candidates = Application.objects.filter(state=State.GEBUEHR_ANGEFORDERT, fee_deadline__lt=today)
    for application in candidates:
        if not fee_expired(
            state=State(application.state), fee_deadline=application.fee_deadline, today=today
        ):
            continue
        result.count += 1
        result.items.append(application.reference)
        if not dry_run:
            _expire_one(application.pk, today)
    return result


@transaction.atomic
def _expire_one(pk: int, today: dt.date) -> None:
    application = Application.objects.select_for_update().get(pk=pk)
    if application.state != State.GEBUEHR_ANGEFORDERT:
        return
    before = _transition(
        application, Event.FEE_EXPIRED, Context(today=today, fee_deadline=application.fee_deadline)
    )
    application.save()
    entry = _history(
        application,
        actor=None,
        event=Event.FEE_EXPIRED,
        label=EVENT_LABELS[Event.FEE_EXPIRED],
        before=before,
    )
    _audit(None, application, Activity.UPDATE, event="fee_expired")
    _notify(
        f"event:{entry.pk}",
        _applicant_emails(application),
        f"Antrag {application.reference} gilt als zurückgenommen",
        "Die Gebühr wurde nicht innerhalb der gesetzten Frist gezahlt. Der Antrag gilt nach "
        "§ 38 Ärzte-ZV als zurückgenommen.",
    )


# --- sessions, scheduling, decision -------------------------------------------------------------


@transaction.atomic
def create_session(
    *,
    actor,
    bezirk: str,
    committee: str,
    date: dt.date,
    deadline: dt.date | None = None,
    location: str = "",
) -> CommitteeSession:
    if CommitteeSession.objects.filter(bezirk=bezirk, committee=committee, date=date).exists():
        raise AdmissionError(
            "Für diesen Tag ist in Bezirk und Ausschuss schon eine Sitzung angelegt."
        )
    if deadline and deadline >= date:
        raise AdmissionError("Der Annahmeschluss muss vor dem Sitzungstag liegen.")
    session = CommitteeSession.objects.create(
        bezirk=bezirk, committee=committee, date=date, deadline=deadline, location=location
    )
    audit.record(actor=actor, activity=Activity.CREATE, obj=session, object_repr=str(session))
    return session


@transaction.atomic
def schedule(*, actor, application: Application, session: CommitteeSession) -> Application:
    application = Application.objects.select_for_update().get(pk=application.pk)
    if session.bezirk != application.bezirk or session.committee != application.committee:
        raise AdmissionError("Die Sitzung gehört zu einem anderen Bezirk oder Ausschuss.")
    if session.date < timezone.localdate():
        raise AdmissionError("Die Sitzung liegt in der Vergangenheit.")
    before = _transition(application, Event.SCHEDULE)
    application.session = session
    application.save()
    entry = _history(
        application,
        actor=actor,
        event=Event.SCHEDULE,
        label=f"{EVENT_LABELS[Event.SCHEDULE]}: Sitzung am {session.date:%d.%m.%Y}",
        before=before,
    )
    _audit(actor, application, Activity.STAFF_ACTION, event="schedule", session=session.pk)
    _notify(
        f"event:{entry.pk}",
        _applicant_emails(application),
        f"Antrag {application.reference} terminiert",
        f"Der Zulassungsausschuss berät über Ihren Antrag in seiner Sitzung am "
        f"{session.date:%d.%m.%Y}.",
    )
    return application


def _update_registry(*, actor, application: Application) -> bool:
    """On approval the employee counts with the new factor from the effective date."""
    from kvportal.members.services import change_anrechnungsfaktor

    data = application.data
    factor = parse_factor(data.get("factor_to"))
    effective = application.effective_date
    if factor is None or effective is None:
        return False
    work = (
        Taetigkeit.objects.active(effective)
        .filter(
            betriebsstaette=application.betriebsstaette,
            person__lanr=application.employee_lanr,
            role=Role.ANGESTELLT,
        )
        .first()
    ) or (
        Taetigkeit.objects.active()
        .filter(
            betriebsstaette=application.betriebsstaette,
            person__lanr=application.employee_lanr,
            role=Role.ANGESTELLT,
        )
        .first()
    )
    if work is None:
        return False
    hours = parse_hours(data.get("hours"))
    weekly = weekly_hours(hours, per_month=data.get("hours_unit") == "monat") if hours else None
    change_anrechnungsfaktor(
        actor=actor, taetigkeit=work, factor=factor, weekly_hours=weekly, effective=effective
    )
    application.registry_updated_at = timezone.now()
    return True


def _publish_decision(actor, application: Application, content: bytes) -> str:
    """Place the Beschluss in the practice's documents (documents app), for the BSNR and the
    employee's LANR. Returns a note for the history."""
    from kvportal.core.quarters import Quarter
    from kvportal.documents.models import DocType
    from kvportal.documents.services import DocumentError, publish_document

    try:
        with transaction.atomic():
            publish_document(
                actor=actor,
                betriebsstaette=application.betriebsstaette,
                quarter=Quarter.of(application.decided_on or timezone.localdate()),
                doc_type=DocType.BESCHLUSS,
                title=f"Beschluss Zulassungsausschuss {application.reference}",
                content=content,
                lanr=application.employee_lanr or None,
            )
    except DocumentError as exc:
        return f"Beschluss nicht in „Dokumente“ eingestellt: {exc}"
    return "Beschluss unter „Dokumente“ eingestellt."


@transaction.atomic
def decide(*, actor, application: Application, outcome: str, reasons: str = "") -> Application:
    """Beschluss of the session; approval updates the registry from the effective date."""
    application = Application.objects.select_for_update().get(pk=application.pk)
    if outcome not in Outcome.values:
        raise AdmissionError("Bitte wählen Sie genehmigt oder abgelehnt.")
    if outcome == Outcome.ABGELEHNT and not reasons.strip():
        raise AdmissionError("Eine Ablehnung muss begründet werden (§ 41 Abs. 4 Ärzte-ZV).")
    event = Event.APPROVE if outcome == Outcome.GENEHMIGT else Event.REJECT
    before = _transition(application, event)
    application.outcome = outcome
    application.decided_on = application.session.date if application.session else None
    application.decision_reasons = reasons.strip()
    registry_note = ""
    if outcome == Outcome.GENEHMIGT:
        if _update_registry(actor=actor, application=application):
            registry_note = "Anrechnungsfaktor im Arztregister ab dem Wirksamkeitsdatum geändert."
        else:
            registry_note = (
                "Im Arztregister wurde keine passende Anstellung gefunden – bitte das "
                "Arztregister manuell aktualisieren."
            )
    application.save()
    content = pdfs.decision_pdf(application)
    _store_generated(application, GeneratedFile.Kind.BESCHLUSS, content)
    registry_note = " ".join(
        p for p in (registry_note, _publish_decision(actor, application, content)) if p
    )
    entry = _history(
        application,
        actor=actor,
        event=event,
        label=EVENT_LABELS[event],
        before=before,
        note=registry_note,
    )
    _audit(actor, application, Activity.DECISION, outcome=outcome)
    _notify(
        f"event:{entry.pk}",
        _applicant_emails(application),
        f"Beschluss zu Antrag {application.reference}",
        "Der Zulassungsausschuss hat über Ihren Antrag entschieden. Den Beschluss finden Sie im "
        "Portal unter „Meine Anträge“.",
    )
    return application


@transaction.atomic
def finalize(*, actor, application: Application, final_on: dt.date) -> Application:
    """The decision became final; where due, the administrative fee is invoiced."""
    application = Application.objects.select_for_update().get(pk=application.pk)
    if application.decided_on and final_on < application.decided_on:
        raise AdmissionError("Die Rechtskraft kann nicht vor dem Beschluss eintreten.")
    before = _transition(application, Event.FINALIZE)
    application.final_on = final_on
    invoice = application.outcome == Outcome.GENEHMIGT and bool(application.admin_fee_amount)
    if invoice:
        application.admin_fee_invoiced_at = timezone.now()
    application.save()
    if invoice:
        _store_generated(
            application, GeneratedFile.Kind.VERWALTUNGSGEBUEHR, pdfs.admin_fee_pdf(application)
        )
    _history(
        application,
        actor=actor,
        event=Event.FINALIZE,
        label=EVENT_LABELS[Event.FINALIZE],
        before=before,
        note=f"Verwaltungsgebühr {fmt_money(application.admin_fee_amount)} in Rechnung gestellt."
        if invoice
        else "",
    )
    _audit(actor, application, Activity.STAFF_ACTION, event="finalize", invoice=invoice)
    return application


def purge_stale_drafts(*, now: dt.datetime, dry_run: bool = False) -> PurgeResult:
    """Drafts nobody touched for ADMISSION_DRAFT_DAYS (default 180) are deleted with their
    uploads (data minimisation; nothing was submitted)."""
    days = int(getattr(settings, "ADMISSION_DRAFT_DAYS", 180))
    result = PurgeResult(name="zulassung_entwuerfe")
    stale = Application.objects.filter(
        state=State.ENTWURF, updated_at__lt=now - dt.timedelta(days=days)
    )
    for application in stale:
        result.count += 1
        result.items.append(application.reference)
        if not dry_run:
            delete_draft(actor=None, application=application)
    return result


CLOSED_STATES = (State.RECHTSKRAEFTIG, State.ZURUECKGENOMMEN, State.GILT_ALS_ZURUECKGENOMMEN)
FILE_YEARS = 5  # § 43 Ärzte-ZV: Akten fünf Jahre
BESCHLUSS_YEARS = 20  # § 43 Ärzte-ZV: Urschriften von Beschlüssen zwanzig Jahre


def _years_before(now: dt.datetime, years: int) -> dt.datetime:
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def purge_closed_files(*, now: dt.datetime, dry_run: bool = False) -> PurgeResult:
    """§ 43 Ärzte-ZV: five years after an application was closed its file (data, uploads,
    copies, confirmations) is deleted and only the Beschluss with the key data is kept; twenty
    years after, the rest is deleted too."""
    from django.db.models import Max, Q

    result = PurgeResult(name="zulassung_aufbewahrung")
    closed = Application.objects.filter(state__in=[s.value for s in CLOSED_STATES]).annotate(
        closed_at=Max(
            "history__at", filter=Q(history__to_state__in=[s.value for s in CLOSED_STATES])
        )
    )
    for application in closed.filter(closed_at__lt=_years_before(now, BESCHLUSS_YEARS)):
        result.count += 1
        result.items.append(f"{application.reference} (gelöscht)")
        if not dry_run:
            _delete_closed(application.pk)
    reducible = closed.filter(
        closed_at__lt=_years_before(now, FILE_YEARS),
        closed_at__gte=_years_before(now, BESCHLUSS_YEARS),
    ).exclude(data={})
    for application in reducible:
        result.count += 1
        result.items.append(f"{application.reference} (Akte reduziert)")
        if not dry_run:
            _reduce_closed(application.pk)
    return result


@transaction.atomic
def _reduce_closed(pk: int) -> None:
    application = Application.objects.select_for_update().get(pk=pk)
    for item in application.attachments.all():
        private_storage.delete(item.path)
        item.delete()
    for item in application.files.exclude(kind=GeneratedFile.Kind.BESCHLUSS):
        private_storage.delete(item.path)
        item.delete()
    application.signatories.all().delete()
    application.nachforderungen.all().delete()
    application.data = {}
    application.save(update_fields=["data"])
    _audit(None, application, Activity.DELETE, event="aufbewahrung_5_jahre")


@transaction.atomic
def _delete_closed(pk: int) -> None:
    application = Application.objects.select_for_update().get(pk=pk)
    _audit(None, application, Activity.DELETE, event="aufbewahrung_20_jahre")
    for item in [*application.attachments.all(), *application.files.all()]:
        private_storage.delete(item.path)
    application.delete()


@transaction.atomic
def delete_session(*, actor, session: CommitteeSession) -> None:
    """Remove a session that no application is assigned to (e.g. entered by mistake)."""
    session = CommitteeSession.objects.select_for_update().get(pk=session.pk)
    if session.applications.exists():
        raise AdmissionError(
            "Der Sitzung sind Anträge zugeordnet; bitte diese zuerst einer anderen Sitzung "
            "zuordnen."
        )
    audit.record(actor=actor, activity=Activity.DELETE, obj=session, object_repr=str(session))
    session.delete()

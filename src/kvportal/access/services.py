# Seed 000/001: every named person confirms; initial passwords only in the letter, stored hashed.
"""Writes of the access app. Every function is keyword-only, atomic and audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from kvportal import audit
from kvportal.access import rules
from kvportal.access.models import (
    AccessApplication,
    ApplicationPerson,
    Confirmation,
    CredentialLetter,
)
from kvportal.access.registry import Arztregister
from kvportal.accounts import scope
from kvportal.accounts import services as account_services
from kvportal.accounts.constants import AccountKind, Right, StaffRole
from kvportal.accounts.models import User
from kvportal.audit.models import Activity
from kvportal.core import confirmation as one_time
from kvportal.members.constants import Profession
from kvportal.members.models import Betriebsstaette, Person

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.db.models import QuerySet

    from kvportal.core.registry import PurgeResult


def __getattr__(name: str) -> int:
    # the former constants, now the shared limits (settings CONFIRMATION_*)
    if name == "CODE_MAX_ATTEMPTS":
        return one_time.limits().max_attempts
    if name == "RESEND_PAUSE_SECONDS":
        return int(one_time.limits().resend_after.total_seconds())
    raise AttributeError(name)


def confirmation_days() -> int:
    return int(settings.ACCESS_CONFIRMATION_DAYS)


def _hash(raw: str) -> str:
    return one_time.hash_token(raw)


def _real_user(actor: User | None) -> User | None:
    return actor if getattr(actor, "pk", None) else None


class SubmissionError(ValidationError):
    """The application has errors; ``findings`` carries them per field."""

    def __init__(self, findings: list[rules.Finding]):
        self.findings = findings
        super().__init__([f.message for f in findings])


# --- application (member side) ----------------------------------------------------------------


@transaction.atomic
def create_application(
    *,
    actor: User | None,
    variant: rules.Variant | str,
    contact_email: str,
    nonce: str = "",
    bsnr: str = "",
    practice_name: str = "",
) -> tuple[AccessApplication, str | None]:
    """A new draft. Returns (application, draft token); the token is None when the same form
    (``nonce``) was already submitted — a double POST creates one application."""
    if nonce:
        existing = AccessApplication.objects.filter(creation_nonce=nonce).first()
        if existing is not None:
            return existing, None
    raw, digest = one_time.new_token()
    user = _real_user(actor)
    try:
        with transaction.atomic():
            app = AccessApplication.objects.create(
                reference=f"tmp-{uuid.uuid4().hex[:16]}",
                variant=rules.Variant(variant).value,
                contact_email=contact_email.strip(),
                created_by=user if user and user.kind != AccountKind.STAFF else None,
                creation_nonce=nonce or None,
                draft_token_hash=digest,
                bsnr=bsnr.strip(),
                practice_name=practice_name.strip(),
            )
    except IntegrityError:
        return AccessApplication.objects.get(creation_nonce=nonce), None
    app.reference = f"OZ-{timezone.now():%Y}-{app.pk:05d}"
    app.save(update_fields=["reference"])
    audit.record(actor=user, activity=Activity.CREATE, obj=app, detail={"variant": app.variant})
    from kvportal.access import notifications

    notifications.queue_draft_link(app, raw)
    return app, raw


def find_by_token(raw: str) -> AccessApplication | None:
    if not raw:
        return None
    return AccessApplication.objects.filter(draft_token_hash=_hash(raw)).first()


PERSON_FIELDS = (
    "role",
    "last_name",
    "first_name",
    "email",
    "lanr",
    "listed",
    "right_billing",
    "right_docs_bsnr",
    "right_docs_lanr",
)


def _require_editable(application: AccessApplication) -> None:
    if not application.is_editable:
        raise ValidationError(
            f"Der Antrag {application.reference} ist im Status „{application.status_label}“ "
            "und kann nicht mehr geändert werden."
        )


@transaction.atomic
def save_draft(
    *,
    actor: User | None,
    application: AccessApplication,
    practice_name: str,
    bsnr: str,
    traeger_name: str,
    variant: rules.Variant | str,
    persons: list[dict],
    acknowledged: bool,
) -> AccessApplication:
    """Store the form as it is (drafts may be incomplete); the checks run at review time."""
    application = AccessApplication.objects.select_for_update().get(pk=application.pk)
    _require_editable(application)
    application.practice_name = practice_name.strip()
    application.bsnr = bsnr.strip()
    application.traeger_name = traeger_name.strip()
    application.variant = rules.Variant(variant).value
    if acknowledged and application.notes_acknowledged_at is None:
        application.notes_acknowledged_at = timezone.now()
    elif not acknowledged:
        application.notes_acknowledged_at = None
    application.save()
    application.persons.all().delete()
    for position, row in enumerate(persons):
        values = {k: row.get(k) for k in PERSON_FIELDS if k in row}
        for key in ("last_name", "first_name", "email", "lanr"):
            values[key] = (values.get(key) or "").strip()
        ApplicationPerson.objects.create(application=application, position=position, **values)
    audit.record(
        actor=_real_user(actor),
        activity=Activity.UPDATE,
        obj=application,
        detail={"persons": len(persons)},
    )
    return application


def pending_duplicate(application: AccessApplication) -> AccessApplication | None:
    if not application.bsnr:
        return None
    return (
        AccessApplication.objects.filter(bsnr=application.bsnr, status__in=rules.PENDING)
        .exclude(pk=application.pk)
        .order_by("created_at")
        .first()
    )


def check(application: AccessApplication) -> list[rules.Finding]:
    """All checks incl. Arztregister, duplicate pending application and acknowledgement."""
    findings = rules.check_application(application.to_rules(), Arztregister())
    other = pending_duplicate(application)
    if other is not None:
        findings.append(
            rules.Finding(
                "bsnr",
                f"Für die BSNR {application.bsnr} liegt bereits der Antrag {other.reference} "
                f"vom {timezone.localtime(other.created_at):%d.%m.%Y} vor (Status: "
                f"{other.status_label}). Bitte warten Sie dessen Bearbeitung ab oder wenden "
                "Sie sich unter Angabe dieser Antragsnummer an das Arztregister.",
            )
        )
    practice = Betriebsstaette.objects.filter(bsnr=application.bsnr).first()
    if practice is not None and practice.kind != application.variant:
        findings.append(
            rules.Finding(
                "variant",
                f"Laut Arztregister ist die BSNR {practice.bsnr} eine "
                f"{practice.get_kind_display()}, beantragt ist "
                f"{rules.VARIANT_LABELS[application.variant_enum]}. Das Arztregister prüft dies.",
                rules.Level.FLAG,
                registry=True,
            )
        )
    if application.notes_acknowledged_at is None:
        findings.append(
            rules.Finding(
                "acknowledge",
                "Bitte bestätigen Sie, dass Sie die Hinweise zu Sicherheit und Datenschutz "
                "zur Kenntnis genommen haben.",
            )
        )
    return findings


def check_for_applicant(application: AccessApplication) -> list[rules.Finding]:
    """:func:`check` as the applicant may see it: no Arztregister results (finding 8), only
    neutral notes; the exact flags stay with the staff (``application.flags``)."""
    return rules.for_applicant(application.to_rules(), check(application))


def confirmed_map(application: AccessApplication) -> dict[str, str]:
    return {
        c.person_key: c.fingerprint
        for c in application.confirmations.filter(confirmed_at__isnull=False)
    }


def missing_persons(application: AccessApplication) -> list[ApplicationPerson]:
    missing_keys = {
        rules.person_key(p)
        for p in rules.missing_confirmations(application.to_rules(), confirmed_map(application))
    }
    return [p for p in application.persons.all() if p.key in missing_keys]


@transaction.atomic
def submit(*, actor: User | None, application: AccessApplication) -> AccessApplication:
    """Freeze the content and ask every required person to confirm it.

    Idempotent: a second submit of an application that is no longer editable changes nothing.
    """
    application = AccessApplication.objects.select_for_update().get(pk=application.pk)
    if not application.is_editable:
        return application
    findings = check(application)
    errs = rules.errors(findings)
    if errs:
        raise SubmissionError(errs)
    rules.check_transition(application.status_enum, rules.Status.BESTAETIGUNG)
    data = application.to_rules()
    application.fingerprint = rules.content_fingerprint(data)
    application.flags = [{"field": f.field, "message": f.message} for f in rules.flags(findings)]
    application.status = rules.Status.BESTAETIGUNG
    application.sent_for_confirmation_at = timezone.now()
    application.staff_message = ""
    application.save()
    confirmed = confirmed_map(application)
    to_send: list[int] = []
    for person in application.persons.all():
        key = person.key
        if confirmed.get(key) == application.fingerprint:
            continue
        if open_requests(application, key).exists():
            continue
        conf = Confirmation.objects.create(
            application=application,
            person=person,
            person_key=key,
            fingerprint=application.fingerprint,
            token_hash=one_time.new_token()[1],
            expires_at=timezone.now() + dt.timedelta(days=confirmation_days()),
        )
        to_send.append(conf.pk)
    audit.record(
        actor=_real_user(actor),
        activity=Activity.SUBMIT,
        obj=application,
        detail={"flags": len(application.flags), "confirmations": len(to_send)},
    )
    from kvportal.access import tasks
    from kvportal.core.tasks import enqueue_job

    for pk in to_send:
        enqueue_job(tasks.send_confirmation_request, pk)
    _complete_if_ready(application)
    _notify(application)
    return application


def open_requests(application: AccessApplication, key: str) -> QuerySet[Confirmation]:
    """Open (unconfirmed, unexpired) requests for this key and the current fingerprint."""
    return application.confirmations.filter(
        person_key=key,
        fingerprint=application.fingerprint,
        confirmed_at__isnull=True,
        expires_at__gt=timezone.now(),
    )


def _notify(application: AccessApplication) -> None:
    from kvportal.access import tasks
    from kvportal.core.tasks import enqueue_job

    enqueue_job(tasks.notify_status, application.pk, application.status)


def _complete_if_ready(application: AccessApplication) -> bool:
    """Seed 000: the application counts as submitted only with every required confirmation."""
    if application.status != rules.Status.BESTAETIGUNG:
        return False
    data = application.to_rules()
    if rules.content_fingerprint(data) != application.fingerprint:
        return False
    if not rules.is_complete(data, confirmed_map(application)):
        return False
    rules.check_transition(application.status_enum, rules.Status.EINGEREICHT)
    application.status = rules.Status.EINGEREICHT
    application.submitted_at = timezone.now()
    application.save(update_fields=["status", "submitted_at", "updated_at"])
    audit.record(actor=None, activity=Activity.SUBMIT, obj=application, detail={"complete": True})
    _notify(application)
    return True


@transaction.atomic(durable=True)
def back_to_draft(*, actor: User | None, application: AccessApplication) -> AccessApplication:
    """The applicant wants to change the content while confirmations are running."""
    application = AccessApplication.objects.select_for_update().get(pk=application.pk)
    if application.status == rules.Status.ENTWURF:
        return application
    rules.check_transition(application.status_enum, rules.Status.ENTWURF)
    application.status = rules.Status.ENTWURF
    application.save(update_fields=["status", "updated_at"])
    audit.record(actor=_real_user(actor), activity=Activity.UPDATE, obj=application)
    return application


@transaction.atomic(durable=True)
def withdraw(*, actor: User | None, application: AccessApplication) -> AccessApplication:
    application = AccessApplication.objects.select_for_update().get(pk=application.pk)
    rules.check_transition(application.status_enum, rules.Status.ZURUECKGEZOGEN)
    application.status = rules.Status.ZURUECKGEZOGEN
    application.save(update_fields=["status", "updated_at"])
    audit.record(
        actor=_real_user(actor),
        activity=Activity.UPDATE,
        obj=application,
        detail={"status": application.status},
    )
    _notify(application)
    return application


# --- confirmations ----------------------------------------------------------------------------


CODE_PURPOSE = "access"
RENEW = "Bitte lassen Sie sich einen neuen Code senden."


def _legacy_code_hash(confirmation: Confirmation, code: str) -> str:
    """How codes mailed before core.confirmation were stored (still accepted until used)."""
    raw = f"{confirmation.pk}:{confirmation.token_hash}:{code.strip()}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _code_matches(confirmation: Confirmation, code: str) -> bool:
    return one_time.code_matches(
        confirmation.code_hash,
        code,
        purpose=CODE_PURPOSE,
        key=confirmation.pk,
        legacy=[_legacy_code_hash(confirmation, code)],
    )


@transaction.atomic
def prepare_confirmation_request(*, confirmation_id: int) -> tuple[Confirmation, str, str] | None:
    """New link token and one-time code for a request (invalidates earlier ones)."""
    conf = Confirmation.objects.select_for_update().filter(pk=confirmation_id).first()
    if conf is None or conf.confirmed_at is not None:
        return None
    raw, conf.token_hash = one_time.new_token()
    code = one_time.new_code()
    now = timezone.now()
    conf.code_hash = one_time.hash_code(code, purpose=CODE_PURPOSE, key=conf.pk)
    conf.attempts = 0
    conf.expires_at = now + dt.timedelta(days=confirmation_days())
    sending = one_time.count_sending(day=conf.codes_day, sent_on_day=conf.codes_sent, now=now)
    conf.code_sent_at, conf.codes_day, conf.codes_sent = now, sending.day, sending.count
    conf.save(
        update_fields=[
            "token_hash",
            "code_hash",
            "attempts",
            "expires_at",
            "code_sent_at",
            "codes_day",
            "codes_sent",
        ]
    )
    audit.record(
        actor=None,
        activity=Activity.CREATE,  # a system step, not an action of KV staff
        obj=conf.application,
        detail={"confirmation_request": conf.pk},
    )
    return conf, raw, code


def send_confirmation_request(*, confirmation_id: int) -> bool:
    """Issue 11: mail request no. `sends_requested` once. New token and code are stored in the
    same transaction as the delivery marker and the send: a failed send rolls all back (the
    retry makes a fresh code); after a sent mail a re-run is skipped, so the stored hashes stay
    those of the mailed code. Plain codes are never stored, so nothing can be re-sent as is."""
    from kvportal.access import notifications
    from kvportal.core.tasks import deliver_once

    conf = Confirmation.objects.filter(pk=confirmation_id).first()
    if conf is None or conf.confirmed_at is not None:
        return False

    def send() -> None:
        prepared = prepare_confirmation_request(confirmation_id=confirmation_id)
        if prepared is not None:
            notifications.send_confirmation_request(*prepared)

    return deliver_once(f"access.confirmation:{conf.pk}:{conf.sends_requested}", send)


def find_confirmation(raw: str) -> Confirmation | None:
    if not raw:
        return None
    return (
        Confirmation.objects.select_related("application", "person")
        .filter(token_hash=_hash(raw))
        .first()
    )


def _validate_open(conf: Confirmation) -> None:
    app = conf.application
    if conf.confirmed_at is not None:
        return
    if app.status != rules.Status.BESTAETIGUNG or conf.fingerprint != app.fingerprint:
        raise ValidationError(
            "Diese Bestätigungsanfrage ist nicht mehr gültig, weil der Antrag inzwischen geändert "
            "wurde oder nicht mehr auf Bestätigungen wartet."
        )
    if conf.expires_at <= timezone.now():
        raise ValidationError(
            "Diese Bestätigungsanfrage ist abgelaufen. Bitte lassen Sie sich vom Antragsteller "
            "einen neuen Code senden."
        )


def _mark_confirmed(conf: Confirmation, method: str, user: User | None) -> None:
    conf.confirmed_at = timezone.now()
    conf.method = method
    conf.confirmed_by = user
    conf.save(update_fields=["confirmed_at", "method", "confirmed_by"])
    audit.record(
        actor=user,
        activity=Activity.SIGN,
        obj=conf.application,
        detail={"confirmation": conf.pk, "method": method},
    )
    app = AccessApplication.objects.select_for_update().get(pk=conf.application_id)
    _complete_if_ready(app)


def confirm_with_code(*, actor: User | None, confirmation: Confirmation, code: str) -> Confirmation:
    """Confirm with the one-time code from the e-mail. Failed attempts are counted (max. 5)."""
    conf, error = _confirm_with_code(actor=actor, confirmation=confirmation, code=code)
    if error:
        raise CodeMismatch(error)
    return conf


@transaction.atomic
def _confirm_with_code(
    *, actor: User | None, confirmation: Confirmation, code: str
) -> tuple[Confirmation, str]:
    conf = (
        Confirmation.objects.select_for_update(of=("self",))
        .select_related("application")
        .get(pk=confirmation.pk)
    )
    if conf.confirmed_at is not None:
        return conf, ""
    _validate_open(conf)
    # the code lives as long as its link (both in one e-mail): no expiry of its own
    refusal = one_time.attempt_refusal(
        attempts=conf.attempts, sent_at=None, now=timezone.now(), renew=RENEW
    )
    if refusal:
        return conf, refusal
    if not _code_matches(conf, code):
        conf.attempts += 1
        conf.save(update_fields=["attempts"])
        audit.record(
            actor=_real_user(actor),
            activity=Activity.OTP_FAILED,  # "Falscher Sicherheitscode"
            obj=conf.application,
            detail={"confirmation": conf.pk, "code": "falsch"},
        )
        return conf, one_time.wrong_code_message(conf.attempts, renew=RENEW)
    _mark_confirmed(conf, Confirmation.Method.EMAIL_CODE, _real_user(actor))
    return conf, ""


class CodeMismatch(ValidationError):
    pass


def can_confirm_by_login(user: User | AnonymousUser | None, conf: Confirmation) -> bool:
    """His portal login: the logged-in member is the Arztregister person with that LANR."""
    if user is None or not user.is_authenticated or user.kind == AccountKind.STAFF:
        return False
    person = conf.current_person
    return bool(
        person is not None
        and person.lanr
        and user.person is not None  # no query without a person
        and user.person.lanr == person.lanr
    )


@transaction.atomic(durable=True)
def confirm_with_login(*, actor: User | None, confirmation: Confirmation) -> Confirmation:
    """The named person confirms with his portal login (anybody else, or nobody logged in:
    refused)."""
    conf = (
        Confirmation.objects.select_for_update(of=("self",))
        .select_related("application", "person")
        .get(pk=confirmation.pk)
    )
    if conf.confirmed_at is not None:
        return conf
    if actor is None or not can_confirm_by_login(actor, conf):
        raise PermissionDenied("Diese Bestätigung kann nur die genannte Person selbst abgeben.")
    _validate_open(conf)
    _mark_confirmed(conf, Confirmation.Method.LOGIN, actor)
    return conf


@transaction.atomic
def confirm_with_qes(
    *, actor: User | None, confirmation: Confirmation, evidence: dict
) -> Confirmation:
    """§ 36a SGB I: the person's qualified electronic signature (eHBA) on the application PDF.
    Called by kvportal.ehba only after it validated the signature and matched it to this
    person; ``evidence`` names the stored Prüfprotokoll."""
    conf = (
        Confirmation.objects.select_for_update(of=("self",))
        .select_related("application")
        .get(pk=confirmation.pk)
    )
    if conf.confirmed_at is not None:
        return conf
    _validate_open(conf)
    conf.evidence = {**(conf.evidence or {}), **evidence}
    conf.save(update_fields=["evidence"])
    _mark_confirmed(conf, Confirmation.Method.QES, _real_user(actor))
    return conf


@transaction.atomic(durable=True)
def resend_confirmation(*, actor: User | None, confirmation: Confirmation) -> None:
    conf = Confirmation.objects.select_related("application").get(pk=confirmation.pk)
    if conf.confirmed_at is not None:
        return
    app = conf.application
    if app.status != rules.Status.BESTAETIGUNG or conf.fingerprint != app.fingerprint:
        raise ValidationError("Für diesen Antrag werden keine Bestätigungen mehr benötigt.")
    # rows from before core.confirmation know the last send only through their expiry
    last_sent = conf.code_sent_at or conf.expires_at - dt.timedelta(days=confirmation_days())
    refusal = one_time.resend_refusal(
        last_sent=last_sent, day=conf.codes_day, sent_on_day=conf.codes_sent, now=timezone.now()
    )
    if refusal:
        raise ValidationError(refusal)
    from kvportal.access import tasks
    from kvportal.core.tasks import enqueue_job

    audit.record(
        actor=_real_user(actor), activity=Activity.UPDATE, obj=app, detail={"resend": conf.pk}
    )
    # a new logical message: its own delivery key (issue 11)
    Confirmation.objects.filter(pk=conf.pk).update(sends_requested=F("sends_requested") + 1)
    enqueue_job(tasks.send_confirmation_request, conf.pk)


# --- back office (Arztregister) ---------------------------------------------------------------


def _require_arztregister(actor: User) -> None:
    if not scope.is_staff_role(actor, StaffRole.ARZTREGISTER):
        raise PermissionDenied("Nur das Arztregister darf über Zugangsanträge entscheiden.")


def _locked_submitted(application: AccessApplication) -> AccessApplication:
    app = AccessApplication.objects.select_for_update().get(pk=application.pk)
    if app.status != rules.Status.EINGEREICHT:
        raise ValidationError(
            f"Der Antrag {app.reference} ist im Status „{app.status_label}“; entschieden werden "
            "kann nur über eingereichte Anträge."
        )
    return app


def _register_person(*, actor: User, row: ApplicationPerson) -> Person:
    """Arztregister entry for a LANR approved by staff."""
    from kvportal.members.services import register_person

    return register_person(
        actor=actor,
        lanr=row.lanr or None,
        first_name=row.first_name,
        last_name=row.last_name,
        profession=Profession.ARZT,
        email=row.email,
    )


def _find_account(row: ApplicationPerson) -> User | None:
    members = User.objects.filter(kind=AccountKind.MEMBER, is_active=True)
    if row.lanr:
        return members.filter(person__lanr=row.lanr).order_by("pk").first()
    return (
        members.filter(
            person__isnull=True,
            email__iexact=row.email,
            first_name__iexact=row.first_name,
            last_name__iexact=row.last_name,
        )
        .order_by("pk")
        .first()
    )


@transaction.atomic(durable=True)
def approve(*, actor: User, application: AccessApplication) -> list[CredentialLetter]:
    """Create the accounts (or add rights to existing ones); new accounts get a letter."""
    _require_arztregister(actor)
    app = _locked_submitted(application)
    practice = Betriebsstaette.objects.filter(bsnr=app.bsnr).first()
    if practice is None:
        raise ValidationError(
            f"Die BSNR {app.bsnr} ist im Arztregister nicht angelegt. Bitte legen Sie die "
            "Betriebsstätte zuerst an oder bitten Sie um Nachbesserung."
        )
    letters: list[CredentialLetter] = []
    rows = {p.key: p for p in app.persons.all()}
    for person, rights in rules.accounts_to_create(app.to_rules()):
        row = rows[rules.person_key(person)]
        user = _find_account(row)
        if user is None:
            registry_person = None
            if row.lanr:
                registry_person = Person.objects.filter(lanr=row.lanr).first() or _register_person(
                    actor=actor, row=row
                )
            user, _discarded = account_services.create_member_account(
                actor=actor,
                first_name=row.first_name,
                last_name=row.last_name,
                email=row.email,
                person=registry_person,
            )
            letter = CredentialLetter.objects.create(
                reference=f"tmp-{uuid.uuid4().hex[:16]}",
                user=user,
                application=app,
                bsnr=app.bsnr,
            )
            letter.reference = f"ZB-{letter.pk:06d}"
            letter.save(update_fields=["reference"])
            letters.append(letter)
        for right in sorted(rights):
            account_services.grant_right(
                actor=actor, user=user, betriebsstaette=practice, right=Right(right.value)
            )
        row.account = user
        row.save(update_fields=["account"])
    app.status = rules.Status.GENEHMIGT
    app.decided_by = actor
    app.decided_at = timezone.now()
    app.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
    audit.record(
        actor=actor,
        activity=Activity.DECISION,
        obj=app,
        detail={"decision": "genehmigt", "letters": len(letters)},
    )
    _notify(app)
    return letters


@transaction.atomic(durable=True)
def reject(*, actor: User, application: AccessApplication, reason: str) -> AccessApplication:
    _require_arztregister(actor)
    if not reason.strip():
        raise ValidationError("Bitte geben Sie eine Begründung für die Ablehnung an.")
    app = _locked_submitted(application)
    app.status = rules.Status.ABGELEHNT
    app.staff_message = reason.strip()
    app.decided_by = actor
    app.decided_at = timezone.now()
    app.save()
    audit.record(
        actor=actor,
        activity=Activity.DECISION,
        obj=app,
        detail={"decision": "abgelehnt", "reason": app.staff_message},  # issue 14: in the history
    )
    _notify(app)
    return app


@transaction.atomic(durable=True)
def request_corrections(
    *, actor: User, application: AccessApplication, message: str
) -> AccessApplication:
    _require_arztregister(actor)
    if not message.strip():
        raise ValidationError("Bitte beschreiben Sie, was der Antragsteller ändern soll.")
    app = _locked_submitted(application)
    app.status = rules.Status.NACHBESSERUNG
    app.staff_message = message.strip()
    app.save(update_fields=["status", "staff_message", "updated_at"])
    audit.record(
        actor=actor, activity=Activity.DECISION, obj=app, detail={"decision": "nachbesserung"}
    )
    _notify(app)
    return app


# --- credential letters -----------------------------------------------------------------------


@dataclass
class IssuedLetter:
    letter: CredentialLetter
    password: str


@transaction.atomic
def issue_letters(*, actor: User, letters: list[CredentialLetter]) -> list[IssuedLetter]:
    """Print = issue: each letter gets a new initial password (the earlier one stops working).

    The password exists only in the returned objects (rendered into the PDF); the account
    stores its hash. A letter that was already printed is superseded by a new letter.
    """
    _require_arztregister(actor)
    issued: list[IssuedLetter] = []
    now = timezone.now()
    for letter in letters:
        letter = CredentialLetter.objects.select_for_update().get(pk=letter.pk)
        if letter.superseded_at is not None:
            raise ValidationError(
                f"Das Schreiben {letter.reference} wurde bereits durch ein neueres ersetzt."
            )
        if letter.issued_at is not None:
            letter = _new_letter(user=letter.user, application=letter.application, bsnr=letter.bsnr)
        CredentialLetter.objects.filter(user=letter.user, superseded_at__isnull=True).exclude(
            pk=letter.pk
        ).update(superseded_at=now)
        password = account_services.issue_initial_password(actor=actor, user=letter.user)
        letter.user.refresh_from_db(fields=["initial_password_expires_at"])
        letter.issued_at = now
        letter.issued_by = actor
        letter.valid_until = letter.user.initial_password_expires_at
        letter.save(update_fields=["issued_at", "issued_by", "valid_until"])
        audit.record(
            actor=actor,
            activity=Activity.EXPORT,
            obj=letter.user,
            bsnr=letter.bsnr,
            detail={"letter": letter.reference},
        )
        issued.append(IssuedLetter(letter, password))
    return issued


def _new_letter(
    *, user: User, application: AccessApplication | None, bsnr: str
) -> CredentialLetter:
    letter = CredentialLetter.objects.create(
        reference=f"tmp-{uuid.uuid4().hex[:16]}", user=user, application=application, bsnr=bsnr
    )
    letter.reference = f"ZB-{letter.pk:06d}"
    letter.save(update_fields=["reference"])
    return letter


@transaction.atomic(durable=True)
def reissue_letter(*, actor: User, user: User, bsnr: str = "") -> IssuedLetter:
    """A lost or expired letter: a new one, the old password stops working."""
    _require_arztregister(actor)
    if user.kind == AccountKind.STAFF:
        raise ValidationError("Für Konten der KV werden keine Zugangsschreiben erstellt.")
    if not bsnr:
        practice = scope.practices(user).order_by("bsnr").first()
        bsnr = practice.bsnr if practice else ""
    letter = _new_letter(user=user, application=None, bsnr=bsnr)
    return issue_letters(actor=actor, letters=[letter])[0]


# --- purge ------------------------------------------------------------------------------------


def purge_drafts(*, now: dt.datetime, dry_run: bool = False) -> PurgeResult:
    """Abandoned drafts and withdrawn applications are deleted after ACCESS_DRAFT_DAYS."""
    from kvportal.core.retention import cutoff, purge_in_batches

    @transaction.atomic
    def purge_one(app: AccessApplication) -> None:
        audit.record(
            actor=None, activity=Activity.DELETE, obj=app, detail={"reason": "draft_expired"}
        )
        app.delete()

    due = AccessApplication.objects.filter(
        status__in=[rules.Status.ENTWURF, rules.Status.ZURUECKGEZOGEN],
        updated_at__lt=cutoff(now, days=int(settings.ACCESS_DRAFT_DAYS)),
    ).order_by("pk")
    return purge_in_batches(
        due,
        name="access_drafts",
        purge_one=purge_one,
        label=lambda app: app.reference,
        dry_run=dry_run,
    )

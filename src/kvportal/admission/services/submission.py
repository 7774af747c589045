# § 36a Abs. 2b SGB I (copy after submitting); every named signatory confirms (seed 000).
"""Submission and confirmations of the signatories (portal, QES, e-mail code)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from kvportal import audit
from kvportal.admission import pdfs
from kvportal.admission.models import (
    Application,
    Confirmation,
    GeneratedFile,
    Signatory,
)
from kvportal.admission.rules.lifecycle import (
    PENDING,
    Event,
    State,
)
from kvportal.admission.services.common import (
    AdmissionError,
    DuplicateApplication,
    SubmissionRefused,
    _applicant_emails,
    _audit,
    _history,
    _lock,
    _log_event,
    _notify,
    _store_generated,
    _transition,
    check,
)
from kvportal.audit.models import Activity
from kvportal.core import confirmation as one_time

if TYPE_CHECKING:
    from kvportal.accounts.models import User
    from kvportal.admission.rules.signatories import Signatory as SignatoryRule

CODE_PURPOSE = "admission"


def content_hash(application: Application) -> str:
    payload = {
        "type": application.type_code,
        "data": application.data,
        "attachments": sorted(application.attachments.values_list("kind", "sha256")),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def hash_link_token(token: str) -> str:
    """The signatory link token is stored only as this SHA-256 (core.confirmation)."""
    return one_time.hash_token(token)


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
    token, signatory.token_sha256 = one_time.new_token()
    signatory.save(update_fields=["token_sha256"])
    return token


def _legacy_code_hash(signatory: Signatory, code: str) -> str:
    """How codes mailed before core.confirmation were stored (accepted while still valid)."""
    return hmac.new(
        settings.SECRET_KEY.encode(), f"{signatory.pk}:{code.strip()}".encode(), hashlib.sha256
    ).hexdigest()


def _code_matches(signatory: Signatory, code: str) -> bool:
    return one_time.code_matches(
        signatory.code_hash,
        code,
        purpose=CODE_PURPOSE,
        key=signatory.pk,
        legacy=[_legacy_code_hash(signatory, code)],
    )


def is_submitter(actor: User | None, signatory: SignatoryRule) -> bool:
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


def _user_for(lanr: str, email: str) -> User | None:
    from kvportal.accounts.models import User

    if lanr:
        user = User.objects.filter(person__lanr=lanr, is_active=True).first()
        if user:
            return user
    return None


@transaction.atomic
def submit(*, actor: User, application: Application, token: str) -> Application:
    """Submit (idempotent per form token): freeze the content, list the signatories, confirm
    for the submitting user where he is one, produce the PDF copy."""
    application = _lock(application)
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
        token, token_hash = one_time.new_token()
        signatory = Signatory.objects.create(
            application=application,
            position=position,
            name=s.person.name,
            roles=s.roles,
            role_label=s.label,
            lanr=s.person.lanr,
            email=s.person.email,
            user=user,
            token_sha256=token_hash,
        )
        links[signatory.pk] = token
    _log_event(application, Event.SUBMIT, actor=actor, before=before)
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
    if signatory.user is not None:  # no query without a user
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


def _confirm(
    *, actor: User | None, signatory: Signatory, method: str, evidence: dict | None = None
) -> Confirmation:
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
        _log_event(application, Event.ALL_CONFIRMED, actor=None, before=before)
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
    actor: User | None,
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


@transaction.atomic(durable=True)
def send_code(*, signatory: Signatory) -> None:
    """One-time code by e-mail for signatories without a portal login."""
    signatory = Signatory.objects.select_for_update().get(pk=signatory.pk)
    if signatory.application.state != State.EINGEREICHT or signatory.confirmation is not None:
        raise AdmissionError("Für diesen Antrag ist keine Bestätigung mehr nötig.")
    if not signatory.email:
        raise AdmissionError("Für Sie ist keine E-Mail-Adresse hinterlegt.")
    now = timezone.now()
    refusal = one_time.resend_refusal(
        last_sent=signatory.code_sent_at,
        day=signatory.codes_day,
        sent_on_day=signatory.codes_sent,
        now=now,
    )
    if refusal:
        raise AdmissionError(refusal)
    code = one_time.new_code()
    sending = one_time.count_sending(
        day=signatory.codes_day, sent_on_day=signatory.codes_sent, now=now
    )
    signatory.code_hash = one_time.hash_code(code, purpose=CODE_PURPOSE, key=signatory.pk)
    signatory.code_sent_at = now
    signatory.code_attempts = 0
    signatory.codes_day, signatory.codes_sent = sending.day, sending.count
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
    minutes = int(one_time.limits().code_validity.total_seconds() // 60)
    _notify(
        f"code:{signatory.pk}:{sending.day.isoformat()}:{signatory.codes_sent}",
        [signatory.email],
        f"Ihr Bestätigungscode für Antrag {signatory.application.reference}",
        f"Ihr Einmalcode lautet: {code}\n\nEr ist {minutes} Minuten gültig.",
    )


def confirm_with_code(*, signatory: Signatory, code: str) -> Confirmation:
    """Confirm with the one-time code. Failed attempts are counted even though the call
    raises (the counter is committed before the error is raised)."""
    error = ""
    confirmation = None
    with transaction.atomic(durable=True):
        signatory = Signatory.objects.select_for_update().get(pk=signatory.pk)
        if not signatory.code_hash or signatory.code_sent_at is None:
            error = "Bitte fordern Sie zuerst einen Code an."
        elif refusal := one_time.attempt_refusal(
            attempts=signatory.code_attempts, sent_at=signatory.code_sent_at, now=timezone.now()
        ):
            error = refusal
        elif not _code_matches(signatory, code):
            signatory.code_attempts += 1
            signatory.save(update_fields=["code_attempts"])
            error = one_time.wrong_code_message(signatory.code_attempts)
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
    assert confirmation is not None  # set in the only branch without an error
    return confirmation


@transaction.atomic(durable=True)
def reopen(*, actor: User, application: Application) -> Application:
    """Take a submitted application (still waiting for confirmations) back into draft."""
    application = _lock(application)
    before = _transition(application, Event.REOPEN)
    application.submitted_at = None
    application.submission_token = uuid.uuid4()
    application.save()
    Confirmation.objects.filter(signatory__application=application).update(
        revoked_at=timezone.now()
    )
    application.signatories.all().delete()
    _log_event(
        application,
        Event.REOPEN,
        actor=actor,
        before=before,
        note="Bisherige Bestätigungen sind ungültig.",
    )
    _audit(actor, application, Activity.UPDATE, event="reopen")
    return application


@transaction.atomic(durable=True)
def withdraw(*, actor: User, application: Application, reason: str = "") -> Application:
    """The applicant takes the application back; the reason (issue 14: a destructive decision
    is confirmed with a reason — the page requires one) is kept in the history and audited."""
    application = _lock(application)
    before = _transition(application, Event.WITHDRAW)
    application.save()
    reason = reason.strip()
    _log_event(application, Event.WITHDRAW, actor=actor, before=before, reason=reason)
    _audit(actor, application, Activity.UPDATE, event="withdraw", reason=reason)
    return application

# Seed 000 / KBV IT-Sicherheitsrichtlinie: sessions the user ends are gone server-side; a lost
# password is replaced only by a new letter by post to the practice (never by e-mail).
"""Writes of the account self-service: session records, ending sessions, credential-letter
requests ("Passwort vergessen"), Praxispersonal password resets by their holder."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from kvportal import audit
from kvportal.accounts.constants import AccountKind, Right
from kvportal.audit.context import parse_user_agent
from kvportal.audit.models import Activity
from kvportal.core import confirmation
from kvportal.core.tasks import enqueue_mail
from kvportal.selfservice.models import CredentialLetterRequest, EmailConfirmation, SessionRecord

if TYPE_CHECKING:
    from kvportal.accounts.models import User


def on_login(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is None:
        return
    if not session.session_key:
        session.save()
    browser, system = parse_user_agent(request.META.get("HTTP_USER_AGENT", ""))
    SessionRecord.objects.update_or_create(
        session_key=session.session_key,
        defaults={
            "user": user,
            "created_at": timezone.now(),
            "ip_address": request.META.get("REMOTE_ADDR") or None,
            "browser": browser[:100],
            "operating_system": system[:100],
        },
    )


def on_logout(
    sender: object, request: HttpRequest | None, user: User | None, **kwargs: object
) -> None:
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        SessionRecord.objects.filter(session_key=session.session_key).delete()


@transaction.atomic
def end_session(*, actor: User, record: SessionRecord) -> None:
    """End one of the actor's own sessions (the browser is signed out at its next request)."""
    if record.user_id != actor.pk:
        raise PermissionDenied("Sie können nur Ihre eigenen Sitzungen beenden.")
    Session.objects.filter(session_key=record.session_key).delete()
    audit.record(
        actor=actor,
        activity=Activity.LOGOUT,
        object_type="selfservice.session",
        object_id=record.pk,
        object_repr=str(record),
        detail={"beendet_durch": "Nutzer", "browser": record.browser},
    )
    record.delete()


@transaction.atomic
def end_other_sessions(*, actor: User, current_key: str) -> int:
    records = list(SessionRecord.objects.filter(user=actor).exclude(session_key=current_key))
    for record in records:
        end_session(actor=actor, record=record)
    return len(records)


def _matching_user(username: str, bsnr: str) -> User | None:
    from kvportal.accounts.models import User

    user = User.objects.filter(username__iexact=username.strip(), is_active=True).first()
    if user is None or user.kind == AccountKind.STAFF:
        return None
    if user.portal_rights.filter(betriebsstaette__bsnr=bsnr).exists():
        return user
    return None


@transaction.atomic
def request_credential_letter(
    *, actor: User | None, username: str, bsnr: str
) -> CredentialLetterRequest:
    """Store the request for the Arztregister and tell it by mail. Whether an account matches is
    recorded for the Arztregister only; the requester always gets the same answer."""
    user = _matching_user(username, bsnr)
    request = CredentialLetterRequest.objects.create(
        username=username.strip(), bsnr=bsnr, user=user
    )
    audit.record(
        actor=actor,
        activity=Activity.CREATE,
        obj=request,
        bsnr=bsnr,
        username=username.strip()[:150],
        detail={"konto_gefunden": user is not None},
    )
    if user is not None:
        enqueue_mail(
            f"credential-letter-request-{request.pk}",
            f"Zugangsbrief angefordert: ZB-{request.pk}",
            (
                f"Über „Passwort vergessen“ wurde ein neuer Zugangsbrief angefordert.\n\n"
                f"Anforderung ZB-{request.pk}, Nutzername {user.username}, BSNR {bsnr}.\n"
                "Bitte prüfen und den Brief im Portal unter „Zugangsbrief-Anforderungen“ "
                "ausstellen; er geht per Post an die Praxisanschrift."
            ),
            [settings.ARZTREGISTER_EMAIL],
        )
    return request


@transaction.atomic
def mark_request_handled(*, actor: User, request: CredentialLetterRequest) -> None:
    request.handled_at = timezone.now()
    request.handled_by = actor
    request.save(update_fields=["handled_at", "handled_by"])
    audit.record(actor=actor, activity=Activity.STAFF_ACTION, obj=request, bsnr=request.bsnr)


def holder_practices(holder: User):  # -> QuerySet[Betriebsstaette]
    """Practices where `holder` may administer Praxispersonal (a delegable right held)."""
    from kvportal.accounts import scope

    return (
        scope.practices(holder, Right.BILLING) | scope.practices(holder, Right.DOCS_BSNR)
    ).distinct()


@transaction.atomic
def reset_praxispersonal_password(*, actor: User, target) -> str:
    """The holder issues a new initial password for one of his Praxispersonal accounts."""
    from kvportal.accounts import services as account_services

    if actor.kind != AccountKind.MEMBER or target.kind != AccountKind.PRAXISPERSONAL:
        raise PermissionDenied("Nur Praxisinhaber setzen Passwörter ihres Praxispersonals zurück.")
    if not target.portal_rights.filter(betriebsstaette__in=holder_practices(actor)).exists():
        raise PermissionDenied("Dieses Konto gehört nicht zu Ihrer Praxis.")
    password = account_services.issue_initial_password(actor=actor, user=target)
    SessionRecord.objects.filter(user=target).delete()
    return password


@transaction.atomic
def change_email(*, actor: User, email: str) -> None:
    """The user's own e-mail address (notifications, answers of the KV)."""
    old = actor.email
    actor.email = email.strip()
    actor.save(update_fields=["email"])
    audit.record(
        actor=actor,
        activity=Activity.ACCOUNT_CHANGED,
        obj=actor,
        detail={"feld": "email", "vorher_gesetzt": bool(old)},
    )


# --- e-mail confirmation (issue 14) ------------------------------------------------------------

#: how long a confirmation link stays valid
EMAIL_LINK_VALIDITY = dt.timedelta(days=7)
EMAIL_CONFIRM_SUBJECT = "Bitte bestätigen Sie Ihre E-Mail-Adresse"
EMAIL_CONFIRM_BODY = (
    "Guten Tag,\n\n"
    "bitte bestätigen Sie Ihre E-Mail-Adresse für das Mitgliederportal mit diesem Link "
    "(gültig 7 Tage):\n{url}\n\n"
    "Nach der Bestätigung benachrichtigen wir Sie an diese Adresse, wenn neue Dokumente "
    "bereitstehen. Haben Sie die Bestätigung nicht angefordert, ignorieren Sie diese E-Mail.\n"
)


def email_confirmation_of(user) -> EmailConfirmation | None:
    try:
        return user.email_confirmation
    except EmailConfirmation.DoesNotExist:
        return None


@transaction.atomic(durable=True)
def request_email_confirmation(*, actor: User, now: dt.datetime | None = None) -> EmailConfirmation:
    """Send a secret confirmation link to the actor's current address (resend limits of
    core.confirmation: once a minute, N a day)."""
    from django.urls import reverse

    now = now or timezone.now()
    if not actor.email:
        raise ValidationError({"email": "Bitte hinterlegen Sie zuerst eine E-Mail-Adresse."})
    row, _created = EmailConfirmation.objects.select_for_update().get_or_create(user=actor)
    if row.confirms(actor.email):
        raise ValidationError("Ihre E-Mail-Adresse ist bereits bestätigt.")
    refusal = confirmation.resend_refusal(
        last_sent=row.sent_at, day=row.codes_day, sent_on_day=row.codes_sent, now=now
    )
    if refusal:
        raise ValidationError(refusal.replace("Code", "Bestätigungslink"))
    raw, token_hash = confirmation.new_token()
    sending = confirmation.count_sending(day=row.codes_day, sent_on_day=row.codes_sent, now=now)
    row.email, row.token_hash, row.sent_at = actor.email, token_hash, now
    row.codes_day, row.codes_sent = sending.day, sending.count
    row.save()
    url = settings.PORTAL_URL.rstrip("/") + reverse("selfservice:email_confirm", args=[raw])
    enqueue_mail(
        f"email-confirm:{row.pk}:{token_hash[:16]}",
        EMAIL_CONFIRM_SUBJECT,
        EMAIL_CONFIRM_BODY.format(url=url),
        [actor.email],
    )
    audit.record(
        actor=actor,
        activity=Activity.ACCOUNT_CHANGED,
        obj=actor,
        detail={"feld": "email", "bestaetigung": "angefordert"},
    )
    return row


@transaction.atomic(durable=True)
def confirm_email(*, raw_token: str, now: dt.datetime | None = None) -> EmailConfirmation:
    """Confirm the address the link was sent to; the first confirmation turns the document
    notification on (notification on by default once the address is confirmed)."""
    now = now or timezone.now()
    token_hash = confirmation.hash_token(raw_token or "")
    row = (
        EmailConfirmation.objects.select_for_update()
        .select_related("user")
        .filter(token_hash=token_hash)
        .exclude(token_hash="")
        .first()
    )
    if row is None:
        raise ValidationError("Der Bestätigungslink ist ungültig oder wurde bereits verwendet.")
    user = row.user
    if row.sent_at is None or now - row.sent_at > EMAIL_LINK_VALIDITY:
        raise ValidationError(
            "Der Bestätigungslink ist abgelaufen. Bitte fordern Sie in Ihrem Profil einen neuen an."
        )
    if row.email.lower() != (user.email or "").lower():
        raise ValidationError(
            "Der Link gehört zu einer früheren E-Mail-Adresse. Bitte fordern Sie in Ihrem Profil "
            "einen neuen an."
        )
    row.confirmed_email, row.confirmed_at, row.token_hash = row.email, now, ""
    switched_on = False
    if not row.notification_defaulted:
        row.notification_defaulted = True
        if not user.notify_by_email:
            user.notify_by_email = switched_on = True
            user.save(update_fields=["notify_by_email"])
    row.save()
    audit.record(
        actor=user,
        activity=Activity.ACCOUNT_CHANGED,
        obj=user,
        detail={"feld": "email", "bestaetigung": "bestaetigt", "benachrichtigung_an": switched_on},
    )
    return row

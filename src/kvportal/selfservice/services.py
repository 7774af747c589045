# Seed 000 / KBV IT-Sicherheitsrichtlinie: sessions the user ends are gone server-side; a lost
# password is replaced only by a new letter by post to the practice (never by e-mail).
"""Writes of the account self-service: session records, ending sessions, credential-letter
requests ("Passwort vergessen"), Praxispersonal password resets by their holder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from kvportal import audit
from kvportal.accounts.constants import AccountKind, Right
from kvportal.audit.context import parse_user_agent
from kvportal.audit.models import Activity
from kvportal.core.tasks import enqueue_mail
from kvportal.selfservice.models import CredentialLetterRequest, SessionRecord

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

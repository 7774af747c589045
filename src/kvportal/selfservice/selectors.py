"""Reads of the account self-service (always limited to the acting user or his practices)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.sessions.models import Session
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from kvportal.accounts.constants import AccountKind
from kvportal.selfservice.models import CredentialLetterRequest, SessionRecord

if TYPE_CHECKING:
    from kvportal.accounts.models import User


def active_sessions(user: User) -> list[SessionRecord]:
    """The user's sessions that still exist and have not expired (stale records dropped)."""
    records = list(SessionRecord.objects.filter(user=user))
    alive = set(
        Session.objects.filter(
            session_key__in=[r.session_key for r in records], expire_date__gt=timezone.now()
        ).values_list("session_key", flat=True)
    )
    stale = [r.pk for r in records if r.session_key not in alive]
    if stale:
        SessionRecord.objects.filter(pk__in=stale).delete()
    return [r for r in records if r.session_key in alive]


def own_session(user: User, pk: int) -> SessionRecord:
    return get_object_or_404(SessionRecord.objects.filter(user=user), pk=pk)


def praxispersonal_of(holder: User, pk: int) -> User:
    from kvportal.accounts.models import User
    from kvportal.selfservice.services import holder_practices

    return get_object_or_404(
        User.objects.filter(
            kind=AccountKind.PRAXISPERSONAL,
            portal_rights__betriebsstaette__in=holder_practices(holder),
        ).distinct(),
        pk=pk,
    )


def open_letter_requests() -> QuerySet[CredentialLetterRequest]:
    return CredentialLetterRequest.objects.filter(handled_at__isnull=True).select_related("user")


def letter_request(pk: int) -> CredentialLetterRequest:
    return get_object_or_404(CredentialLetterRequest, pk=pk)

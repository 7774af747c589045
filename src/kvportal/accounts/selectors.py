# Seed 000: a user sees his own access log; holders of the BSNR-wide document right also see
# who opened the practice's documents. Members manage only Praxispersonal of their BSNRs.
"""Reads of accounts data for views and API modules (practice data through `scope`)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from kvportal.accounts import scope
from kvportal.accounts.constants import AccountKind, Right
from kvportal.accounts.models import ApiToken, PortalRight, User, hash_token
from kvportal.audit.models import AccessLogEntry, Activity
from kvportal.members.models import Betriebsstaette


def user_by_username(username: str) -> User | None:
    return User.objects.filter(username=username).first()


def api_token_by_raw(raw: str) -> ApiToken | None:
    """The token with this raw value (compared by its SHA-256 hash), with its holder."""
    return (
        ApiToken.objects.select_related("user", "user__person")
        .filter(token_hash=hash_token(raw))
        .first()
    )


def api_tokens(user: Any) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user_id=user.pk)


def own_api_token(user: Any, pk: int) -> ApiToken:
    """One of the user's own tokens; any other id is 404."""
    return get_object_or_404(api_tokens(user), pk=pk)


def recent_activity(user: Any, *, limit: int = 8) -> list[AccessLogEntry]:
    """The user's latest access-log entries (start page)."""
    return list(AccessLogEntry.objects.filter(user_id=user.pk)[:limit])


def access_log(user: Any, *, practice_view: bool) -> tuple[QuerySet[AccessLogEntry], bool]:
    """(entries, may see the practice view): the own log, or — for holders of the BSNR-wide
    document right asking for it — views and downloads of the practice's documents."""
    bsnrs = [p.bsnr for p in scope.practices(user, Right.DOCS_BSNR)]
    if practice_view and bsnrs:
        condition = Q(
            bsnr__in=bsnrs,
            activity__in=[Activity.VIEW, Activity.DOWNLOAD],
            object_type__startswith="documents.",
        )
    else:
        condition = Q(user_id=user.pk)
    return AccessLogEntry.objects.filter(condition).select_related("user"), bool(bsnrs)


def delegating_practices(user: Any) -> QuerySet[Betriebsstaette]:
    """BSNRs where the member may manage Praxispersonal (billing or BSNR-wide document right),
    ordered by BSNR."""
    return scope.practices_with_any(user, Right.BILLING, Right.DOCS_BSNR)


def praxispersonal_rights(practices: QuerySet[Betriebsstaette]) -> QuerySet[PortalRight]:
    """Rights of Praxispersonal accounts at these BSNRs, by name and BSNR."""
    return (
        PortalRight.objects.filter(
            betriebsstaette__in=[p.pk for p in practices], user__kind=AccountKind.PRAXISPERSONAL
        )
        .select_related("user", "betriebsstaette")
        .order_by("user__last_name", "betriebsstaette__bsnr")
    )


def delegated_right(practices: QuerySet[Betriebsstaette], pk: int) -> PortalRight:
    """A right at one of these BSNRs (the revoke service decides whether it may go)."""
    return get_object_or_404(
        PortalRight.objects.filter(betriebsstaette__in=[p.pk for p in practices]), pk=pk
    )


def confirmed_totp_devices(user: Any) -> list[Any]:
    """The user's confirmed TOTP devices (second-factor check at login)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return list(TOTPDevice.objects.devices_for_user(user, confirmed=True))

# Scope: a signing document or Prüfprotokoll is visible exactly to those who may see its
# application (the owning app's scoped selector); everything else is 404.
"""Reads for the eHBA pages, always through the owning app's scoped querysets."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404

from kvportal.accounts.constants import AccountKind
from kvportal.ehba import services
from kvportal.ehba.models import CardRegistration, SignatureDocument, VerificationReport


def is_staff(user) -> bool:
    return getattr(user, "kind", None) == AccountKind.STAFF


def application_queryset(user, label: str):
    signable = services.signable_for(label)
    if signable is None:
        raise Http404("Nicht gefunden.")
    if is_staff(user):
        if signable.staff_queryset_for is None:
            raise Http404("Nicht gefunden.")
        return signable.staff_queryset_for(user)
    return signable.queryset_for(user)


def application_for(user, label: str, pk: Any):
    queryset = application_queryset(user, label)
    try:
        pk = queryset.model._meta.pk.to_python(pk)
    except (ValueError, TypeError, ValidationError):
        raise Http404("Nicht gefunden.") from None
    return get_object_or_404(queryset, pk=pk)


def _visible_target(user, content_type, object_id):
    label = f"{content_type.app_label}.{content_type.model}"
    return application_for(user, label, object_id)


def document_for(user, pk: int) -> SignatureDocument:
    document = get_object_or_404(SignatureDocument.objects.select_related("content_type"), pk=pk)
    _visible_target(user, document.content_type, document.object_id)
    return document


def report_for(user, pk: int) -> VerificationReport:
    report = get_object_or_404(
        VerificationReport.objects.select_related("content_type", "document", "actor"), pk=pk
    )
    _visible_target(user, report.content_type, report.object_id)
    return report


def registrations_for_staff():
    return CardRegistration.objects.select_related("user", "person").order_by("-registered_at")


def open_challenge_count(session_hash: str, *, since) -> int:
    """Unanswered challenges of one session issued since `since` (the per-session cap)."""
    from kvportal.ehba.models import LoginChallenge

    return LoginChallenge.objects.filter(
        session_hash=session_hash, used_at__isnull=True, created_at__gte=since
    ).count()


def registration_history(user, *, limit: int = 10):
    """The user's own card registrations, newest first."""
    return CardRegistration.objects.filter(user=user).order_by("-registered_at")[:limit]


def own_active_registration(user, pk: int) -> CardRegistration:
    """An active registration of the user's own, else 404."""
    return get_object_or_404(CardRegistration.objects.active(), pk=pk, user=user)

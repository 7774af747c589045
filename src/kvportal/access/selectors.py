# Seed 000/001: an access application is visible to the applicant who created it (or holds
# its link in this session) and to the Arztregister staff; staff never see drafts in the queue.
"""Reads of the access app (applications for portal access, credential letters)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from kvportal.access import rules
from kvportal.access.models import AccessApplication, CredentialLetter


def application_by_reference(reference: str) -> AccessApplication | None:
    """The application with this reference, before any visibility check (the caller
    decides: creator, link holder in the session, or staff)."""
    return AccessApplication.objects.filter(reference=reference).first()


def applications_of(user: Any) -> QuerySet[AccessApplication]:
    """The member's own applications, newest first."""
    return AccessApplication.objects.filter(created_by_id=user.pk).order_by("-created_at")


def staff_applications() -> QuerySet[AccessApplication]:
    """What the Arztregister staff see in the queue: everything except drafts."""
    return AccessApplication.objects.exclude(status=rules.Status.ENTWURF).prefetch_related(
        "persons"
    )


def staff_queue(
    *, status: str = "", variant: str = "", flagged: bool = False, q: str = ""
) -> QuerySet[AccessApplication]:
    qs = staff_applications()
    if status:
        qs = qs.filter(status=status)
    if variant:
        qs = qs.filter(variant=variant)
    if flagged:
        qs = qs.exclude(flags=[])
    if q:
        q = q.strip()
        qs = qs.filter(
            Q(reference__icontains=q) | Q(bsnr__startswith=q) | Q(practice_name__icontains=q)
        )
    return qs.order_by("submitted_at", "created_at")


def letters() -> QuerySet[CredentialLetter]:
    return CredentialLetter.objects.select_related("user", "application").order_by("-pk")


def unprinted_letters() -> QuerySet[CredentialLetter]:
    """Letters neither printed nor replaced by a newer one."""
    return CredentialLetter.objects.filter(issued_at__isnull=True, superseded_at__isnull=True)

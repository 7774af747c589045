# Scope (seed 000): applications are visible to users with portal access at the BSNR who may
# represent the applicant, and to the application's signatories; everyone else gets 404.
"""Reads of the admission app, always through kvportal.accounts.scope."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from kvportal.accounts import scope
from kvportal.admission.models import Application, CommitteeSession, Confirmation, Signatory
from kvportal.admission.rules.lifecycle import State
from kvportal.core.http import is_authenticated
from kvportal.members.constants import Role
from kvportal.members.models import Betriebsstaette, Person, Taetigkeit

if TYPE_CHECKING:
    from django.http import HttpRequest

    from kvportal.accounts.models import User

#: Roles that may file an application for the practice (Vertragsarzt/Gesellschafter,
#: Ärztlicher Leiter, Träger/Geschäftsführer of an MVZ).
APPLICANT_ROLES = (Role.VERTRAGSARZT, Role.AERZTLICHER_LEITER, Role.TRAEGER)


def applicant_practices(user: User) -> QuerySet[Betriebsstaette]:
    """Practices where the user holds a portal right and a representing role."""
    if not getattr(user, "person_id", None):
        return Betriebsstaette.objects.none()
    roles = Taetigkeit.objects.active().filter(person_id=user.person_id, role__in=APPLICANT_ROLES)
    return scope.practices(user).filter(pk__in=roles.values("betriebsstaette_id"))


def applications(user: User) -> QuerySet[Application]:
    """Applications of the user's practices plus those the user has to confirm."""
    practices = applicant_practices(user)
    signed = Signatory.objects.filter(user_id=user.pk).values("application_id")
    return (
        Application.objects.filter(Q(betriebsstaette__in=practices) | Q(pk__in=signed))
        .select_related("betriebsstaette", "session")
        .distinct()
    )


def may_edit(user: User, application: Application) -> bool:
    return applicant_practices(user).filter(pk=application.betriebsstaette_id).exists()


def pending_confirmations(user: User) -> QuerySet[Signatory]:
    confirmed = Confirmation.objects.filter(revoked_at__isnull=True).values("signatory_id")
    return (
        Signatory.objects.filter(user_id=user.pk, application__state="eingereicht")
        .exclude(pk__in=confirmed)
        .select_related("application")
    )


def employees(betriebsstaette: Betriebsstaette) -> QuerySet[Person]:
    """Employed doctors/psychotherapists currently working at the practice."""
    return Person.objects.filter(
        pk__in=Taetigkeit.objects.active()
        .filter(betriebsstaette=betriebsstaette, role=Role.ANGESTELLT)
        .values("person_id")
    ).order_by("last_name", "first_name")


def employees_by_practice(practices: list[Betriebsstaette]) -> dict[int, list[Person]]:
    """`employees` for several practices with one query: practice id → persons by name."""
    rows = (
        Taetigkeit.objects.active()
        .filter(betriebsstaette__in=[p.pk for p in practices], role=Role.ANGESTELLT)
        .select_related("person")
        .order_by("person__last_name", "person__first_name", "person_id")
    )
    result: dict[int, list[Person]] = {p.pk: [] for p in practices}
    for row in rows:
        persons = result[row.betriebsstaette_id]
        if row.person not in persons:
            persons.append(row.person)
    return result


def staff_applications() -> QuerySet[Application]:
    """What the Zulassung staff see: every application except drafts (a draft belongs to the
    practice until it is submitted) — the one place this rule is written."""
    return Application.objects.exclude(state=State.ENTWURF.value)


def staff_application(pk: int) -> Application:
    """One application for the staff pages; drafts and unknown ids are 404."""
    return get_object_or_404(staff_applications(), pk=pk)


def committee_sessions(*, since: dt.date) -> QuerySet[CommitteeSession]:
    return CommitteeSession.objects.filter(date__gte=since)


def staff_inbox(*, bezirk: str = "", committee: str = "", state: str = "") -> QuerySet[Application]:
    qs = staff_applications().select_related("betriebsstaette", "session")
    if bezirk:
        qs = qs.filter(bezirk=bezirk)
    if committee:
        qs = qs.filter(committee=committee)
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("received_at", "submitted_at")


def panel(request: HttpRequest) -> dict[str, Any] | None:
    """Start-page card: open applications and confirmations waiting for the user."""
    if not is_authenticated(request) or scope.is_kv_staff(request.user):
        return None
    user = request.user
    to_confirm = pending_confirmations(user).count()
    open_items = list(
        applications(user).exclude(state__in=["rechtskraeftig", "zurueckgenommen"])[:5]
    )
    if not to_confirm and not open_items:
        return None
    return {"to_confirm": to_confirm, "open": open_items}

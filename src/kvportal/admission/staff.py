"""Counts of open Zulassung work and the next committee sessions for the KV staff start page
(issue 14)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from kvportal.accounts import scope
from kvportal.accounts.constants import StaffRole
from kvportal.admission.models import ApplicationState, CommitteeSession
from kvportal.admission.rules.dates import SessionSlot
from kvportal.admission.rules.lifecycle import OFFICE_STATES
from kvportal.admission.selectors import staff_applications

if TYPE_CHECKING:
    from kvportal.accounts.models import User

#: how many upcoming sessions the start page lists
NEXT_SESSIONS = 3


def staff_counts(user: User) -> list[dict[str, Any]]:
    if not scope.is_staff_role(user, StaffRole.ZULASSUNG):
        return []
    per_state = dict(
        staff_applications()
        .filter(state__in=[s.value for s in OFFICE_STATES])
        .values_list("state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    inbox = reverse("admission:staff_inbox")
    entries: list[dict[str, Any]] = [
        {
            "role": StaffRole.ZULASSUNG,
            "key": f"admission_{state.value}",
            "label": _("Zulassungsanträge: %(state)s") % {"state": state.label},
            "count": per_state.get(state.value, 0),
            "url": f"{inbox}?state={state.value}",
        }
        for state in ApplicationState
        if state.value in {s.value for s in OFFICE_STATES}
    ]
    today = timezone.localdate()
    for session in CommitteeSession.objects.filter(date__gte=today).order_by("date", "pk")[
        :NEXT_SESSIONS
    ]:
        slot = SessionSlot(
            date=session.date,
            bezirk=session.bezirk,
            committee=session.committee,
            deadline=session.deadline,
        )
        entries.append(
            {
                "role": StaffRole.ZULASSUNG,
                "key": f"admission_session_{session.pk}",
                "label": _("Sitzung am %(date)s (%(bezirk)s, %(committee)s)")
                % {
                    "date": f"{session.date:%d.%m.%Y}",
                    "bezirk": session.get_bezirk_display(),
                    "committee": session.get_committee_display(),
                },
                "deadline": slot.receipt_deadline(),
                "detail": _("Annahmeschluss"),
                "url": reverse("admission:session_detail", args=[session.pk]),
            }
        )
    return entries

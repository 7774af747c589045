"""Counts of open Arztregister work for the KV staff start page (issue 14)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.urls import reverse
from django.utils.translation import gettext as _

from kvportal.accounts import scope
from kvportal.accounts.constants import StaffRole
from kvportal.selfservice.selectors import open_letter_requests

if TYPE_CHECKING:
    from kvportal.accounts.models import User


def staff_counts(user: User) -> list[dict[str, Any]]:
    if not scope.is_staff_role(user, StaffRole.ARZTREGISTER):
        return []
    return [
        {
            "role": StaffRole.ARZTREGISTER,
            "key": "selfservice_letter_requests",
            "label": _("Zugangsbrief-Anforderungen"),
            "count": open_letter_requests().count(),
            "url": reverse("selfservice:staff_requests"),
        }
    ]

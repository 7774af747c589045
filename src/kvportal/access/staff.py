"""Counts of open Arztregister work for the KV staff start page (issue 14)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.urls import reverse
from django.utils.translation import gettext as _

from kvportal.access import rules
from kvportal.access.models import AccessApplication
from kvportal.access.selectors import unprinted_letters
from kvportal.accounts import scope
from kvportal.accounts.constants import StaffRole


def staff_counts(user: Any) -> list[dict[str, Any]]:
    if not scope.is_staff_role(user, StaffRole.ARZTREGISTER):
        return []
    apps = AccessApplication.objects.aggregate(
        submitted=Count("pk", filter=Q(status=rules.Status.EINGEREICHT.value))
    )
    queue = reverse("access:staff_queue")
    return [
        {
            "role": StaffRole.ARZTREGISTER,
            "key": "access_submitted",
            "label": _("Zugangsanträge zu entscheiden"),
            "count": apps["submitted"],
            "url": f"{queue}?status={rules.Status.EINGEREICHT.value}",
        },
        {
            "role": StaffRole.ARZTREGISTER,
            "key": "access_letters",
            "label": _("Zugangsbriefe zu drucken"),
            "count": unprinted_letters().count(),
            "url": reverse("access:staff_letters"),
        },
    ]

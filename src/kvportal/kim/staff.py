"""Counts of open Arztregister work (card issuer, KIM account manager) for the KV staff start
page (issue 14)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from kvportal.accounts import scope
from kvportal.accounts.constants import StaffRole
from kvportal.kim.models import AccountState, KimAccount, OrderState, SmcbOrder


def staff_counts(user: Any) -> list[dict[str, Any]]:
    if not scope.is_staff_role(user, StaffRole.ARZTREGISTER):
        return []
    return [
        {
            "role": StaffRole.ARZTREGISTER,
            "key": "kim_smcb_orders",
            "label": _("SMC-B-Bestellungen zu entscheiden"),
            "count": SmcbOrder.objects.filter(state=OrderState.REQUESTED).count(),
            "url": reverse("kim:staff_smcb"),
        },
        {
            "role": StaffRole.ARZTREGISTER,
            "key": "kim_accounts",
            "label": _("KIM-Konten zu entscheiden"),
            "count": KimAccount.objects.filter(state=AccountState.REQUESTED).count(),
            "url": f"{reverse('kim:staff_accounts')}?status={AccountState.REQUESTED.value}",
        },
    ]

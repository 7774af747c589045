"""Reads of the oneclick app (scoped)."""

from __future__ import annotations

from django.db.models import QuerySet

from kvportal.accounts import scope
from kvportal.accounts.constants import Right
from kvportal.oneclick.models import Sammelerklaerung


def sammelerklaerungen(user) -> QuerySet[Sammelerklaerung]:
    """eSE of the practices where the user holds the billing right."""
    return scope.filter_practice(
        user,
        Sammelerklaerung.objects.select_related("submission__betriebsstaette"),
        Right.BILLING,
        bsnr_field="submission__betriebsstaette",
    )

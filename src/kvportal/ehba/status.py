"""The eHBA status line (issue 14): card registered, certificate valid until, last login with
the card – read once for the user's active registration."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from kvportal.ehba.models import CardRegistration

#: from this many days before the certificate ends the status line warns
EXPIRY_WARNING_DAYS = 60


@dataclass(frozen=True)
class CardStatus:
    registration: CardRegistration | None
    valid_until: dt.datetime | None
    days_left: int | None
    last_login_at: dt.datetime | None

    @property
    def registered(self) -> bool:
        return self.registration is not None

    @property
    def expired(self) -> bool:
        return self.days_left is not None and self.days_left < 0

    @property
    def expiring(self) -> bool:
        return self.days_left is not None and 0 <= self.days_left <= EXPIRY_WARNING_DAYS


def card_status(user, *, now: dt.datetime | None = None) -> CardStatus:
    """Status of the user's active card registration (one query)."""
    registration = None
    if getattr(user, "pk", None):
        registration = CardRegistration.objects.active().filter(user=user).first()
    if registration is None:
        return CardStatus(None, None, None, None)
    valid_until = registration.certificate_not_after
    days_left = None
    if valid_until is not None:
        today = timezone.localdate(now or timezone.now())
        days_left = (timezone.localdate(valid_until) - today).days
    return CardStatus(registration, valid_until, days_left, registration.last_login_at)

"""Self-service entries of "Ihre Aufgaben": an account without e-mail address, or with an
address not yet confirmed (issue 14: no notice goes to an unconfirmed address)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils.translation import gettext as _

from kvportal.core.registry import Task

if TYPE_CHECKING:
    from kvportal.accounts.models import User


def tasks(user: User) -> list[Task]:
    from kvportal.accounts.constants import AccountKind

    if user.kind == AccountKind.STAFF:
        return []
    if user.email:
        from kvportal.selfservice.services import email_confirmation_of

        row = email_confirmation_of(user)
        if row is not None and row.confirms(user.email):
            return []
        return [
            Task(
                _("E-Mail-Adresse bestätigen"),
                reverse("selfservice:profile") + "#email-h",
                _(
                    "Erst nach der Bestätigung benachrichtigen wir Sie an %(email)s über neue "
                    "Dokumente."
                )
                % {"email": user.email},
            )
        ]
    return [
        Task(
            _("E-Mail-Adresse hinterlegen"),
            reverse("selfservice:profile"),
            _("Ohne E-Mail-Adresse erfahren Sie nicht, wenn neue Dokumente bereitstehen."),
        )
    ]

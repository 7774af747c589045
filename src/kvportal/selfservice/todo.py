"""Self-service entries of "Ihre Aufgaben": an account without e-mail address."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils.translation import gettext as _

from kvportal.core.registry import Task

if TYPE_CHECKING:
    from kvportal.accounts.models import User


def tasks(user: User) -> list[Task]:
    from kvportal.accounts.constants import AccountKind

    if user.kind == AccountKind.STAFF or user.email:
        return []
    return [
        Task(
            _("E-Mail-Adresse hinterlegen"),
            reverse("selfservice:profile"),
            _("Ohne E-Mail-Adresse erfahren Sie nicht, wenn neue Dokumente bereitstehen."),
        )
    ]

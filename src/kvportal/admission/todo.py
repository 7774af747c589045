"""The admission app's entries of "Ihre Aufgaben" (start page): confirmations and drafts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils.translation import gettext as _

from kvportal.core.registry import Task

if TYPE_CHECKING:
    from kvportal.accounts.models import User


def tasks(user: User) -> list[Task]:
    from kvportal.accounts import scope
    from kvportal.admission import selectors
    from kvportal.admission.models import ApplicationState

    if scope.is_kv_staff(user):
        return []
    result = []
    for signatory in selectors.pending_confirmations(user):
        app = signatory.application
        result.append(
            Task(
                _("Antrag %(ref)s bestätigen") % {"ref": app.reference},
                reverse("admission:detail", args=[app.pk]),
                _("Der Antrag an den Zulassungsausschuss wartet auf Ihre Bestätigung."),
            )
        )
    drafts = selectors.applications(user).filter(state=ApplicationState.ENTWURF)
    for app in drafts:
        if not selectors.may_edit(user, app):
            continue
        result.append(
            Task(
                _("Entwurf %(ref)s fertigstellen") % {"ref": app.reference},
                reverse("admission:detail", args=[app.pk]),
                _("Ihr Antrag an den Zulassungsausschuss ist noch nicht eingereicht."),
            )
        )
    return result

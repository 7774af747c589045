"""The access app's entries of "Ihre Aufgaben" (start page): drafts and corrections."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils.translation import gettext as _

from kvportal.core.registry import Task

if TYPE_CHECKING:
    from kvportal.accounts.models import User


def tasks(user: User) -> list[Task]:
    from kvportal.access import rules
    from kvportal.access.models import AccessApplication
    from kvportal.accounts.constants import AccountKind

    if user.kind != AccountKind.MEMBER:
        return []
    open_states = [rules.Status.ENTWURF.value, rules.Status.NACHBESSERUNG.value]
    result = []
    for app in AccessApplication.objects.filter(created_by=user, status__in=open_states):
        if app.status == rules.Status.NACHBESSERUNG.value:
            label = _("Antrag %(ref)s nachbessern") % {"ref": app.reference}
            detail = _("Das Arztregister bittet um Korrekturen an Ihrem Antrag auf Online-Zugang.")
        else:
            label = _("Antrag %(ref)s fertigstellen") % {"ref": app.reference}
            detail = _("Ihr Antrag auf Online-Zugang ist noch ein Entwurf.")
        result.append(Task(label, reverse("access:edit", args=[app.reference]), detail))
    return result

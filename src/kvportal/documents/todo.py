"""The documents app's entries of "Ihre Aufgaben" (start page): unread documents."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import ngettext

from kvportal.core.registry import Task


def tasks(user) -> list[Task]:
    from kvportal.documents import selectors

    if not selectors.document_practice_ids(user):
        return []
    unread = selectors.unread_count(user)
    if not unread:
        return []
    label = ngettext("%(n)d neues Dokument lesen", "%(n)d neue Dokumente lesen", unread) % {
        "n": unread
    }
    return [Task(label, reverse("documents:list"))]

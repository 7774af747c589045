"""The documents app's entries of "Ihre Aufgaben" (start page): unread Bescheide with their
Widerspruch deadline first, then the number of other unread documents."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kvportal.core.registry import Task

MAX_BESCHEIDE = 5


def tasks(user) -> list[Task]:
    from django.db.models import Exists, OuterRef

    from kvportal.documents import rules, selectors
    from kvportal.documents.models import ReadReceipt

    if not selectors.document_practice_ids(user):
        return []
    unread = selectors.unread_count(user)
    if not unread:
        return []
    today = timezone.localdate()
    bescheide = (
        selectors.visible_documents(user)
        .filter(doc_type__in=rules.BESCHEID_TYPES, notice_sent_at__isnull=False)
        .exclude(Exists(ReadReceipt.objects.filter(document=OuterRef("pk"), user_id=user.pk)))
        .order_by("notice_sent_at")[:MAX_BESCHEIDE]
    )
    result = []
    for document in bescheide:
        deadline = rules.widerspruch_deadline(document.delivery_date)
        if deadline < today:
            continue
        result.append(
            Task(
                _("%(doc)s lesen") % {"doc": document.title},
                reverse("documents:detail", args=[document.pk]),
                _("Widerspruch ist bis zum %(d)s möglich.") % {"d": deadline.strftime("%d.%m.%Y")},
                due=deadline,
            )
        )
    rest = unread - len(result)
    if rest > 0:
        label = ngettext("%(n)d neues Dokument lesen", "%(n)d neue Dokumente lesen", rest) % {
            "n": rest
        }
        result.append(Task(label, reverse("documents:list")))
    return result

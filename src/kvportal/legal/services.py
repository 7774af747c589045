# BITV 2.0 § 7 Abs. 1 Nr. 2: every feedback is stored and forwarded to the KV's contact point.
"""Writes of the legal app: accessibility feedback (stored, mailed to the configured address)
and its purge after `LEGAL_FEEDBACK_RETENTION_DAYS`."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kvportal import audit
from kvportal.audit.models import Activity
from kvportal.core.registry import PurgeResult
from kvportal.core.tasks import enqueue_mail
from kvportal.legal.models import AccessibilityFeedback

if TYPE_CHECKING:
    from kvportal.accounts.models import User


def feedback_address() -> str:
    return settings.ACCESSIBILITY_FEEDBACK_EMAIL


@transaction.atomic
def submit_feedback(
    *, actor: User | None, message: str, page: str = "", name: str = "", email: str = ""
) -> AccessibilityFeedback:
    """Store a barrier report and mail it (once, after commit) to the feedback address."""
    feedback = AccessibilityFeedback.objects.create(
        user=actor if getattr(actor, "pk", None) else None,
        page=page[:300],
        message=message,
        name=name,
        email=email,
    )
    audit.record(actor=actor, activity=Activity.CREATE, obj=feedback)
    created = timezone.localtime(feedback.created_at)
    body = "\n".join(
        [
            f"Neue Rückmeldung zur Barrierefreiheit BF-{feedback.pk} vom {created:%d.%m.%Y %H:%M}",
            "",
            f"Seite: {feedback.page or '(nicht angegeben)'}",
            f"Name: {feedback.name or '(nicht angegeben)'}",
            f"Antwort an: {feedback.email or '(keine Antwort gewünscht)'}",
            "",
            feedback.message,
            "",
            "Bitte antworten Sie innerhalb von sechs Wochen (BITV 2.0, Schlichtungsverfahren "
            "nach § 16 BGG bei ausbleibender Antwort).",
        ]
    )
    enqueue_mail(
        f"legal-feedback-{feedback.pk}",
        f"Barrierefreiheit: Rückmeldung BF-{feedback.pk}",
        body,
        [feedback_address()],
    )
    return feedback


def purge_feedback(*, now: dt.datetime, dry_run: bool = False) -> PurgeResult:
    cutoff = now - dt.timedelta(days=settings.LEGAL_FEEDBACK_RETENTION_DAYS)
    old = AccessibilityFeedback.objects.filter(created_at__lt=cutoff)
    result = PurgeResult(name="legal_feedback", count=old.count())
    if not dry_run and result.count:
        old.delete()
    return result

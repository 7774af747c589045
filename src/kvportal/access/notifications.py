# No health data in e-mails: only reference, practice name, BSNR, status and links.
# Issue 11: every mail is one logical message with a delivery key (core.tasks.deliver_once).
"""E-mails of the access app (draft link, confirmation requests, status changes)."""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from kvportal.access import rules
from kvportal.access.models import AccessApplication, Confirmation


def _url(path: str) -> str:
    return settings.PORTAL_URL.rstrip("/") + path


def _recipients(recipients: list[str]) -> list[str]:
    return sorted({r.strip().lower() for r in recipients if r and r.strip()})


def _send(subject: str, template: str, context: dict, recipients: list[str]) -> int:
    recipients = _recipients(recipients)
    if not recipients:
        return 0
    body = render_to_string(template, context)
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)


def queue_draft_link(app: AccessApplication, token: str) -> None:
    """Queue the draft link (after commit, retried, once per application). The raw token
    exists only here and in the queued mail: the database keeps its hash."""
    from kvportal.core.tasks import enqueue_mail

    enqueue_mail(
        f"access.draft_link:{app.pk}",
        f"Ihr Antrag {app.reference} auf Online-Zugang: Link zum Entwurf",
        render_to_string(
            "access/email/draft_link.txt",
            {"app": app, "link": _url(reverse("access:resume", args=[token]))},
        ),
        _recipients([app.contact_email]),
    )


def send_confirmation_request(conf: Confirmation, token: str, code: str) -> int:
    person = conf.current_person
    if person is None:
        return 0
    app = conf.application
    return _send(
        f"Bitte bestätigen: Antrag {app.reference} auf Online-Zugang",
        "access/email/confirmation_request.txt",
        {
            "app": app,
            "person": person,
            "code": code,
            "link": _url(reverse("access:confirm", args=[token])),
            "valid_until": conf.expires_at,
        },
        [person.email],
    )


def status_key(app: AccessApplication, status: str) -> str:
    """A status recurs only in a new round of confirmations (new `sent_for_confirmation_at`),
    so status + round names one logical status mail."""
    rnd = app.sent_for_confirmation_at.isoformat() if app.sent_for_confirmation_at else "-"
    return f"access.status:{app.pk}:{status}:{rnd}"


def send_status(application_id: int, status: str) -> bool:
    """Send the status mail once (a re-run or a doubled job skips it)."""
    from kvportal.core.tasks import deliver_once

    app = AccessApplication.objects.filter(pk=application_id).first()
    if app is None or app.status != status:
        return False  # a later change has its own message
    recipients = [app.contact_email]
    if app.created_by is not None and app.created_by.email:  # no query without a creator
        recipients.append(app.created_by.email)
    return deliver_once(status_key(app, status), partial(_send_status, app, status, recipients))


def _send_status(app: AccessApplication, status: str, recipients: list[str]) -> int:
    return _send(
        f"Ihr Antrag {app.reference} auf Online-Zugang: "
        f"{rules.STATUS_LABELS[rules.Status(status)]}",
        "access/email/status.txt",
        {
            "app": app,
            "status_label": rules.STATUS_LABELS[rules.Status(status)],
            "link": _url(reverse("access:my_applications")) if app.created_by_id else "",
        },
        recipients,
    )

# No health data in e-mails: only reference, practice name, BSNR, status and links.
"""E-mails of the access app (draft link, confirmation requests, status changes)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from kvportal.access import rules
from kvportal.access.models import AccessApplication, Confirmation


def _url(path: str) -> str:
    return settings.PORTAL_URL.rstrip("/") + path


def _send(subject: str, template: str, context: dict, recipients: list[str]) -> int:
    recipients = sorted({r.strip().lower() for r in recipients if r and r.strip()})
    if not recipients:
        return 0
    body = render_to_string(template, context)
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)


def send_draft_link(application_id: int, token: str) -> int:
    app = AccessApplication.objects.filter(pk=application_id).first()
    if app is None:
        return 0
    return _send(
        f"Ihr Antrag {app.reference} auf Online-Zugang: Link zum Entwurf",
        "access/email/draft_link.txt",
        {"app": app, "link": _url(reverse("access:resume", args=[token]))},
        [app.contact_email],
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


def send_status(application_id: int, status: str) -> int:
    app = AccessApplication.objects.filter(pk=application_id).first()
    if app is None or app.status != status:
        return 0  # a later change has its own message
    recipients = [app.contact_email]
    if app.created_by_id and app.created_by.email:
        recipients.append(app.created_by.email)
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

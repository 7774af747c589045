# Issue 11: mail jobs are retried on SMTP/database errors and send each message once.
"""Tasks of the access app: take IDs, call a service, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from kvportal.core.tasks import MAIL_RETRY


@shared_task(name="kvportal.access.tasks.send_confirmation_request", **MAIL_RETRY)
def send_confirmation_request(confirmation_id: int) -> bool:
    from kvportal.access import services

    return services.send_confirmation_request(confirmation_id=confirmation_id)


@shared_task(name="kvportal.access.tasks.notify_status", **MAIL_RETRY)
def notify_status(application_id: int, status: str) -> bool:
    from kvportal.access import notifications

    return notifications.send_status(application_id, status)

"""Tasks of the access app: take IDs, call a service, safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="kvportal.access.tasks.send_confirmation_request")
def send_confirmation_request(confirmation_id: int) -> bool:
    from kvportal.access import notifications, services

    prepared = services.prepare_confirmation_request(confirmation_id=confirmation_id)
    if prepared is None:
        return False
    conf, token, code = prepared
    notifications.send_confirmation_request(conf, token, code)
    return True


@shared_task(name="kvportal.access.tasks.notify_status")
def notify_status(application_id: int, status: str) -> bool:
    from kvportal.access import notifications

    return notifications.send_status(application_id, status)

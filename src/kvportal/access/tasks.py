# Issue 11: mail jobs run from the durable outbox (core.tasks.enqueue_job: retried with
# back-off, recovered after a crash) and send each message once (core.tasks.deliver_once).
"""Tasks of the access app: take IDs, call a service, safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="kvportal.access.tasks.send_confirmation_request")
def send_confirmation_request(confirmation_id: int) -> bool:
    from kvportal.access import services

    return services.send_confirmation_request(confirmation_id=confirmation_id)


@shared_task(name="kvportal.access.tasks.notify_status")
def notify_status(application_id: int, status: str) -> bool:
    from kvportal.access import notifications

    return notifications.send_status(application_id, status)

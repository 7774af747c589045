# Durable background work (issue 11): stalled jobs are started again, by the periodic job with a
# broker and lazily from requests without one; every job is idempotent.
"""Task helpers, the periodic purge job and the recovery of stalled background work."""

from __future__ import annotations

import logging
import threading
import time
from functools import partial

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


def enqueue(task, *args) -> None:
    """Dispatch `task(*args)` after the current transaction commits (in-process when eager)."""
    transaction.on_commit(partial(task.delay, *args))


@shared_task(name="kvportal.core.tasks.purge_expired")
def purge_expired() -> dict[str, int]:
    from kvportal.core.registry import run_purgers, run_recoverers

    result = {r.name: r.count for r in run_purgers(now=timezone.now())}
    result.update({f"recovered:{k}": v for k, v in run_recoverers(now=timezone.now()).items()})
    return result


@shared_task(name="kvportal.core.tasks.recover_stalled")
def recover_stalled() -> dict[str, int]:
    """Periodic job (beat): start background work again whose lease ran out."""
    from kvportal.core.registry import run_recoverers

    return run_recoverers(now=timezone.now())


# --- without a broker: recovery from the running portal ---------------------------------------

_lock = threading.Lock()
_state = {"last": 0.0, "running": False}


def recover_interval() -> float:
    return float(settings.KVPORTAL_RECOVER_EVERY)


def recovery_in_process_enabled() -> bool:
    return bool(settings.CELERY_TASK_ALWAYS_EAGER) and bool(settings.KVPORTAL_RECOVER_IN_PROCESS)


def _recover_in_thread() -> None:
    from kvportal.core.registry import run_recoverers

    try:
        close_old_connections()
        found = run_recoverers(now=timezone.now())
        if any(found.values()):
            logger.info("recovered stalled background work: %s", found)
    except Exception:
        logger.exception("recovery of stalled background work failed")
    finally:
        connections.close_all()
        with _lock:
            _state["running"] = False


def on_request_started(**kwargs) -> None:
    """Connected to `request_started`: at most once per interval, and never during management
    commands (they handle no requests), run the recoverers in a daemon thread (eager mode)."""
    if not recovery_in_process_enabled():
        return
    now = time.monotonic()
    with _lock:
        if _state["running"] or (_state["last"] and now - _state["last"] < recover_interval()):
            return
        _state["last"] = now
        _state["running"] = True
    threading.Thread(target=_recover_in_thread, name="kvportal-recover", daemon=True).start()


def deliver_once(key: str, send) -> bool:
    """Call `send()` unless a delivery with `key` was recorded; record it in the same
    transaction. A failing `send()` records nothing (the job retries); a concurrent second run
    waits on the unique key and then skips. Returns whether it sent."""
    from django.db import IntegrityError

    from kvportal.core.models import Delivery

    try:
        with transaction.atomic():
            Delivery.objects.create(key=key[:200])
            send()
    except IntegrityError:
        return False
    return True


#: retry policy of every mail job: SMTP errors are OSErrors; a busy database is retried too
MAIL_RETRY = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OSError, DatabaseError),
    "retry_backoff": 5,
    "retry_backoff_max": 600,
    "max_retries": 10,
}


@shared_task(name="kvportal.core.tasks.send_mail_once", **MAIL_RETRY)
def send_mail_once(key: str, subject: str, body: str, recipients: list[str]) -> bool:
    """One logical message, identified by `key`: sent at most once, retried until it is."""
    from django.core.mail import send_mail

    recipients = sorted({r.strip() for r in recipients if r and r.strip()})
    if not recipients:
        return False
    return deliver_once(
        key, partial(send_mail, subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    )


def enqueue_mail(key: str, subject: str, body: str, recipients: list[str]) -> None:
    """Queue `send_mail_once` after the current transaction commits. Robust: a failing first
    attempt without a broker (eager, the retry cannot be scheduled) is logged, not raised into
    the request whose data is already committed."""

    def queue_mail() -> None:
        send_mail_once.delay(key, subject, body, list(recipients))

    transaction.on_commit(queue_mail, robust=True)

# Durable background work (issue 11): stalled jobs are started again, by the periodic job with a
# broker and lazily from requests without one; every job is idempotent.
"""Task helpers, the periodic purge job and the recovery of stalled background work."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import threading
import time
import uuid
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
    """Queue one logical mail (delivery key `key`) in the durable outbox, in the caller's
    transaction. Subject, body and recipients may carry a link token or one-time code: they are
    stored encrypted and deleted once the mail is sent (or given up)."""
    enqueue_job(
        deliver_mail,
        key,
        key=f"mail:{key}",
        secret={"subject": subject, "body": body, "recipients": list(recipients)},
    )


def deliver_mail(key: str, *, payload: dict) -> bool:
    """Outbox job of `enqueue_mail`: send the decrypted mail once per delivery key."""
    from django.core.mail import send_mail

    recipients = sorted({r.strip() for r in payload.get("recipients", []) if r and r.strip()})
    if not recipients:
        return False
    return deliver_once(
        key,
        partial(
            send_mail,
            payload.get("subject", ""),
            payload.get("body", ""),
            settings.DEFAULT_FROM_EMAIL,
            recipients,
        ),
    )


# --- the durable outbox (issue 11) ---------------------------------------------------------
# Background jobs are rows written in the caller's transaction: nothing queued is lost when the
# process dies, the broker is missing or the mail server is down. A run takes a lease (compare-
# and-set), so two runs of one job never overlap; a crashed run's lease expires and the
# recoverer "outbox" starts the job again; after `outbox_max_attempts()` the job is given up
# with an audit event. Jobs must be idempotent (mails use `deliver_once`).


def outbox_lease_seconds() -> int:
    return int(settings.KVPORTAL_OUTBOX_LEASE_SECONDS)


def outbox_max_attempts() -> int:
    return int(settings.KVPORTAL_OUTBOX_MAX_ATTEMPTS)


def outbox_backoff(attempts: int) -> dt.timedelta:
    """Wait after the `attempts`-th failed run: 30 s, 60 s, 120 s … at most one hour
    (base `KVPORTAL_OUTBOX_BACKOFF_SECONDS`, shortened only by the fault tests)."""
    base = int(settings.KVPORTAL_OUTBOX_BACKOFF_SECONDS)
    return dt.timedelta(seconds=min(3600, base * 2 ** max(0, attempts - 1)))


def _fernet():
    import base64
    import hashlib

    from cryptography.fernet import Fernet

    digest = hashlib.sha256(b"kvportal.core.outbox:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_payload(data: dict) -> str:
    return _fernet().encrypt(json.dumps(data).encode()).decode()


def decrypt_payload(token: str) -> dict:
    return json.loads(_fernet().decrypt(token.encode()))


def task_path(task) -> str:
    """Importable dotted path of a Celery task or a plain function."""
    func = getattr(task, "run", task)
    func = getattr(func, "__func__", func)
    return f"{func.__module__}.{func.__name__}"


def _resolve(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def enqueue_job(task, *ids, key: str | None = None, secret: dict | None = None):
    """Write an outbox job `task(*ids)` in the current transaction and run it after commit
    (in-process without a broker, by a worker with one). `ids` must be JSON values (ids, lists
    of ids, short keys); `secret` is stored encrypted and passed as `payload=`. A job with the
    same `key` is one logical job: enqueuing it again adds nothing. Returns the job."""
    from kvportal.core.models import OutboxJob

    path = task_path(task)
    key = (key or f"{path}:{uuid.uuid4().hex}")[:200]
    job, created = OutboxJob.objects.get_or_create(
        key=key,
        defaults={
            "task": path,
            "args": list(ids),
            "payload": encrypt_payload(secret) if secret is not None else "",
        },
    )
    if created:
        transaction.on_commit(partial(dispatch_job, job.pk), robust=True)
    return job


def dispatch_job(job_id: int) -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        run_job(job_id)
    else:
        run_outbox_job.delay(job_id)


def _due_q(now):
    from django.db.models import Q

    from kvportal.core.models import OutboxJob

    return Q(state=OutboxJob.State.PENDING, next_attempt_at__lte=now) & (
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )


def run_job(job_id: int) -> str:
    """Run one outbox job if it is due and not leased by a live run. Never raises: a failure is
    logged and scheduled again (or given up). Returns "done", "retry", "failed" or "skipped"."""
    from django.db.models import F

    from kvportal.core.models import OutboxJob

    now = timezone.now()
    token = uuid.uuid4().hex
    claimed = (
        OutboxJob.objects.filter(_due_q(now), pk=job_id).update(
            lease_token=token,
            lease_until=now + dt.timedelta(seconds=outbox_lease_seconds()),
            attempts=F("attempts") + 1,
        )
        if job_id
        else 0
    )
    if not claimed:
        return "skipped"
    job = OutboxJob.objects.get(pk=job_id)
    try:
        func = _resolve(job.task)
        kwargs = {"payload": decrypt_payload(job.payload)} if job.payload else {}
        func(*job.args, **kwargs)
    except Exception as exc:
        logger.warning(
            "background job %s (%s) failed in attempt %s: %s",
            job.pk,
            job.task,
            job.attempts,
            type(exc).__name__,
        )
        return _job_failed(job, token, type(exc).__name__)
    OutboxJob.objects.filter(pk=job.pk, lease_token=token).update(
        state=OutboxJob.State.DONE,
        payload="",
        lease_until=None,
        lease_token="",
        last_error="",
        finished_at=timezone.now(),
    )
    return "done"


def _job_failed(job, token: str, error: str) -> str:
    from kvportal import audit
    from kvportal.audit.models import Activity
    from kvportal.core.models import OutboxJob

    now = timezone.now()
    mine = OutboxJob.objects.filter(pk=job.pk, lease_token=token)
    try:
        if job.attempts < outbox_max_attempts():
            mine.update(
                next_attempt_at=now + outbox_backoff(job.attempts),
                lease_until=None,
                lease_token="",
                last_error=error[:200],
            )
            return "retry"
        with transaction.atomic():
            if mine.update(
                state=OutboxJob.State.FAILED,
                payload="",
                lease_until=None,
                lease_token="",
                last_error=error[:200],
                finished_at=now,
            ):
                audit.record(
                    actor=None,
                    activity=Activity.UPDATE,
                    object_type="core.outboxjob",
                    object_id=job.pk,
                    object_repr=f"Hintergrundauftrag {job.task} aufgegeben",
                    username="system",
                    detail={
                        "event": "outbox.gave_up",
                        "task": job.task,
                        "attempts": job.attempts,
                        "error": error[:200],
                    },
                )
        logger.error(
            "background job %s (%s) given up after %s attempts", job.pk, job.task, job.attempts
        )
        return "failed"
    except DatabaseError:  # the database is down: the lease runs out, the recoverer retries
        logger.warning("could not record the failure of background job %s", job.pk)
        return "retry"


@shared_task(name="kvportal.core.tasks.run_outbox_job", acks_late=True, reject_on_worker_lost=True)
def run_outbox_job(job_id: int) -> str:
    return run_job(job_id)


def recover_outbox(*, now: dt.datetime) -> int:
    """Registered recoverer "outbox": start every due job again — failed earlier (back-off
    over), left by a crashed process (lease expired) or never started. New jobs get a short
    grace so the run right after commit is not doubled (the lease would skip it anyway)."""
    from django.db.models import Q

    from kvportal.core.models import OutboxJob

    fresh = now - dt.timedelta(seconds=10)
    ids = list(
        OutboxJob.objects.filter(_due_q(now))
        .filter(Q(attempts__gt=0) | Q(created_at__lt=fresh))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:100]
    )
    for pk in ids:
        dispatch_job(pk)
    return len(ids)


def purge_outbox(*, now: dt.datetime, dry_run: bool = False):
    """Registered purger "outbox": finished jobs (done or given up) are deleted after
    `KVPORTAL_OUTBOX_KEEP_DAYS` (31); their delivery markers (`core.Delivery`) stay, so a job
    enqueued again with the same key still sends nothing twice."""
    from kvportal.core.models import OutboxJob
    from kvportal.core.registry import PurgeResult

    keep = int(settings.KVPORTAL_OUTBOX_KEEP_DAYS)
    due = OutboxJob.objects.exclude(state=OutboxJob.State.PENDING).filter(
        finished_at__lt=now - dt.timedelta(days=keep)
    )
    result = PurgeResult(name="Hintergrundaufträge", count=due.count())
    if not dry_run and result.count:
        due.delete()
    return result

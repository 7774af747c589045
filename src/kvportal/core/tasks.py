"""Task helpers and the single periodic job that runs every registered purger."""

from __future__ import annotations

from functools import partial

from celery import shared_task
from django.db import transaction
from django.utils import timezone


def enqueue(task, *args) -> None:
    """Dispatch `task(*args)` after the current transaction commits (in-process when eager)."""
    transaction.on_commit(partial(task.delay, *args))


@shared_task(name="kvportal.core.tasks.purge_expired")
def purge_expired() -> dict[str, int]:
    from kvportal.core.registry import run_purgers

    return {r.name: r.count for r in run_purgers(now=timezone.now())}

"""Listeners for the end of a billing check (issue 16: the 1-Click answer over KIM).

A feature that must act when a check is done registers from its own `ready()`:
`register_check_done(func)` with `func(kind, pk)`, kind "submission" or "test_run". Billing
calls them after the result's transaction has committed; a listener's error is logged and never
undoes the check (listeners must be idempotent; recoverers catch what a crash lost).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

log = logging.getLogger(__name__)

_listeners: list[Callable[[str, int], None]] = []


def register_check_done(func: Callable[[str, int], None]) -> None:
    if func not in _listeners:
        _listeners.append(func)


def _notify(kind: str, pk: int) -> None:
    for func in list(_listeners):
        try:
            func(kind, pk)
        except Exception:
            log.exception("check-done listener failed for %s %s", kind, pk)


def check_done(kind: str, pk: int) -> None:
    """Called by billing inside the transaction that wrote the result."""
    transaction.on_commit(lambda: _notify(kind, pk))

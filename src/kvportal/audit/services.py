"""Seed 000 "Datenerhebung und Protokollierung": the entry is written in the same transaction
as the action it records; there is no switch to turn it off.

A write activity recorded outside a transaction could be committed without its action (or the
action without it): `record()` refuses it — raises in DEBUG and tests, logs in production
(setting AUDIT_REQUIRE_TRANSACTION).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models, router, transaction

from kvportal.audit.context import current_meta, parse_user_agent
from kvportal.audit.models import AccessLogEntry, Activity

if TYPE_CHECKING:
    from kvportal.accounts.models import User

logger = logging.getLogger(__name__)

#: Events that are no write of domain data (logins, reads, errors) may be logged on their own.
NON_WRITE_ACTIVITIES = frozenset(
    {
        Activity.LOGIN,
        Activity.LOGIN_FAILED,
        Activity.LOGOUT,
        Activity.IDLE_TIMEOUT,
        Activity.OTP_FAILED,
        Activity.VIEW,
        Activity.DOWNLOAD,
        Activity.EXPORT,
        Activity.ERROR,
    }
)


class UnauditedWrite(RuntimeError):
    """A write activity was recorded outside a transaction (a programming error)."""


def in_transaction(using: str | None = None) -> bool:
    """Is the caller inside a transaction of its own? (The atomic block pytest/TestCase wraps
    around every test does not count, so tests see what production sees.)"""
    connection = transaction.get_connection(using or router.db_for_write(AccessLogEntry))
    return any(not getattr(b, "_from_testcase", False) for b in connection.atomic_blocks)


def _require_transaction(activity: Activity | str) -> None:
    if activity in NON_WRITE_ACTIVITIES or in_transaction():
        return
    message = f"audit.record({activity!s}) outside a transaction: wrap the service in atomic"
    if settings.AUDIT_REQUIRE_TRANSACTION:
        raise UnauditedWrite(message)
    logger.error(message)


def record(
    *,
    actor: User | None,
    activity: Activity | str,
    obj: models.Model | None = None,
    bsnr: str = "",
    object_type: str = "",
    object_id: str | int = "",
    object_repr: str = "",
    detail: dict | None = None,
    username: str = "",
) -> AccessLogEntry:
    """Write one access-log entry. `actor` may be None (system job, unknown user). A write
    activity must be recorded inside the transaction of its action."""
    _require_transaction(activity)
    meta = current_meta()
    browser, system = parse_user_agent(meta.user_agent)
    user = actor if getattr(actor, "pk", None) else None
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)
        if not bsnr:
            bsnr = _bsnr_of(obj)
    return AccessLogEntry.objects.create(
        user=user,
        username=username or (user.get_username() if user else ""),
        bsnr=bsnr or meta.bsnr,
        activity=activity,
        object_type=object_type,
        object_id=str(object_id or ""),
        object_repr=str(object_repr)[:300],
        ip_address=meta.ip_address,
        browser=browser,
        operating_system=system,
        user_agent=meta.user_agent,
        path=meta.path,
        detail=detail or {},
    )


def _bsnr_of(obj: models.Model) -> str:
    if hasattr(obj, "bsnr") and isinstance(obj.bsnr, str):
        return obj.bsnr
    practice = getattr(obj, "betriebsstaette", None)
    return getattr(practice, "bsnr", "") if practice is not None else ""

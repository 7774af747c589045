"""Seed 000 "Datenerhebung und Protokollierung": the entry is written in the same transaction
as the action it records; there is no switch to turn it off."""

from __future__ import annotations

from typing import Any

from django.db import models

from kvportal.audit.context import current_meta, parse_user_agent
from kvportal.audit.models import AccessLogEntry, Activity


def record(
    *,
    actor: Any,
    activity: Activity | str,
    obj: models.Model | None = None,
    bsnr: str = "",
    object_type: str = "",
    object_id: str | int = "",
    object_repr: str = "",
    detail: dict | None = None,
    username: str = "",
) -> AccessLogEntry:
    """Write one access-log entry. `actor` may be None (system job, unknown user)."""
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

"""Reads of the registry (Betriebsstätte, Person, Tätigkeit) for views."""

from __future__ import annotations

import datetime as dt

from kvportal.members.models import Taetigkeit


def roles_by_practice(person_id: int | None, *, on: dt.date | None = None) -> dict[int, list[str]]:
    """The person's active roles (display names) per Betriebsstätte id, with one query."""
    if not person_id:
        return {}
    roles: dict[int, list[str]] = {}
    for t in Taetigkeit.objects.active(on).filter(person_id=person_id):
        roles.setdefault(t.betriebsstaette_id, []).append(t.get_role_display())
    return roles

"""Reads of the registry (Betriebsstätte, Person, Tätigkeit) for views."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from kvportal.members.models import Betriebsstaette, Person, Taetigkeit


def roles_by_practice(person_id: int | None, *, on: dt.date | None = None) -> dict[int, list[str]]:
    """The person's active roles (display names) per Betriebsstätte id, with one query."""
    if not person_id:
        return {}
    roles: dict[int, list[str]] = {}
    for t in Taetigkeit.objects.active(on).filter(person_id=person_id):
        roles.setdefault(t.betriebsstaette_id, []).append(t.get_role_display())
    return roles


# --- staff pages of the Arztregister (issue 14) ------------------------------------------------

#: sort keys of the lists → ORM ordering (the first column is the default)
PRACTICE_SORTS = {
    "bsnr": ("bsnr",),
    "name": ("name", "bsnr"),
    "kind": ("kind", "bsnr"),
    "city": ("city", "bsnr"),
}
PERSON_SORTS = {
    "name": ("last_name", "first_name", "pk"),
    "lanr": ("lanr", "pk"),
    "profession": ("profession", "last_name", "pk"),
}


def _ordering(sorts: dict[str, tuple[str, ...]], sort: str) -> tuple[str, ...]:
    descending = sort.startswith("-")
    fields = sorts.get(sort.lstrip("-")) or next(iter(sorts.values()))
    return tuple(("-" + f) if descending else f for f in fields)


def staff_practices(*, q: str = "", sort: str = "") -> QuerySet[Betriebsstaette]:
    """Betriebsstätten for the Arztregister list: search BSNR, name, city; sortable."""
    qs = Betriebsstaette.objects.select_related("haupt")
    q = q.strip()
    if q:
        qs = qs.filter(
            Q(bsnr__icontains=q)
            | Q(name__icontains=q)
            | Q(city__icontains=q)
            | Q(email__icontains=q)
        )
    return qs.order_by(*_ordering(PRACTICE_SORTS, sort))


def staff_persons(*, q: str = "", sort: str = "") -> QuerySet[Person]:
    """Personen for the Arztregister list: search name, LANR, e-mail; sortable."""
    qs = Person.objects.all()
    for word in q.split()[:5]:
        qs = qs.filter(
            Q(last_name__icontains=word)
            | Q(first_name__icontains=word)
            | Q(lanr__icontains=word)
            | Q(email__icontains=word)
        )
    return qs.order_by(*_ordering(PERSON_SORTS, sort))


def practice(pk: int) -> Betriebsstaette:
    return get_object_or_404(Betriebsstaette.objects.select_related("haupt"), pk=pk)


def practice_by_bsnr(bsnr: str) -> Betriebsstaette | None:
    return Betriebsstaette.objects.filter(bsnr=bsnr).first() if bsnr else None


def person(pk: int) -> Person:
    return get_object_or_404(Person, pk=pk)


def taetigkeit(pk: int) -> Taetigkeit:
    return get_object_or_404(Taetigkeit.objects.select_related("person", "betriebsstaette"), pk=pk)


def taetigkeiten_of_practice(practice_id: int) -> QuerySet[Taetigkeit]:
    return (
        Taetigkeit.objects.filter(betriebsstaette_id=practice_id)
        .select_related("person")
        .order_by("valid_to", "person__last_name", "valid_from")
    )


def taetigkeiten_of_person(person_id: int) -> QuerySet[Taetigkeit]:
    return (
        Taetigkeit.objects.filter(person_id=person_id)
        .select_related("betriebsstaette")
        .order_by("betriebsstaette__bsnr", "valid_from")
    )


def _field_label(model: type[models.Model] | None, name: str) -> str:
    try:
        field = model._meta.get_field(name) if model else None
    except FieldDoesNotExist:  # a field removed since the entry was written
        return name
    return str(getattr(field, "verbose_name", name)) if field is not None else name


def object_history(obj: models.Model, *, limit: int = 50) -> list[dict]:
    """The access-log entries of one object, newest first, as rows for `core/_history.html`:
    who, when, what, the reason of a destructive decision and the changed fields."""
    from kvportal.audit.models import AccessLogEntry, Activity

    entries = AccessLogEntry.objects.filter(
        object_type=obj._meta.label_lower, object_id=str(obj.pk)
    ).exclude(activity=Activity.VIEW)
    rows = []
    for entry in entries.order_by("-timestamp", "-pk")[:limit]:
        detail = entry.detail or {}
        changes = [
            {"field": _field_label(type(obj), name), "old": pair[0], "new": pair[1]}
            for name, pair in (detail.get("changes") or {}).items()
            if isinstance(pair, list | tuple) and len(pair) == 2
        ]
        label = entry.get_activity_display()
        if detail.get("decision"):
            label = f"{label}: {detail['decision']}"
        rows.append(
            {
                "at": entry.timestamp,
                "who": entry.username,
                "label": label,
                "reason": detail.get("reason", ""),
                "changes": changes,
            }
        )
    return rows


def accounts_of_person(person_id: int) -> list:
    """The portal accounts of a registry person (staff page), each with its history."""
    from kvportal.accounts.models import User

    accounts = list(User.objects.filter(person_id=person_id).order_by("username"))
    for account in accounts:
        account.history = object_history(account, limit=5)  # type: ignore[attr-defined]
    return accounts


def account_of_person(pk: int):
    from kvportal.accounts.models import User

    return get_object_or_404(User.objects.exclude(kind="staff"), pk=pk, person__isnull=False)

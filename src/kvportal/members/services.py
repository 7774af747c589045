"""Registry writes (Arztregister). History by rows: a change ends the old Tätigkeit the day
before and starts a new one. Back-office edits are audited with the changed fields (issue 13):
the registry drives the Ärztlicher-Leiter rule and the admission roles."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction

from kvportal import audit
from kvportal.audit.models import Activity
from kvportal.members.models import Betriebsstaette, Person, Taetigkeit

if TYPE_CHECKING:
    from kvportal.accounts.models import User

RegistryEntry = Betriebsstaette | Person | Taetigkeit


@transaction.atomic
def change_anrechnungsfaktor(
    *,
    actor: User,
    taetigkeit: Taetigkeit,
    factor: Decimal,
    weekly_hours: Decimal | None,
    effective: dt.date,
) -> Taetigkeit:
    """From `effective` on, the employment counts with `factor` (e.g. after a ZA decision)."""
    if effective <= taetigkeit.valid_from:
        taetigkeit.anrechnungsfaktor = factor
        taetigkeit.weekly_hours = weekly_hours
        taetigkeit.save(update_fields=["anrechnungsfaktor", "weekly_hours"])
        new = taetigkeit
    else:
        old_end = taetigkeit.valid_to
        taetigkeit.valid_to = effective - dt.timedelta(days=1)
        taetigkeit.save(update_fields=["valid_to"])
        new = Taetigkeit.objects.create(
            person=taetigkeit.person,
            betriebsstaette=taetigkeit.betriebsstaette,
            role=taetigkeit.role,
            valid_from=effective,
            valid_to=old_end,
            anrechnungsfaktor=factor,
            weekly_hours=weekly_hours,
        )
    audit.record(
        actor=actor,
        activity=Activity.UPDATE,
        obj=new,
        bsnr=new.betriebsstaette.bsnr,
        detail={"anrechnungsfaktor": str(factor), "ab": effective.isoformat()},
    )
    return new


@transaction.atomic
def register_person(
    *,
    actor: User,
    lanr: str | None,
    first_name: str,
    last_name: str,
    profession: str,
    email: str = "",
    title: str = "",
    fachgebiet: str = "",
) -> Person:
    """Enter a person into the registry (Arztregister), e.g. on approval of an application."""
    person = Person(
        lanr=lanr or None,
        first_name=first_name,
        last_name=last_name,
        profession=profession,
        email=email,
        title=title,
        fachgebiet=fachgebiet,
    )
    person.full_clean()
    person.save()
    audit.record(actor=actor, activity=Activity.CREATE, obj=person)
    return person


def _require_registry_staff(actor: User | None) -> None:
    from kvportal.accounts import scope
    from kvportal.accounts.constants import StaffRole

    if actor is not None and not scope.is_staff_role(actor, StaffRole.ARZTREGISTER):
        raise PermissionDenied("Nur das Arztregister darf das Register ändern.")


def _value(entry: models.Model, field: models.Field):
    value = getattr(entry, field.attname)
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def registry_changes(old: models.Model | None, new: models.Model) -> dict[str, list]:
    """{field: [old, new]} of the concrete fields that differ (all set fields for a new entry)."""
    changes = {}
    for field in new._meta.concrete_fields:
        if field.primary_key:
            continue
        before = _value(old, field) if old is not None else None
        after = _value(new, field)
        if before != after and not (old is None and after in (None, "")):
            changes[field.name] = [before, after]
    return changes


def _bsnr(entry: RegistryEntry) -> str:
    if isinstance(entry, Betriebsstaette):
        return entry.bsnr
    if isinstance(entry, Taetigkeit):
        return entry.betriebsstaette.bsnr
    return ""


@transaction.atomic
def save_registry_entry(*, actor: User, entry: RegistryEntry) -> dict[str, list]:
    """Create or change a Betriebsstätte, Person or Tätigkeit (back office of the Arztregister);
    the access log names every changed field with old and new value. Returns the changes."""
    _require_registry_staff(actor)
    if not isinstance(entry, Betriebsstaette | Person | Taetigkeit):
        raise TypeError(f"Kein Registereintrag: {type(entry).__name__}")
    created = entry._state.adding or entry.pk is None
    old = None if created else type(entry).objects.select_for_update().get(pk=entry.pk)
    entry.full_clean()
    changes = registry_changes(old, entry)
    if not created and not changes:
        return {}
    entry.save()
    audit.record(
        actor=actor,
        activity=Activity.CREATE if created else Activity.UPDATE,
        obj=entry,
        bsnr=_bsnr(entry),
        detail={"changes": changes},
    )
    return changes


@transaction.atomic
def delete_registry_entry(*, actor: User, entry: RegistryEntry) -> None:
    """Delete a registry entry; the access log keeps what it held."""
    _require_registry_staff(actor)
    if not isinstance(entry, Betriebsstaette | Person | Taetigkeit):
        raise TypeError(f"Kein Registereintrag: {type(entry).__name__}")
    detail = {"deleted": {k: v[1] for k, v in registry_changes(None, entry).items()}}
    audit.record(actor=actor, activity=Activity.DELETE, obj=entry, bsnr=_bsnr(entry), detail=detail)
    entry.delete()


@transaction.atomic
def end_taetigkeit(
    *, actor: User, taetigkeit: Taetigkeit, valid_to: dt.date, reason: str
) -> Taetigkeit:
    """End a Tätigkeit on `valid_to` (a destructive decision, issue 14): the reason and the
    changed field go into the access log and the entry's history."""
    _require_registry_staff(actor)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": "Bitte geben Sie eine Begründung an."})
    old = Taetigkeit.objects.select_for_update().get(pk=taetigkeit.pk)
    if old.valid_to is not None and old.valid_to < valid_to:
        raise ValidationError(
            {"valid_to": f"Die Tätigkeit endet bereits am {old.valid_to:%d.%m.%Y}."}
        )
    if valid_to < old.valid_from:
        raise ValidationError(
            {"valid_to": f"Das Ende darf nicht vor dem Beginn ({old.valid_from:%d.%m.%Y}) liegen."}
        )
    taetigkeit.valid_to = valid_to
    taetigkeit.save(update_fields=["valid_to"])
    audit.record(
        actor=actor,
        activity=Activity.UPDATE,
        obj=taetigkeit,
        bsnr=taetigkeit.betriebsstaette.bsnr,
        detail={
            "changes": registry_changes(old, taetigkeit),
            "decision": "Tätigkeit beendet",
            "reason": reason,
        },
    )
    return taetigkeit


@transaction.atomic(durable=True)
def deactivate_person_account(*, actor: User, user: User, reason: str) -> None:
    """Deactivate a member's account from the registry page (a destructive decision, issue
    14): the reason goes into the audit event of `accounts.services.deactivate_account`."""
    from kvportal.accounts import services as accounts

    _require_registry_staff(actor)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": "Bitte geben Sie eine Begründung an."})
    accounts.deactivate_account(actor=actor, user=user, reason=reason)

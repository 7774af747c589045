"""Registry writes (Arztregister). History by rows: a change ends the old Tätigkeit the day
before and starts a new one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from kvportal import audit
from kvportal.audit.models import Activity
from kvportal.members.models import Person, Taetigkeit


@transaction.atomic
def change_anrechnungsfaktor(
    *,
    actor,
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
    actor,
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

# gemSpec_VZD / gemSpec_FD_KOMLE: a service mailbox of the KV itself belongs to no practice and
# no person; only KV staff (Arztregister) or the configuration create it, no member's scope ever
# holds it, and its directory entry is the KV's own Organization entry with the ENC certificate
# of the KV card (so that only the KV can open what is sent there).
"""The KV's own service mailboxes (`AccountKind.SERVICE`), e.g. its billing address: the KIM
account and the KV's Organization entry it belongs to (`KimAccount.service_entry`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kvportal import audit
from kvportal.accounts.models import User
from kvportal.audit.models import Activity
from kvportal.kim import services_directory
from kvportal.kim.models import AccountKind, AccountState, DirectoryEntry, EntryKind, KimAccount
from kvportal.kim.services import _require_staff


@dataclass(frozen=True)
class ServiceMailbox:
    account: KimAccount
    entry: DirectoryEntry
    changed: bool


def _entry(account: KimAccount | None, telematik_id: str, department: str) -> DirectoryEntry | None:
    if account is not None and account.service_entry_id is not None:
        return DirectoryEntry.objects.select_for_update().get(pk=account.service_entry_id)
    return (
        DirectoryEntry.objects.select_for_update()
        .filter(
            kind=EntryKind.ORGANIZATION,
            betriebsstaette__isnull=True,
            person__isnull=True,
            telematik_id=telematik_id,
            department=department,
        )
        .order_by("pk")
        .first()
    )


@transaction.atomic
def ensure_service_mailbox(
    *,
    actor: User | None,
    address: str,
    department: str,
    description: str,
    telematik_id: str,
    enc_pem: str,
    enc_not_after: dt.datetime,
) -> ServiceMailbox:
    """Create or bring up to date (idempotent) a registered service mailbox of the KV and its
    Organization entry. `actor` None is the configuration (management command, demo); a user
    must be Arztregister staff. Raises ValidationError (German) if the address is taken by a
    practice's or a person's account."""
    if actor is not None:
        _require_staff(actor)
    address = address.strip().lower()
    if not address:
        raise ValidationError({"address": "Die KIM-Adresse des Funktionspostfachs ist leer."})
    account = KimAccount.objects.select_for_update().filter(address__iexact=address).first()
    if account is not None and account.kind != AccountKind.SERVICE:
        raise ValidationError(
            {
                "address": f"Die Adresse {address} ist bereits als KIM-Konto "
                f"({account.get_kind_display()}) vergeben."
            }
        )
    display_name = f"{settings.KV_NAME} – {department}"[:200]
    wanted = {
        "telematik_id": telematik_id,
        "display_name": display_name,
        "organization": settings.KV_NAME,
        "department": department,
        "description": description,
        "enc_certificate": enc_pem,
        "enc_not_after": enc_not_after,
        "active": True,
    }
    changed, change = False, "geändert"
    entry = _entry(account, telematik_id, department)
    if entry is None:
        entry = DirectoryEntry.objects.create(kind=EntryKind.ORGANIZATION, **wanted)
        changed, change = True, "angelegt"
    elif any(getattr(entry, k) != v for k, v in wanted.items()):
        for key, value in wanted.items():
            setattr(entry, key, value)
        entry.changed_at = timezone.now()
        entry.save()
        changed = True
    if changed:
        services_directory.record_version(entry=entry, actor=actor, change=change)
    if account is None:
        account = KimAccount.objects.create(
            kind=AccountKind.SERVICE,
            service_entry=entry,
            address=address,
            department=department,
            description=description,
            state=AccountState.REGISTERED,
            must_change_password=False,
            requested_by=actor,
            registered_by=actor,
            registered_at=timezone.now(),
        )
        changed = True
    elif (
        account.state != AccountState.REGISTERED
        or account.service_entry_id != entry.pk
        or (account.department, account.description) != (department, description)
    ):
        account.state = AccountState.REGISTERED
        account.service_entry = entry
        account.department, account.description = department, description
        account.deregistered_at = account.deregistration_date = None
        account.save()
        changed = True
    if changed:
        audit.record(
            actor=actor,
            activity=Activity.UPDATE,
            obj=account,
            detail={"kim": "service_mailbox", "entry": entry.pk, "version": entry.version},
        )
    return ServiceMailbox(account, entry, changed)

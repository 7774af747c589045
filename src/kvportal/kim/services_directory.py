# gemSpec_VZD (issue 15): the KV as card issuer maintains the directory's base entries; only
# Arztregister staff may write; every change is a new, readable version and in the access log;
# a doctor's entry stays hidden without their consent whatever the KV writes.
"""Directory administration (writes): create, update, (de)activate entries; versions."""

from __future__ import annotations

import hashlib

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from kvportal import audit
from kvportal.accounts import scope
from kvportal.accounts.constants import StaffRole
from kvportal.accounts.models import User
from kvportal.audit.models import Activity
from kvportal.kim import directory_rules
from kvportal.kim.models import DirectoryEntry, DirectoryEntryVersion, EntryKind

#: the fields a version records (the certificate as fingerprint and end of validity)
SNAPSHOT_FIELDS = (
    "kind",
    "telematik_id",
    "display_name",
    "title",
    "given_name",
    "family_name",
    "organization",
    "street",
    "postal_code",
    "city",
    "specialty",
    "department",
    "description",
    "active",
)


class Conflict(Exception):
    """409: e.g. the Telematik-ID has an entry already; `message` is German."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


def snapshot(entry: DirectoryEntry) -> dict:
    data: dict = {f: getattr(entry, f) for f in SNAPSHOT_FIELDS}
    pem = entry.enc_certificate or ""
    data["certificate_sha256"] = hashlib.sha256(pem.encode()).hexdigest() if pem else ""
    data["certificate_not_after"] = entry.enc_not_after.isoformat() if entry.enc_not_after else ""
    data["consent"] = bool(entry.consent_at and not entry.consent_revoked_at)
    return data


def record_version(*, entry: DirectoryEntry, actor: User | None, change: str) -> int:
    """Append a version after a change (call inside the change's transaction). Returns the
    new version number; nothing is added when the entry is as in its last version."""
    data = snapshot(entry)
    last = entry.versions.order_by("-version").first()
    if last is not None and last.data == data:
        return last.version
    number = (last.version if last else 0) + 1
    DirectoryEntryVersion.objects.create(
        entry=entry,
        version=number,
        change=change,
        changed_at=entry.changed_at,
        changed_by=actor if actor is not None and actor.is_authenticated else None,
        data=data,
    )
    DirectoryEntry.objects.filter(pk=entry.pk).update(version=number)
    entry.version = number
    return number


def require_card_issuer(actor: User) -> None:
    if not scope.is_staff_role(actor, StaffRole.ARZTREGISTER):
        raise PermissionDenied(
            "Nur das Arztregister der KV (Kartenherausgeber) pflegt Verzeichniseinträge."
        )


def _apply(entry: DirectoryEntry, changes: dict) -> list[str]:
    changed = []
    for field, value in changes.items():
        if field == "enc_certificate":
            pem = value.pem if value is not None else ""
            not_after = value.not_after if value is not None else None
            if entry.enc_certificate != pem:
                entry.enc_certificate, entry.enc_not_after = pem, not_after
                changed.append(field)
        elif getattr(entry, field) != value:
            setattr(entry, field, value)
            changed.append(field)
    return changed


@transaction.atomic
def create_entry(*, actor: User, data: object) -> DirectoryEntry:
    """add_Directory_Entry: a practice/institution entry (entryType organization)."""
    require_card_issuer(actor)
    now = timezone.now()
    changes = directory_rules.check_changes(data, create=True, now=now)
    if DirectoryEntry.objects.filter(telematik_id=changes["telematik_id"]).exists():
        raise Conflict(
            f"Für die Telematik-ID {changes['telematik_id']} gibt es schon einen "
            "Verzeichniseintrag; bitte ändern statt neu anlegen.",
            "telematikID",
        )
    entry = DirectoryEntry(kind=EntryKind.ORGANIZATION, changed_at=now, active=True)
    _apply(entry, changes)
    entry.save()
    number = record_version(entry=entry, actor=actor, change="angelegt")
    audit.record(
        actor=actor,
        activity=Activity.CREATE,
        obj=entry,
        detail={"kim": "directory_create", "version": number},
    )
    return entry


@transaction.atomic
def update_entry(*, actor: User, entry: DirectoryEntry, data: object) -> DirectoryEntry:
    """modify_Directory_Entry: the given attributes replace the entry's; a new version if
    anything changed."""
    require_card_issuer(actor)
    now = timezone.now()
    changes = directory_rules.check_changes(data, create=False, now=now)
    entry = DirectoryEntry.objects.select_for_update().get(pk=entry.pk)
    changed = _apply(entry, changes)
    if not changed:
        return entry
    entry.changed_at = now
    entry.save()
    number = record_version(entry=entry, actor=actor, change="geändert")
    audit.record(
        actor=actor,
        activity=Activity.UPDATE,
        obj=entry,
        detail={"kim": "directory_update", "version": number, "fields": sorted(changed)},
    )
    return entry


@transaction.atomic
def set_active(*, actor: User, entry: DirectoryEntry, active: bool) -> DirectoryEntry:
    """stateSwitch_Directory_Entry: a deactivated entry disappears from search and API at
    once; its history stays."""
    require_card_issuer(actor)
    entry = DirectoryEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.active == active:
        return entry
    entry.active, entry.changed_at = active, timezone.now()
    entry.save(update_fields=["active", "changed_at"])
    number = record_version(
        entry=entry, actor=actor, change="aktiviert" if active else "deaktiviert"
    )
    audit.record(
        actor=actor,
        activity=Activity.UPDATE,
        obj=entry,
        detail={"kim": "directory_state", "active": active, "version": number},
    )
    return entry

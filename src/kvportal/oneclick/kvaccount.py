# gemSpec_VZD / gemSpec_FD_KOMLE: the KV writes its own base entry as card issuer; the KIM
# account of its billing address carries the KV card's ENC certificate, so that practice
# software encrypts 1-Click deliveries for the KV only (nothing else can open them).
"""The KV's billing address as a real KIM account with its directory entry (Organization,
department „Abrechnung“, the ENC certificate of the KV card from `kim.inbound`).

Decision: kim's data model knows accounts of a practice (Betriebsstätte) or of a person only,
and the directory joins accounts to Organization entries through the Betriebsstätte. The KV's
billing unit is therefore a Betriebsstätte row of its own (`ONECLICK_KV_BSNR`, default
989999900, Nebenbetriebsstätte without Hauptbetriebsstätte, so that billing's list of missing
submissions does not show it, and nobody holds a right there). A service account kind in kim
would be cleaner; see docs/oneclick.md."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kvportal import audit
from kvportal.audit.models import Activity
from kvportal.kim import inbound
from kvportal.kim.models import AccountKind, AccountState, DirectoryEntry, EntryKind, KimAccount
from kvportal.members.constants import Bezirk, PracticeKind, SiteKind
from kvportal.members.identifiers import check_bsnr
from kvportal.members.models import Betriebsstaette

DEFAULT_BSNR = "989999900"
DEPARTMENT = "Abrechnung"
DESCRIPTION = (
    "Abrechnungsadresse der KV: 1-Click-Abrechnung und elektronische Sammelerklärung über KIM "
    "(Dienstkennung 1ClickAbrechnung;Lieferung;V2.0)"
)


@dataclass(frozen=True)
class KvAccount:
    practice: Betriebsstaette
    account: KimAccount
    entry: DirectoryEntry
    changed: bool


def kv_bsnr() -> str:
    return str(getattr(settings, "ONECLICK_KV_BSNR", "") or DEFAULT_BSNR)


@transaction.atomic
def ensure_billing_account(*, actor=None, bsnr: str = "") -> KvAccount:
    """Create or bring up to date (idempotent) the KV's billing KIM account and its entry.

    Raises `inbound.ServiceConfigError` (no KV card) or `ValidationError` (German)."""
    address = inbound.service_addresses()[0] if inbound.service_addresses() else ""
    if not address:
        raise ValidationError(
            "Die Abrechnungsadresse der KV ist leer (KVPORTAL_KIM_SERVICE_BILLING_ADDRESS)."
        )
    identity = inbound.service_identity(address)
    bsnr = (bsnr or kv_bsnr()).strip()
    result = check_bsnr(bsnr)
    if not result.ok:
        raise ValidationError(f"BSNR der KV-Abrechnung: {result.errors[0]}")
    name = f"{settings.KV_NAME} – {DEPARTMENT}"
    practice, created_practice = Betriebsstaette.objects.get_or_create(
        bsnr=bsnr,
        defaults={
            "name": name[:200],
            "kind": PracticeKind.EINZELPRAXIS,
            "site": SiteKind.NEBEN,
            "bezirk": Bezirk.CHEMNITZ,
        },
    )
    account = KimAccount.objects.select_for_update().filter(address__iexact=address).first()
    changed = created_practice
    if account is None:
        account = KimAccount.objects.create(
            kind=AccountKind.PRACTICE,
            betriebsstaette=practice,
            address=address,
            department=DEPARTMENT,
            description=DESCRIPTION,
            state=AccountState.REGISTERED,
            must_change_password=False,
            requested_by=actor,
            registered_by=actor,
            registered_at=timezone.now(),
        )
        changed = True
    elif account.betriebsstaette_id != practice.pk:
        raise ValidationError(
            f"Die Adresse {address} ist bereits als KIM-Konto einer anderen Betriebsstätte "
            f"({account.bsnr or 'persönlich'}) vergeben."
        )
    elif account.state not in (AccountState.REGISTERED,) or (
        account.department,
        account.description,
    ) != (DEPARTMENT, DESCRIPTION):
        account.state = AccountState.REGISTERED
        account.department, account.description = DEPARTMENT, DESCRIPTION
        account.deregistered_at = account.deregistration_date = None
        account.save()
        changed = True
    wanted = {
        "telematik_id": identity.telematik_id,
        "display_name": name[:200],
        "organization": settings.KV_NAME,
        "department": DEPARTMENT,
        "description": DESCRIPTION,
        "enc_certificate": identity.enc_pem,
        "enc_not_after": identity.enc_not_after,
        "active": True,
    }
    entry = DirectoryEntry.objects.filter(
        kind=EntryKind.ORGANIZATION, betriebsstaette=practice
    ).first()
    if entry is None:
        entry = DirectoryEntry.objects.create(
            kind=EntryKind.ORGANIZATION, betriebsstaette=practice, **wanted
        )
        changed = True
    elif any(getattr(entry, k) != v for k, v in wanted.items()):
        for key, value in wanted.items():
            setattr(entry, key, value)
        entry.changed_at = timezone.now()
        entry.save()
        changed = True
    if changed:
        audit.record(
            actor=actor,
            activity=Activity.UPDATE,
            obj=entry,
            bsnr=practice.bsnr,
            detail={"event": "oneclick.kv_account", "address": address},
        )
    return KvAccount(practice, account, entry, changed)

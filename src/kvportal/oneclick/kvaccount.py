# gemSpec_VZD / gemSpec_FD_KOMLE: the KV writes its own base entry as card issuer; the KIM
# account of its billing address carries the KV card's ENC certificate, so that practice
# software encrypts 1-Click deliveries for the KV only (nothing else can open them).
"""The KV's billing address as a KIM service mailbox of the KV (`kim.services_kv`): no
practice, no person; its directory entry is an Organization of the KV, department
„Abrechnung“, with the ENC certificate of the KV card from `kim.inbound`."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from kvportal.accounts.models import User
from kvportal.kim import inbound, services_kv

DEPARTMENT = "Abrechnung"
DESCRIPTION = (
    "Abrechnungsadresse der KV: 1-Click-Abrechnung und elektronische Sammelerklärung über KIM "
    "(Dienstkennung 1ClickAbrechnung;Lieferung;V2.0)"
)

KvAccount = services_kv.ServiceMailbox


def ensure_billing_account(*, actor: User | None = None) -> KvAccount:
    """Create or bring up to date (idempotent) the KV's billing mailbox and its entry.

    Raises `inbound.ServiceConfigError` (no KV card) or `ValidationError` (German)."""
    addresses = inbound.service_addresses()
    if not addresses:
        raise ValidationError(
            "Die Abrechnungsadresse der KV ist leer (KVPORTAL_KIM_SERVICE_BILLING_ADDRESS)."
        )
    identity = inbound.service_identity(addresses[0])
    return services_kv.ensure_service_mailbox(
        actor=actor,
        address=identity.address,
        department=DEPARTMENT,
        description=DESCRIPTION,
        telematik_id=identity.telematik_id,
        enc_pem=identity.enc_pem,
        enc_not_after=identity.enc_not_after,
    )

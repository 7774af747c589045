"""The 1-Click part of `kvportal demo`: the KV's billing address as a KIM account with its
directory entry (Organization „Abrechnung“, the KV card's ENC certificate); idempotent."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError

from kvportal.kim.inbound import ServiceConfigError
from kvportal.oneclick import kvaccount


def seed(world: dict, out: Callable[[str], None]) -> None:
    try:
        done = kvaccount.ensure_billing_account(actor=None)
    except (ServiceConfigError, ValidationError) as exc:
        out(f"1-Click-Demo: Abrechnungsadresse der KV nicht eingerichtet ({exc}).")
        return
    out(
        f"1-Click-Demo: Abrechnungsadresse der KV {done.account.address} im KIM-Verzeichnis "
        "(Organisation „Abrechnung“, FHIR: /api/v1/kim/fhir/Endpoint?address=mailto:"
        f"{done.account.address})."
    )

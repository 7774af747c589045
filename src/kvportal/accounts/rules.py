"""Pure rules about accounts and rights (no Django ORM).

Seed 001: online billing opens from the quarter following the first password change.
Seed 000: an Ärztlicher Leiter with portal access always holds the billing right.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from kvportal.core.quarters import Quarter

BILLING = "billing"
DOCS_BSNR = "docs_bsnr"
DOCS_LANR = "docs_lanr"
DELEGABLE = frozenset({BILLING, DOCS_BSNR})


def billing_opens_quarter(first_password_change: dt.date) -> Quarter:
    """Seed 001: "Nach Änderung des Passwortes … ab dem folgenden Quartal"."""
    return Quarter.of(first_password_change).next()


def billing_is_open(first_password_change: dt.date | None, quarter: Quarter) -> bool:
    """Billing for `quarter` is possible once that quarter is the opening quarter or later."""
    if first_password_change is None:
        return False
    return quarter >= billing_opens_quarter(first_password_change)


def effective_rights(granted: Iterable[str], *, is_aerztlicher_leiter: bool) -> set[str]:
    """Rights granted at one BSNR plus the Ärztlicher Leiter rule."""
    rights = set(granted)
    if is_aerztlicher_leiter and rights:
        rights.add(BILLING)
    return rights


def delegation_errors(
    *,
    actor_is_staff_account: bool,
    actor_rights: set[str],
    target_is_staff_account: bool,
    right: str,
) -> list[str]:
    """Why `right` may not be delegated (empty list = allowed)."""
    errors = []
    if actor_is_staff_account:
        errors.append("Praxispersonal kann keine Rechte weitergeben.")
    if not target_is_staff_account:
        errors.append("Rechte können nur an Konten für Praxispersonal weitergegeben werden.")
    if right not in DELEGABLE:
        errors.append("Das Recht auf arztbezogene Dokumente ist persönlich und nicht übertragbar.")
    elif right not in actor_rights:
        errors.append("Sie können nur Rechte weitergeben, die Sie selbst für diese BSNR besitzen.")
    return errors

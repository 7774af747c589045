# § 46 Ärzte-ZV: 120 € for "sonstige Anträge" (Abs. 1 lit. c), due on filing; −50 % for the
# Nachbesetzung of an approved employment (Abs. 4 S. 4); 400 € Verwaltungsgebühr once an approval
# that is not a Nachbesetzung becomes final (Abs. 2, as the seed 002/004 notes say).
"""Fee calculation. No Django."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kvportal.admission.rules.text import fmt_money


@dataclass(frozen=True)
class FeeRule:
    """Declarative fee rule of an application type."""

    application_fee: Decimal = Decimal("120.00")
    admin_fee: Decimal = Decimal("400.00")
    #: modes that are the Nachbesetzung of an approved employment (halved, no admin fee)
    halved_modes: frozenset[str] = frozenset()
    admin_fee_exempt_modes: frozenset[str] = frozenset()
    application_fee_basis: str = "§ 46 Abs. 1 lit. c Ärzte-ZV"
    admin_fee_basis: str = "§ 46 Abs. 2 Ärzte-ZV"


@dataclass(frozen=True)
class FeeSchedule:
    application_fee: Decimal
    admin_fee_after_final: Decimal  # 0: none
    halved: bool
    lines: tuple[str, ...]  # German explanation shown before submitting


def compute_fees(rule: FeeRule, mode: str | None) -> FeeSchedule:
    halved = mode in rule.halved_modes
    fee = rule.application_fee / 2 if halved else rule.application_fee
    fee = fee.quantize(Decimal("0.01"))
    admin = Decimal("0.00") if mode in rule.admin_fee_exempt_modes else rule.admin_fee
    if halved:
        admin = (admin / 2).quantize(Decimal("0.01"))
    lines = [
        f"Antragsgebühr {fmt_money(fee)} ({rule.application_fee_basis}"
        + (", um 50 % reduziert nach § 46 Abs. 4 S. 4 Ärzte-ZV" if halved else "")
        + "), fällig mit der Antragstellung; sie wird gesondert angefordert. Über den Antrag "
        "wird erst nach Zahlung verhandelt (§ 38 Ärzte-ZV).",
    ]
    if admin:
        lines.append(
            f"Nach Rechtskraft einer Genehmigung zusätzlich Verwaltungsgebühr {fmt_money(admin)} "
            f"({rule.admin_fee_basis})."
        )
    return FeeSchedule(fee, admin, halved, tuple(lines))

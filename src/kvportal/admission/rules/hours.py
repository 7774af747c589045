# § 51 Bedarfsplanungs-Richtlinie and the KV Sachsen form: weekly hours → Anrechnungsfaktor,
# monthly hours × 0.23; minimum consultation hours per factor (§ 19a Ärzte-ZV, pro rata).
"""Hours bands, minimum consultation hours and the increase matrix of seeds 002/004. No Django."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from kvportal.admission.rules.text import fmt_decimal

#: Conversion of hours agreed per month into weekly hours (§ 51 Abs. 2 BPL-RL).
MONTHLY_TO_WEEKLY = Decimal("0.23")

#: Plausibility limit for weekly working hours (§ 3 ArbZG allows at most 60 h in a single week).
MAX_WEEKLY_HOURS = Decimal("60")

F025 = Decimal("0.25")
F050 = Decimal("0.5")
F075 = Decimal("0.75")
F100 = Decimal("1.0")
FACTORS = (F025, F050, F075, F100)


@dataclass(frozen=True)
class HoursBand:
    """Weekly hours the employment contract must state for a factor (form table)."""

    factor: Decimal
    minimum: Decimal
    maximum: Decimal | None  # None: open upwards
    min_consultation_hours: Decimal

    def contains(self, weekly: Decimal) -> bool:
        return weekly >= self.minimum and (self.maximum is None or weekly <= self.maximum)

    def describe(self) -> str:
        if self.maximum is None:
            span = f"ab {fmt_decimal(self.minimum)} h"
        else:
            span = f"{fmt_decimal(self.minimum)} bis {fmt_decimal(self.maximum)} h/Woche"
        return (
            f"Faktor {fmt_decimal(self.factor)}: {span} lt. Arbeitsvertrag; "
            f"min. {fmt_decimal(self.min_consultation_hours)} Sprechstunden"
        )


#: The form's table ("Folgende Arbeitszeiten und Sprechstunden sind ... einzuhalten").
HOURS_BANDS: tuple[HoursBand, ...] = (
    HoursBand(F100, Decimal("30.5"), None, Decimal("25.0")),
    HoursBand(F075, Decimal("20.5"), Decimal("30.0"), Decimal("18.75")),
    HoursBand(F050, Decimal("12.5"), Decimal("20.0"), Decimal("12.5")),
    HoursBand(F025, Decimal("6.25"), Decimal("10.0"), Decimal("6.25")),
)

#: The six increases the form offers: from → allowed targets.
INCREASE_MATRIX: dict[Decimal, tuple[Decimal, ...]] = {
    F075: (F100,),
    F050: (F075, F100),
    F025: (F050, F075, F100),
}


def all_increases() -> list[tuple[Decimal, Decimal]]:
    return [(src, dst) for src, targets in INCREASE_MATRIX.items() for dst in targets]


def parse_factor(value: object) -> Decimal | None:
    """Accept 0.5, "0,5", "0.50", Decimal; return the canonical factor or None."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        return None
    for factor in FACTORS:
        if number == factor:
            return factor
    return None


def parse_hours(value: object) -> Decimal | None:
    """Parse hours written with comma or point; None when it is no number."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    return number


def band_for(factor: Decimal) -> HoursBand:
    for band in HOURS_BANDS:
        if band.factor == factor:
            return band
    raise KeyError(factor)


def weekly_hours(hours: Decimal, *, per_month: bool) -> Decimal:
    """Weekly hours; hours agreed per month are multiplied by 0.23 (rounded to 0.01 h)."""
    if per_month:
        return (hours * MONTHLY_TO_WEEKLY).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return hours


def factor_for_hours(weekly: Decimal) -> Decimal | None:
    """The factor whose band contains the weekly hours, None in the gaps between bands."""
    for band in HOURS_BANDS:
        if band.contains(weekly):
            return band.factor
    return None


def min_consultation_hours(factor: Decimal) -> Decimal:
    return band_for(factor).min_consultation_hours


def check_increase(factor_from: Decimal | None, factor_to: Decimal | None) -> str | None:
    """German error message when the pair is not one of the six increases, else None."""
    if factor_from is None:
        return "Bitte wählen Sie den bisherigen Anrechnungsfaktor (0,25, 0,5 oder 0,75)."
    if factor_to is None:
        return "Bitte wählen Sie den neuen Anrechnungsfaktor (0,5, 0,75 oder 1,0)."
    if factor_from not in INCREASE_MATRIX:
        return (
            f"Ein Anrechnungsfaktor von {fmt_decimal(factor_from)} kann mit diesem Antrag nicht "
            "erhöht werden (möglich: von 0,25, 0,5 oder 0,75)."
        )
    if factor_to not in INCREASE_MATRIX[factor_from]:
        allowed = ", ".join(fmt_decimal(f) for f in INCREASE_MATRIX[factor_from])
        return (
            f"Von {fmt_decimal(factor_from)} kann nur auf {allowed} erhöht werden, "
            f"nicht auf {fmt_decimal(factor_to)}."
        )
    return None


def check_hours(weekly: Decimal, factor_to: Decimal) -> str | None:
    """German error message when the weekly hours do not fit the new factor's band."""
    if weekly <= 0:
        return "Die Wochenstunden müssen größer als 0 sein."
    if weekly > MAX_WEEKLY_HOURS:
        return (
            f"{fmt_decimal(weekly)} Wochenstunden sind nicht plausibel "
            f"(höchstens {fmt_decimal(MAX_WEEKLY_HOURS)} h)."
        )
    band = band_for(factor_to)
    if band.contains(weekly):
        return None
    fitting = factor_for_hours(weekly)
    if fitting is not None:
        return (
            f"{fmt_decimal(weekly)} Wochenstunden entsprechen dem Faktor {fmt_decimal(fitting)}, "
            f"nicht {fmt_decimal(factor_to)}. Für Faktor {fmt_decimal(factor_to)} gilt: "
            f"{band.describe()}."
        )
    return (
        f"{fmt_decimal(weekly)} Wochenstunden liegen in keiner Spanne des Formulars. "
        f"Für Faktor {fmt_decimal(factor_to)} gilt: {band.describe()}."
    )

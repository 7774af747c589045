"""German formatting helpers shared by the admission rules (numbers, money, dates). No Django."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

MONTHS = (
    "Januar", "Februar", "März", "April", "Mai", "Juni",
    "Juli", "August", "September", "Oktober", "November", "Dezember",
)  # fmt: skip


def fmt_decimal(value: Decimal) -> str:
    """0.75 → "0,75", 1.0 → "1,0", 30.50 → "30,5", 25 → "25,0" (the form's notation)."""
    text = format(value.normalize(), "f")
    if "." not in text:
        text += ".0"
    return text.replace(".", ",")


def fmt_money(value: Decimal) -> str:
    """120 → "120,00 €"."""
    whole, frac = f"{value:.2f}".split(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return f"{'.'.join(groups)},{frac} €"


def fmt_date(value: dt.date) -> str:
    return value.strftime("%d.%m.%Y")


def parse_date(value: object) -> dt.date | None:
    """A date as entered (ISO `JJJJ-MM-TT` or German `TT.MM.JJJJ`); None when it is none."""
    if isinstance(value, dt.date):
        return value
    if not value:
        return None
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def normalise(text: str) -> str:
    """Case- and whitespace-insensitive form of a free-text designation."""
    return re.sub(r"\s+", " ", text or "").strip().casefold()

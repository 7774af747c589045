# Anlage 1 of seeds 002/004: "Lückenlose Aufstellung der ärztlichen Tätigkeiten seit der
# Approbation in zeitlicher Reihenfolge" — no gap between activities; overlaps are allowed.
"""The Anlage 1 activity table: row checks, chronological order, gaplessness. No Django."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from kvportal.admission.rules.hours import MAX_WEEKLY_HOURS, parse_hours
from kvportal.admission.rules.text import fmt_date, parse_date

EVIDENCE_REGISTER = "arztregister"  # Nachweis in Arztregisterakte
EVIDENCE_ATTACHED = "anlage"  # Nachweis liegt als Anlage bei
EVIDENCE_CHOICES = (
    (EVIDENCE_REGISTER, "Nachweis in Arztregisterakte"),
    (EVIDENCE_ATTACHED, "Nachweis liegt als Anlage bei"),
)


@dataclass(frozen=True)
class Activity:
    start: dt.date
    end: dt.date | None  # None: bis heute
    kind: str  # Art der Tätigkeit
    institution: str  # Einrichtung / Praxis, Ort
    weekly_hours: Decimal
    evidence: str  # EVIDENCE_REGISTER | EVIDENCE_ATTACHED


@dataclass
class Anlage1Check:
    #: row index (0-based, as entered) → messages; key None: the table as a whole
    errors: dict[int | None, list[str]] = field(default_factory=dict)
    rows: list[Activity] = field(default_factory=list)  # parsed rows, chronological

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, row: int | None, message: str) -> None:
        self.errors.setdefault(row, []).append(message)

    @property
    def needs_attached_evidence(self) -> bool:
        return any(a.evidence == EVIDENCE_ATTACHED for a in self.rows)


def check_anlage1(raw_rows: list[dict], *, today: dt.date) -> Anlage1Check:
    """Check the rows as entered (dicts with start, end, kind, institution, weekly_hours,
    evidence). Rows are sorted by start; each must begin at the latest the day after the
    latest end so far (overlaps allowed); the list must reach today (last row open or ending
    today or later)."""
    result = Anlage1Check()
    parsed: list[tuple[int, Activity]] = []
    for index, raw in enumerate(raw_rows):
        label = f"Zeile {index + 1}"
        start = parse_date(raw.get("start"))
        end = parse_date(raw.get("end"))
        hours = parse_hours(raw.get("weekly_hours"))
        kind = (raw.get("kind") or "").strip()
        institution = (raw.get("institution") or "").strip()
        evidence = raw.get("evidence") or ""
        row_ok = True
        if start is None:
            result.add(index, f"{label}: Bitte den Beginn der Tätigkeit angeben (TT.MM.JJJJ).")
            row_ok = False
        elif start > today:
            result.add(index, f"{label}: Der Beginn {fmt_date(start)} liegt in der Zukunft.")
            row_ok = False
        if raw.get("end") and end is None:
            result.add(index, f"{label}: Das Ende ist kein gültiges Datum (TT.MM.JJJJ).")
            row_ok = False
        if start and end and end < start:
            result.add(
                index,
                f"{label}: Das Ende {fmt_date(end)} liegt vor dem Beginn {fmt_date(start)}.",
            )
            row_ok = False
        if not kind:
            result.add(index, f"{label}: Bitte die Art der Tätigkeit angeben.")
            row_ok = False
        if not institution:
            result.add(index, f"{label}: Bitte Einrichtung/Praxis und Ort angeben.")
            row_ok = False
        if hours is None or hours <= 0 or hours > MAX_WEEKLY_HOURS:
            result.add(
                index,
                f"{label}: Bitte den Tätigkeitsumfang in Wochenstunden angeben "
                "(mehr als 0, höchstens 60).",
            )
            row_ok = False
        if evidence not in (EVIDENCE_REGISTER, EVIDENCE_ATTACHED):
            result.add(
                index,
                f"{label}: Bitte angeben, ob der Nachweis in der Arztregisterakte liegt "
                "oder als Anlage beigefügt wird.",
            )
            row_ok = False
        if row_ok and start is not None and hours is not None:  # row_ok implies both
            parsed.append((index, Activity(start, end, kind, institution, hours, evidence)))

    if not raw_rows:
        result.add(None, "Bitte tragen Sie Ihre Tätigkeiten seit der Approbation ein.")
        return result
    if len(parsed) != len(raw_rows):
        return result  # gaps are only meaningful once every row is valid

    parsed.sort(key=lambda item: (item[1].start, item[1].end or dt.date.max))
    result.rows = [a for _, a in parsed]
    covered_until: dt.date | None = None  # None in the loop's state: open-ended so far
    open_ended = False
    for position, (index, activity) in enumerate(parsed):
        if position > 0 and not open_ended:
            assert covered_until is not None
            if activity.start > covered_until + dt.timedelta(days=1):
                gap_from = covered_until + dt.timedelta(days=1)
                gap_to = activity.start - dt.timedelta(days=1)
                result.add(
                    index,
                    f"Zeile {index + 1}: Lücke vom {fmt_date(gap_from)} bis {fmt_date(gap_to)} – "
                    "bitte auch Zeiten ohne ärztliche Tätigkeit (z. B. Elternzeit) eintragen.",
                )
        if activity.end is None:
            open_ended = True
        elif covered_until is None or activity.end > covered_until:
            covered_until = activity.end
    if not open_ended and covered_until is not None and covered_until < today:
        result.add(
            None,
            f"Die Aufstellung endet am {fmt_date(covered_until)}; sie muss bis heute reichen "
            "(letzte Tätigkeit ohne Enddatum).",
        )
    return result


def to_activities(raw_rows: list[dict]) -> list[Activity]:
    """Parsed rows in chronological order (for rendering); invalid rows are skipped."""
    rows = []
    for raw in raw_rows:
        start = parse_date(raw.get("start"))
        hours = parse_hours(raw.get("weekly_hours"))
        if start is None or hours is None:
            continue
        rows.append(
            Activity(
                start,
                parse_date(raw.get("end")),
                (raw.get("kind") or "").strip(),
                (raw.get("institution") or "").strip(),
                hours,
                raw.get("evidence") or "",
            )
        )
    return sorted(rows, key=lambda a: (a.start, a.end or dt.date.max))

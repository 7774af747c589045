"""Read-only presentation of an application from its type definition (review page, PDFs)."""

from __future__ import annotations

from dataclasses import dataclass

from kvportal.admission.rules.anlage1 import EVIDENCE_CHOICES, to_activities
from kvportal.admission.rules.definitions import (
    BEZIRK_LABELS,
    COMMITTEE_LABELS,
    ApplicationType,
    parse_date,
)
from kvportal.admission.rules.text import fmt_date, fmt_decimal


@dataclass
class Row:
    label: str
    value: str


@dataclass
class DisplaySection:
    key: str
    title: str
    rows: list[Row]


def value_text(app_type: ApplicationType, name: str, value: object) -> str:
    f = app_type.field(name)
    if value in (None, ""):
        return "–"
    if f.choices:
        return app_type.choice_label(name, value)
    if f.kind == "date":
        day = parse_date(value)
        return fmt_date(day) if day else str(value)
    return str(value)


def display_sections(app_type: ApplicationType, data: dict) -> list[DisplaySection]:
    sections = []
    for section in app_type.sections:
        if not section.when.holds(data, {}) or section.key in ("anlage1", "unterlagen"):
            continue
        rows = [
            Row(f.label, value_text(app_type, f.name, data.get(f.name)))
            for f in app_type.fields_in(section.key)
            if f.when.holds(data, {})
        ]
        if section.key == "unterschriften":
            for index, partner in enumerate(data.get("partners") or [], start=1):
                text = partner.get("name", "")
                if partner.get("lanr"):
                    text += f", LANR {partner['lanr']}"
                rows.append(Row(f"Gesellschafter {index}", text))
        if rows:
            sections.append(DisplaySection(section.key, section.title, rows))
    return sections


def anlage1_rows(data: dict) -> list[dict]:
    evidence = dict(EVIDENCE_CHOICES)
    return [
        {
            "start": fmt_date(a.start),
            "end": fmt_date(a.end) if a.end else "heute",
            "kind": a.kind,
            "institution": a.institution,
            "hours": fmt_decimal(a.weekly_hours),
            "register": a.evidence == "arztregister",
            "attached": a.evidence == "anlage",
            "evidence": evidence.get(a.evidence, ""),
        }
        for a in to_activities(list(data.get("anlage1") or []))
    ]


def committee_label(code: str) -> str:
    return COMMITTEE_LABELS.get(code, code)


def bezirk_label(code: str) -> str:
    return BEZIRK_LABELS.get(code, code)

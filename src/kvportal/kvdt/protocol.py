# Data protection: the protocol identifies cases only by the patient number (FK 3000).
"""German check protocol (Prüfprotokoll) of a ValidationReport, as plain text and as rows.

The billing app reuses `summary_lines` and `message_rows` for its HTML and PDF protocol.
No Django.
"""

from __future__ import annotations

from .messages import (
    FEHLER,
    INFO,
    SEVERITY_LABELS,
    WARNUNG,
    ValidationReport,
)


def _n(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def summary_lines(
    report: ValidationReport, *, file_name: str | None = None
) -> list[tuple[str, str]]:
    """(label, value) pairs for the head of a protocol."""
    s = report.stats
    rows = []
    if file_name:
        rows.append(("Datei", file_name))
    rows += [
        ("Ergebnis", f"{report.status} – {report.status_text}"),
        ("Abrechnungsquartal", str(report.quarter) if report.quarter else "nicht erkannt"),
        ("Betriebsstätten (besa)", ", ".join(report.bsnrs) or "keine"),
        ("Behandlungsfälle", _n(s["cases"])),
        ("Leistungen", _n(s["services"])),
        ("Diagnosen", _n(s["diagnoses"])),
        ("Zeilen", _n(s["lines"])),
        ("Größe", f"{_n(s['bytes'])} Bytes"),
        (
            "Nicht geprüft",
            (
                f"{len(report.not_checked)} Regeln brauchen KBV-Stammdateien. "
                + " ".join(report.not_checked_reasons)
            )
            if report.not_checked
            else "–",
        ),
        (
            "Meldungen",
            f"{_n(report.counts[FEHLER])} Fehler, {_n(report.counts[WARNUNG])} Warnungen, "
            f"{_n(report.counts[INFO])} Hinweise",
        ),
    ]
    return rows


def message_rows(report: ValidationReport) -> list[dict[str, str]]:
    """One dict per message with German column values (empty string when unknown)."""
    return [
        {
            "zeile": str(m.line) if m.line is not None else "",
            "art": SEVERITY_LABELS[m.severity],
            "kuerzel": m.severity,
            "regel": m.rule,
            "satzart": m.satzart or "",
            "feld": m.field or "",
            "patientennummer": m.patient_number or "",
            "meldung": m.text,
            "was_tun": m.hint or "",
            "fall_zeile": str(m.case_line) if m.case_line is not None else "",
        }
        for m in report.messages
    ]


def format_protocol(report: ValidationReport, *, file_name: str | None = None) -> str:
    """The whole protocol as German plain text (command line, e-mail, download)."""
    out = ["Prüfprotokoll KVDT-Abrechnungsdatei", "=" * 36]
    label_width = max(len(label) for label, _ in summary_lines(report, file_name=file_name))
    for label, value in summary_lines(report, file_name=file_name):
        out.append(f"{label + ':':<{label_width + 2}}{value}")
    out.append("")
    if not report.messages:
        out.append("Keine Meldungen.")
        return "\n".join(out) + "\n"
    out.append("Übersicht nach Regel (Anzahl der aufgeführten Meldungen):")
    for (severity, rule), (count, text) in rule_counts(report).items():
        out.append(f"  {severity} [{rule}] {count}×  {text}")
    out.append("")
    out.append("Meldungen nach Fall (Art: F = Fehler, W = Warnung, I = Hinweis):")
    current = object()
    for row in message_rows(report):
        case = row["fall_zeile"]
        if case != current:
            current = case
            if case:
                pat = f", Pat.-Nr. {row['patientennummer']}" if row["patientennummer"] else ""
                out.append(f"– Fall ab Zeile {case} (Satzart {row['satzart']}{pat})")
            else:
                out.append("– Datei, Kopf- und Praxisdaten")
        where = []
        if row["zeile"]:
            where.append(f"Zeile {row['zeile']}")
        if row["satzart"]:
            where.append(f"Satzart {row['satzart']}")
        if row["feld"]:
            where.append(f"FK {row['feld']}")
        if row["patientennummer"]:
            where.append(f"Pat.-Nr. {row['patientennummer']}")
        place = ", ".join(where)
        out.append(
            f"{row['kuerzel']} [{row['regel']}] {place}: {row['meldung']}"
            if place
            else f"{row['kuerzel']} [{row['regel']}] {row['meldung']}"
        )
        if row["was_tun"]:
            out.append(f"    Was tun? {row['was_tun']}")
    return "\n".join(out) + "\n"


def rule_counts(report: ValidationReport) -> dict[tuple[str, str], tuple[int, str]]:
    """(severity, rule) -> (number of listed messages, rule text), errors first."""
    from .messages import RULES

    counts: dict[tuple[str, str], int] = {}
    for m in report.messages:
        key = (m.severity, m.rule)
        counts[key] = counts.get(key, 0) + 1
    order = {FEHLER: 0, WARNUNG: 1, INFO: 2}
    keys = sorted(counts, key=lambda k: (order[k[0]], -counts[k], k[1]))
    return {k: (counts[k], RULES.get(k[1], (None, ""))[1]) for k in keys}

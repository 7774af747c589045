# Data protection (Art. 9 DSGVO, § 295 SGB V): messages name the patient only by the
# practice's patient number (FK 3000), never by name, birth date or insurance number.
"""Validation messages, the rule catalogue and the report of one check. No Django."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kvportal.core.quarters import Quarter

FEHLER = "F"
WARNUNG = "W"
INFO = "I"

SEVERITY_LABELS = {FEHLER: "Fehler", WARNUNG: "Warnung", INFO: "Hinweis"}

STATUS_OK = 0
STATUS_WARNINGS = 1
STATUS_FAULTY = 2
STATUS_ABORTED = 3

STATUS_TEXT = {
    STATUS_OK: "ohne Beanstandung",
    STATUS_WARNINGS: "mit Warnungen (verarbeitbar)",
    STATUS_FAULTY: "fehlerhaft (die KV kann die Datei so nicht verarbeiten)",
    STATUS_ABORTED: "Prüfung abgebrochen (keine lesbare KVDT-Datei)",
}

#: Every rule the validator checks: id → (severity, German rule text). KBV numbers are
#: the rule numbers of the KVDT Datensatzbeschreibung; the others are own ids.
RULES: dict[str, tuple[str, str]] = {
    # Abort
    "ABBRUCH-LEER": (FEHLER, "Die Datei ist leer."),
    "ABBRUCH-START": (
        FEHLER,
        "Die Datei beginnt nicht mit dem Feld 8000 „con0“; sie ist keine KVDT-Datei.",
    ),
    "ABBRUCH-CRLF": (
        FEHLER,
        "Die Zeilen enden nicht mit CR LF (Zeilenende nach KVDT); "
        "die Datei kann nicht gelesen werden.",
    ),
    "ABBRUCH-LESEN": (FEHLER, "Die Datei konnte nicht gelesen werden."),
    "ABBRUCH-SYNTAX": (
        FEHLER,
        "Zu viele Syntaxfehler: die Datei ist offenbar keine KVDT-Datei; Prüfung abgebrochen.",
    ),
    "ABBRUCH-INTERN": (FEHLER, "Interner Fehler der Prüfung; bitte die KV informieren."),
    # Syntax
    "SYN-LEN": (
        FEHLER,
        "Die Längenangabe (Stellen 1–3) stimmt nicht mit der tatsächlichen Länge der Zeile "
        "(einschließlich CR LF, höchstens 999 Bytes) überein.",
    ),
    "SYN-FK": (FEHLER, "Die Feldkennung (Stellen 4–7) muss aus vier Ziffern bestehen."),
    "SYN-LEER": (
        FEHLER,
        "Ein Feld darf nicht ohne Inhalt oder nur mit Leerzeichen übertragen werden.",
    ),
    "SYN-ZEICHEN": (
        FEHLER,
        "Unzulässiges Zeichen: erlaubt sind nur druckbare Zeichen nach ISO 8859-15.",
    ),
    "SYN-CRLF": (FEHLER, "CR oder LF dürfen nur gemeinsam als Zeilenende vorkommen."),
    "SYN-BLANK": (
        WARNUNG,
        "Alphanumerische Felder dürfen nicht mit Leerzeichen beginnen oder enden.",
    ),
    "SYN-FKUNBEKANNT": (INFO, "Die Feldkennung ist diesem Prüfprogramm nicht bekannt."),
    # Formats
    "FMT-LEN": (FEHLER, "Die Länge des Feldinhalts ist für dieses Feld nicht zulässig."),
    "FMT-NUM": (FEHLER, "Das Feld ist numerisch und darf nur Ziffern enthalten."),
    "FMT-WERT": (FEHLER, "Der Feldinhalt ist kein zulässiger Wert dieses Feldes."),
    "016": (FEHLER, "Das Quartal muss im Format QJJJJ angegeben sein (Q = 1–4)."),
    "021": (FEHLER, "Ein Datum muss im Format JJJJMMTT angegeben und gültig sein."),
    "022": (
        FEHLER,
        "Der ICD-10-GM-Code muss das Format ann, ann.n, ann.nn oder ann.n- haben.",
    ),
    "031": (
        FEHLER,
        "Die Version der Satzbeschreibung muss das Format [a]aaaMMJJ.nn haben.",
    ),
    "042": (FEHLER, "Die Gebührennummer muss das Format nnnnn oder nnnnnA haben."),
    "049": (FEHLER, "Die (N)BSNR muss aus neun Ziffern bestehen (kknnnnnmm)."),
    "050": (
        FEHLER,
        "Die LANR muss neun Ziffern haben und eine gültige Prüfziffer (7. Stelle) tragen.",
    ),
    "052": (FEHLER, "Die KBV-Prüfnummer muss das Format a/n[n][n]/JJMM/nn/aaa haben."),
    # Rule 054: the check digit "kann" be checked (rule table); no XPM catalogue message.
    "054": (
        WARNUNG,
        "Die Versicherten-ID soll das Format annnnnnnnP haben und eine gültige Prüfziffer "
        "tragen (Prüfung nach Regel 054 „kann“: Warnung).",
    ),
    "124": (FEHLER, "FK 9132 (enthaltene Datenpakete) muss 1, 3, 6 oder 7 sein."),
    "162": (FEHLER, "Die ersten beiden Stellen der (N)BSNR müssen ein gültiger KV-Bereich sein."),
    "175": (FEHLER, "Die Satzart ist in KVDT nicht zulässig."),
    "177": (FEHLER, "FK 0225 (TI-Fachanwendung) hat einen unzulässigen Wert."),
    "182": (FEHLER, "FK 9106 (verwendeter Zeichensatz) muss 4 (ISO 8859-15) sein."),
    "532": (FEHLER, "FK 9102 (Empfänger) muss ein zulässiger KV-/Bezirksstellenschlüssel sein."),
    "533": (FEHLER, "FK 3110 (Geschlecht) muss M, W, U, X oder D sein."),
    "331": (FEHLER, "In Satzart 0101 ist nur die Scheinuntergruppe 00 zulässig."),
    "356": (
        FEHLER,
        "In Satzart 0102 sind nur die Scheinuntergruppen 20, 21, 23, 24, 26, 27, 28 zulässig.",
    ),
    "426": (FEHLER, "In Satzart 0103 sind nur die Scheinuntergruppen 30, 31, 32 zulässig."),
    "427": (FEHLER, "In Satzart 0104 sind nur die Scheinuntergruppen 41 bis 46 zulässig."),
    "320": (
        FEHLER,
        "Im Überweisungsfall (0102) muss FK 4220 (Überweisung an) angegeben sein, "
        "außer bei Scheinuntergruppe 27 oder 28.",
    ),
    "328": (
        FEHLER,
        "Im Überweisungsfall (0102) muss genau eines der Felder 4218, 4219 oder 4226 "
        "(Überweiser) angegeben sein.",
    ),
    "354": (
        FEHLER,
        "Bei Scheinuntergruppe 30 muss FK 4233 (stationäre Behandlung) vorhanden sein.",
    ),
    "404": (
        FEHLER,
        "FK 4221 muss bei Scheinuntergruppe 27 oder 28 vorhanden sein und darf sonst "
        "nicht vorhanden sein.",
    ),
    "405": (
        FEHLER,
        "Bei Scheinuntergruppe 27 oder 28 muss FK 4102 (Ausstellungsdatum) vorhanden sein.",
    ),
    "406": (
        FEHLER,
        "Das Ausstellungsdatum (4102) darf nicht nach dem Erstellungsdatum der Datei "
        "(9103) liegen.",
    ),
    # Structure
    "STR-REIHENFOLGE": (
        FEHLER,
        "Die Satzart steht an unzulässiger Stelle (Reihenfolge con0, besa, rvsa, adt0, "
        "Behandlungsfälle, adt9, con9).",
    ),
    "STR-MUSS": (FEHLER, "Ein Mussfeld fehlt."),
    "STR-ZUORDNUNG": (
        FEHLER,
        "Das Feld steht ohne das Feld, dem es untergeordnet ist (z. B. 5001 ohne 5000).",
    ),
    "STR-ENDE": (FEHLER, "Die Datei endet nicht mit der Satzart con9 (unvollständig?)."),
    # XPM KVDT-FSORT: a Fehler in the XPM catalogue.
    "STR-SORT": (FEHLER, "Die Leistungstage (5000) eines Falls müssen aufsteigend sortiert sein."),
    "743": (WARNUNG, "Die Satzart rvsa fehlt, obwohl ein ADT-Datenpaket enthalten ist."),
    "750": (WARNUNG, "Die (N)BSNR in rvsa (0201) muss in besa angegeben sein."),
    "836": (FEHLER, "Zu jeder (N)BSNR in besa gehört mindestens eine LANR (0212) oder 0223."),
    # Context
    "304": (FEHLER, "Das Datum darf nicht nach dem Prüfdatum (Systemdatum) liegen."),
    "313": (FEHLER, "Der Leistungstag darf nicht vor dem Geburtsdatum liegen."),
    "324": (FEHLER, "Der Leistungstag (5000) muss im Quartal des Behandlungsfalls (4101) liegen."),
    "479": (
        FEHLER,
        "Die PLZ (3112) oder die Postfach-PLZ (3121) muss angegeben sein (außer bei "
        "Wohnsitzland ungleich D mit eingelesener Karte).",
    ),
    "480": (WARNUNG, "Der letzte Einlesetag der Versichertenkarte (4109) muss im Quartal liegen."),
    "486": (FEHLER, "Jeder Behandlungsfall braucht mindestens eine Diagnose (6001 oder 3673)."),
    "715": (
        FEHLER,
        "Die LANR des Leistungserbringers (5099) muss in besa (0212) angegeben sein.",
    ),
    "716": (
        FEHLER,
        "Die (N)BSNR des Leistungsorts (5098) muss in besa (0201) angegeben sein.",
    ),
    "762": (FEHLER, "Die Pseudo-LANR 888888800 ist nicht mehr zulässig."),
    "837": (
        FEHLER,
        "Zu jeder Gebührennummer gehört die LANR (5099) oder Pseudo-LANR (5101) "
        "(Satzarten 0101, 0102, 0104).",
    ),
    "856": (WARNUNG, "Zur Diagnose Z01.7 muss die Diagnosensicherheit (6003) G sein."),
    "860": (WARNUNG, "Die Dauerdiagnose (3673) darf nicht Z01.7 sein."),
    "858": (
        FEHLER,
        "Jede TI-Fachanwendung (0225) muss je (N)BSNR genau einmal angegeben sein.",
    ),
    "859": (
        FEHLER,
        "Zu jeder Gebührennummer gehört die (N)BSNR (5098) oder das KH-IK (5102) "
        "(Satzarten 0101, 0102, 0104).",
    ),
    "875": (FEHLER, "Eine LANR darf je (N)BSNR in besa nur einmal angegeben sein."),
    "878": (WARNUNG, "Eine (N)BSNR soll in besa nur einmal angegeben sein."),
    # Portal (KV Sachsen)
    "KV-QUARTAL": (FEHLER, "Das Abrechnungsquartal (9204) ist nicht das gewählte Quartal."),
    "KV-BSNR": (
        FEHLER,
        "Die erste (N)BSNR in besa (abrechnende Betriebsstätte) ist nicht die gewählte BSNR.",
    ),
    "KV-EMPFAENGER": (
        WARNUNG,
        "Empfänger (9102) ist keine Bezirksstelle der KV Sachsen (94, 95, 96).",
    ),
    "KV-MELDUNGEN": (INFO, "Weitere Meldungen wurden nicht einzeln aufgeführt."),
}


@dataclass(slots=True)
class Message:
    severity: str
    rule: str
    text: str
    line: int | None = None
    satzart: str | None = None
    field: str | None = None
    patient_number: str | None = None

    @property
    def severity_label(self) -> str:
        return SEVERITY_LABELS[self.severity]

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "rule": self.rule,
            "line": self.line,
            "satzart": self.satzart,
            "field": self.field,
            "patient_number": self.patient_number,
            "text": self.text,
        }


@dataclass
class ValidationReport:
    status: int = STATUS_OK
    messages: list[Message] = field(default_factory=list)
    stats: dict[str, int] = field(
        default_factory=lambda: {"cases": 0, "services": 0, "diagnoses": 0, "lines": 0, "bytes": 0}
    )
    bsnrs: list[str] = field(default_factory=list)
    quarter: Quarter | None = None
    #: Number of messages per severity, including those not listed (see MAX_MESSAGES).
    counts: dict[str, int] = field(default_factory=lambda: {FEHLER: 0, WARNUNG: 0, INFO: 0})

    @property
    def aborted(self) -> bool:
        return self.status == STATUS_ABORTED

    @property
    def ok(self) -> bool:
        """True when the KV can process the file (status 0 or 1)."""
        return self.status <= STATUS_WARNINGS

    @property
    def status_text(self) -> str:
        return STATUS_TEXT[self.status]

    def rules(self) -> set[str]:
        return {m.rule for m in self.messages}

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "status_text": self.status_text,
            "quarter": self.quarter.kvdt if self.quarter else None,
            "bsnrs": list(self.bsnrs),
            "stats": dict(self.stats),
            "counts": {
                "errors": self.counts[FEHLER],
                "warnings": self.counts[WARNUNG],
                "infos": self.counts[INFO],
            },
            "messages": [m.to_dict() for m in self.messages],
        }

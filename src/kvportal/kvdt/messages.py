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
    "862": (
        FEHLER,
        "Jede TI-Fachanwendung (0225) darf je (N)BSNR bzw. Krankenhaus-IK höchstens einmal "
        "angegeben sein.",
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
    # ---- ADT rule table (KVDT Datensatzbeschreibung), severities of the XPM catalogue
    "056": (
        WARNUNG,
        "Scheinuntergruppe 28: die LANR (5099) ist falsch bzw. unplausibel (Prüfziffer).",
    ),
    "062": (FEHLER, "Eine BSNR SAPV (beginnend mit 74) muss das Format 74kknnn63 haben."),
    "307": (
        WARNUNG,
        "Sind Einlesetag (4109) und Versicherten-ID (3119) vorhanden, muss die CDM-Version "
        "(3006) vorhanden sein.",
    ),
    "308": (WARNUNG, "Die CDM-Version (3006) muss kleiner oder gleich 5.2.0 sein."),
    "309": (
        WARNUNG,
        "Bei CDM-Version 5.2.0 darf der Error-Code (3012) nicht 99999 sein.",
    ),
    "310": (
        WARNUNG,
        "Bei CDM-Version ungleich 5.2.0 muss der Error-Code (3012) 99999 sein.",
    ),
    "315": (
        WARNUNG,
        "Der Leistungstag (5000) muss kleiner oder gleich dem Versicherungsschutz-Ende (4110) "
        "sein.",
    ),
    "319": (
        FEHLER,
        "Die (N)BSNR des Erstveranlassers (4217) darf nicht gleich der (N)BSNR des "
        "Überweisers (4218) sein.",
    ),
    "431": (
        FEHLER,
        "Nur bei Scheinuntergruppe 27 darf 4217 oder 4225 (Erstveranlasser) vorhanden sein, "
        "nicht beide.",
    ),
    "432": (FEHLER, "Die Ausnahmeindikation (4229) ist nur bei Scheinuntergruppe 27/28 erlaubt."),
    "484": (FEHLER, "Zum ICD-Code (6001) fehlt die Diagnosensicherheit (6003)."),
    "484a": (FEHLER, "Zur Dauerdiagnose (3673) fehlt die Diagnosensicherheit (3674)."),
    "485": (
        FEHLER,
        "Die Patientenadresse ist unvollständig: Straße (3107) und Ort (3113) gehören zusammen.",
    ),
    "537": (
        FEHLER,
        "Für die Versicherten-ID T555558879 dürfen keine Leistungen abgerechnet werden.",
    ),
    "706": (
        FEHLER,
        "Für Behandlungsfälle ab Q1/2026 ist die Seitenlokalisation von OPS-Kodes (5041) nur "
        "L oder R.",
    ),
    "720": (
        FEHLER,
        "Scheinuntergruppe 28: die (N)BSNR des Überweisers (4218) muss gleich der (N)BSNR "
        "des Leistungsorts (5098) sein.",
    ),
    "721": (
        FEHLER,
        "Scheinuntergruppe 28: die LANR des Überweisers (4242) muss gleich der LANR (5099) sein.",
    ),
    "723": (
        WARNUNG,
        "Scheinuntergruppe 28: die LANR (5099) soll in besa (0212) angegeben sein.",
    ),
    "724": (
        WARNUNG,
        "Scheinuntergruppe 28: die (N)BSNR (5098) soll in besa (0201) angegeben sein.",
    ),
    "738": (
        FEHLER,
        "Der Abrechnungsteil (9261) muss kleiner oder gleich der Anzahl Teilabrechnungen "
        "(9260) sein.",
    ),
    "744": (
        FEHLER,
        "Bei Scheinuntergruppe 21 (Auftragsleistungen) muss der Auftrag (4205) da sein.",
    ),
    "746": (
        FEHLER,
        "Bei Scheinuntergruppe 31 müssen 4218 und einer der Felder 4205, 4207 oder 4208 da sein.",
    ),
    "754": (FEHLER, "Bei Scheinuntergruppe 28 sind in 4221 nur 1, 2 und 4 erlaubt."),
    "755": (FEHLER, "Bei Scheinuntergruppe 27 muss der Auftrag (4205) vorhanden sein."),
    "756": (WARNUNG, "Das Feld 4209 ist nur bei Scheinuntergruppe 28 erlaubt."),
    "774": (FEHLER, "Ab CDM-Version 5.2.0 (3006) muss der WOP (3116) vorhanden sein."),
    "775": (
        FEHLER,
        "Sind CDM-Version (3006) und Einlesetag (4109) vorhanden, muss der "
        "Versicherungsschutz-Beginn (4133) vorhanden sein.",
    ),
    "776a": (
        FEHLER,
        "Bei eingelesener Karte (4109) und VKNR-Stellen 3–5 unter 800 muss die Versicherten-ID "
        "(3119) vorhanden sein.",
    ),
    "776b": (
        FEHLER,
        "Bei eingelesener Karte (4109) und VKNR-Stellen 3–5 ab 800 muss 3119 oder 3105 "
        "vorhanden sein.",
    ),
    "777": (
        FEHLER,
        "Bei eingelesener Karte (4109) muss der Kostenträgername (4134) vorhanden sein "
        "(außer Scheinuntergruppe 21, 27, 28).",
    ),
    "782": (
        WARNUNG,
        "Der Leistungstag (5000) muss größer oder gleich dem Versicherungsschutz-Beginn (4133) "
        "sein.",
    ),
    "784": (
        FEHLER,
        "Ist die CDM-Version (3006) vorhanden, muss der Wohnsitzländercode (3114 oder 3124) "
        "vorhanden sein.",
    ),
    "790": (
        FEHLER,
        "Bei eingelesener Karte (4109) ohne CDM-Version (3006) müssen die VKNR-Stellen 3–5 "
        "(4104) mindestens 800 sein.",
    ),
    "841": (FEHLER, "Ist 4218 (BSNR des Überweisers) vorhanden, muss 4242 (LANR) vorhanden sein."),
    "850": (FEHLER, "Die Felder 4252 und 4253 dürfen nur gemeinsam übertragen werden."),
    "851": (FEHLER, "Die Felder 4255 und 4256 dürfen nur gemeinsam übertragen werden."),
    "852": (FEHLER, "Ist das Feld 4255 befüllt, muss auch das Feld 4252 befüllt sein."),
    "857": (FEHLER, "Im besa-Satz muss das Feld 0201 oder 0213 vorhanden sein."),
    "864": (WARNUNG, "Der Zeitstempel der Onlineprüfung (3010) muss im Quartal (4101) liegen."),
    "867": (
        WARNUNG,
        "Der Zeitstempel der Onlineprüfung (3010) darf nicht nach dem Prüfdatum liegen.",
    ),
    "870": (FEHLER, "Die Kontaktart 3 (4103) ist nur in Satzart 0102 erlaubt."),
    "872": (FEHLER, "Ist 0224 (Konnektor) angegeben, muss auch 0227 angegeben sein."),
    "874": (WARNUNG, "Ist 0224 (Konnektor) angegeben, muss auch 0228 angegeben sein."),
    "876": (WARNUNG, "Ist 3010 (Onlineprüfung) vorhanden, muss auch 4109 vorhanden sein."),
    "877": (WARNUNG, "Bei Kontaktart 3 (4103) muss der Tag der Terminvermittlung (4115) da sein."),
    "886": (
        WARNUNG,
        "Der Tag der Terminvermittlung (4115) darf nicht mehr als 60 Tage vor dem ersten "
        "Leistungstag liegen.",
    ),
    "887": (WARNUNG, "Der Tag der Terminvermittlung (4115) darf nicht nach dem Prüfdatum liegen."),
    "895": (
        WARNUNG,
        "Ist 4112 (eEB) vorhanden, dürfen 4109, 3010 und 3006 nicht vorhanden sein.",
    ),
    "899": (WARNUNG, "Der Leistungstag (5000) darf nicht vor dem Datum in 4214 liegen."),
    "900": (
        WARNUNG,
        "Das Datum in 4214 darf nicht mehr als 60 Tage vor dem Leistungstag (5000) liegen.",
    ),
    "023": (
        WARNUNG,
        "Hybrid-DRG: das Geburtsdatum (3103) soll vollständig (JJJJMMTT) angegeben sein.",
    ),
    "314": (WARNUNG, "Das Geburtsdatum (3103) muss kleiner oder gleich dem OP-Datum (5034) sein."),
    "321": (
        WARNUNG,
        "Das OP-Datum (5034) muss kleiner oder gleich dem Versicherungsschutz-Ende (4110) sein.",
    ),
    "322": (
        WARNUNG,
        "Das OP-Datum (5034) muss größer oder gleich dem Versicherungsschutz-Beginn (4133) sein.",
    ),
    "363": (FEHLER, "Der Leistungstag (5000) muss im Gültigkeitszeitraum (4125) liegen."),
    "778": (
        FEHLER,
        "Bei Besonderer Personengruppe 07 oder 08 (4131) muss der KTAB (4106) 01 oder 09 sein.",
    ),
    "779": (
        FEHLER,
        "Bei Besonderer Personengruppe 06 (4131) muss der KTAB (4106) 02 oder 09 sein.",
    ),
    "780": (
        FEHLER,
        "Bei Besonderer Personengruppe 04 (4131) muss der KTAB (4106) 00 oder 09 sein.",
    ),
    "818": (
        WARNUNG,
        "Bei Besonderer Personengruppe 09 (4131) soll der KTAB (4106) 00 oder 09 sein.",
    ),
    "827": (
        WARNUNG,
        "Bei eingelesener Karte ohne Besondere Personengruppe muss der KTAB (4106) 00 oder 09 "
        "sein.",
    ),
    "897": (WARNUNG, "Ist 4235 vorhanden, sollen auch 4252 und 4253 vorhanden sein."),
    "212": (FEHLER, "Der Kostenträger mit der VKNR 74799 darf nicht an die KV übermittelt werden."),
    "710": (WARNUNG, "Sachkosten (5012) sollten kleiner als 10.000 Euro sein."),
    "813": (WARNUNG, "Die Version der ADT-Satzbeschreibung (9212) passt nicht zum Quartal."),
    "814": (WARNUNG, "Die Version der KADT-Satzbeschreibung (9212) passt nicht zum Quartal."),
    "815": (WARNUNG, "Die Version der SADT-Satzbeschreibung (9212) passt nicht zum Quartal."),
    "840": (
        WARNUNG,
        "Bei Empfänger 93–96 (Thüringen/Sachsen) muss das Release (0132) dem vorgegebenen "
        "Format entsprechen.",
    ),
    "534": (FEHLER, "Der Wert von 4131 (Besondere Personengruppe) ist nicht zulässig."),
    "536": (FEHLER, "Der Wert von 4132 (DMP-Kennzeichnung) ist nicht zulässig."),
    "316": (FEHLER, "KADT: der Anreisetag (4264) muss kleiner oder gleich dem Leistungstag sein."),
    "317": (
        FEHLER,
        "KADT: ohne 4272 muss der Abreisetag (4265) größer oder gleich dem Leistungstag sein.",
    ),
    "318": (
        FEHLER,
        "KADT: ohne 4272 muss der Leistungstag kleiner oder gleich dem Kurabbruch (4266) sein.",
    ),
    "382": (FEHLER, "KADT: Kompaktkur (4262/4272) nur bei Kurart (4261) 1 oder 2."),
    "383": (FEHLER, "KADT: das Feld 4271 nur zusammen mit 4262 oder 4272."),
    "879": (WARNUNG, "KADT: die Felder 4276 und 4277 nur zusammen mit 4272."),
    "880": (WARNUNG, "KADT: das Feld 4278 nur zusammen mit 4272."),
    "881": (WARNUNG, "KADT: entweder 4262 oder 4272 oder keines von beiden."),
    "364": (
        WARNUNG,
        "Ist 4125 (Gültigkeitszeitraum) angegeben, muss das OP-Datum (5034) in diesem Zeitraum "
        "liegen.",
    ),
    "365": (
        WARNUNG,
        "Hybrid-DRG: ist 4125 angegeben, muss der Beginn der Leistung (5028) in diesem Zeitraum "
        "liegen.",
    ),
    "366": (
        WARNUNG,
        "Hybrid-DRG: ist 4125 angegeben, muss das Ende der Leistung (5029) in diesem Zeitraum "
        "liegen.",
    ),
    "390": (
        WARNUNG,
        "Hybrid-DRG: ist der Patient zu Beginn der Leistung (5028) höchstens ein Jahr alt, muss "
        "das Aufnahmegewicht (3111) angegeben sein.",
    ),
    "538": (FEHLER, "Hybrid-DRG: das Geschlecht (3110) muss M, W, X oder D sein (nicht U)."),
    "896": (WARNUNG, "Hybrid-DRG: die Beatmungsstunden (5030) dürfen nicht größer als 0 sein."),
    "521": (FEHLER, "Ungültiges Kennzeichen für eine poststationäre Behandlung (5024): nur N."),
    "707": (
        WARNUNG,
        "Ist die Mengenangabe Kontrast-/Arzneimittel (5042) da, darf kein Multiplikator (5005) "
        "angegeben sein.",
    ),
    "770": (
        WARNUNG,
        "Zu den GNR 11511, 11512, 11516–11518, 11521, 11721–11723, 11728, 11730, 11731 müssen "
        "5077 und 5079 genau einmal angegeben sein.",
    ),
    "816": (
        WARNUNG,
        "Zur GNR 11233 muss 5079 (Art der Erkrankung) angegeben sein; 5077 und 5078 dürfen nicht "
        "angegeben sein.",
    ),
    "824": (
        WARNUNG,
        "Die Version der Hybrid-DRG-Satzbeschreibung (9212) passt nicht zum Quartal der "
        "Erstellung (9103).",
    ),
    "828": (
        WARNUNG,
        "Zu den GNR 11302, 11303, 11305, 19402 muss eine Diagnose (6001) außer Z01.7 angegeben "
        "sein; 5077 und 5079 dürfen nicht angegeben sein.",
    ),
    "829": (
        WARNUNG,
        "Zu den GNR 19421, 19424, 19425, 19451–19454, 19456 muss 5077 genau einmal je GNR und "
        "eine Diagnose (6001) außer Z01.7 angegeben sein.",
    ),
    "830": (
        WARNUNG,
        "Zu den GNR 19424, 19453, 19456 muss 5077 mindestens einmal je GNR und eine Diagnose "
        "(6001) außer Z01.7 angegeben sein.",
    ),
    "834": (
        WARNUNG,
        "Zu den GNR 11513, 11522, 11724–11727, 11732 müssen 5077 und 5079 mindestens einmal je "
        "GNR angegeben sein.",
    ),
    "730": (
        FEHLER,
        "KADT: die (N)BSNR des Leistungsorts (5098) muss in besa (0201) angegeben sein.",
    ),
    "731": (WARNUNG, "KADT: die LANR (5099) soll in besa (0212) angegeben sein."),
    "732": (
        FEHLER,
        "SADT: die (N)BSNR des Leistungsorts (5098) muss in besa (0201) angegeben sein.",
    ),
    "733": (FEHLER, "SADT: die LANR (5099) muss in besa (0212) angegeben sein."),
    "059": (
        INFO,
        "Die ASV-Teamnummer (0222, 5100) muss dem Format 00nnnnnnP entsprechen (P = Prüfziffer "
        "über die Stellen 3–8).",
    ),
    "063": (
        FEHLER,
        "Die Pseudo-LANR für Krankenhausärzte in der ASV (0223, 5101) muss dem Format "
        "555555nff entsprechen.",
    ),
    "064": (
        WARNUNG,
        "Die Pseudo-LANR für Krankenhausärzte in der ASV (4248, 4249) muss dem Format "
        "555555nff entsprechen.",
    ),
    "048": (
        FEHLER,
        "SADT: die Kennziffer SA (3005) entspricht nicht dem Format "
        "nddddddnnnnnnnnnnnnna[a][a][a][a][a][a] (1. Stelle 0 oder 1, Stellen 2–7 TTMMJJ, "
        "8–20 Ziffern, 21–27 alphanumerisch).",
    ),
    "048a": (
        FEHLER,
        "SADT: in der Kennziffer SA (3005) sind die Stellen 2 bis 7 kein gültiges Datum TTMMJJ.",
    ),
    "709": (
        WARNUNG,
        "SADT: ist die 1. Stelle der Kennziffer SA (3005) „0“, ist keine Abrechnung über SADT "
        "möglich.",
    ),
    "740": (
        WARNUNG,
        "rvsa: ist 0300 = 1 (Laborleistungen), müssen 0301 (pnSD/uu-Analysen) und mindestens eine "
        "Analyt-ID (0304) angegeben sein.",
    ),
    "741": (WARNUNG, "rvsa: ist 0301 = 1 oder 2, muss der Gerätetyp (0302) angegeben sein."),
    "748": (
        WARNUNG,
        "rvsa: ist ein RV-Zertifikat (0305) = 2 (pnSD/uu-Analyse), muss mindestens ein Gerätetyp "
        "(0302) angegeben sein.",
    ),
    "838": (
        INFO,
        "Scheinuntergruppe 28 mit ASV-Teamnummer des Überweisers (4226): die ASV-Teamnummer "
        "der Leistung (5100) muss gleich sein.",
    ),
    "839": (
        INFO,
        "Die Pseudo-LANR (5101) muss in besa (0223) angegeben sein, außer bei Vorquartalsfällen.",
    ),
    "842": (
        INFO,
        "Scheinuntergruppe 28 mit Pseudo-LANR des Überweisers (4249): die Pseudo-LANR der "
        "Leistung (5101) muss gleich sein.",
    ),
    "843": (
        WARNUNG,
        "Zu den GNR 32901, 32902, 32904, 32906, 32908, 32910, 32911 muss eine Diagnose (6001) "
        "außer Z01.7 angegeben sein; 5077 und 5079 dürfen nicht angegeben sein.",
    ),
    "847": (INFO, "Zu den GNR 19421, 19451, 19452 soll 5079 genau einmal je GNR angegeben sein."),
    "848": (
        INFO,
        "Zu den GNR 19424, 19453, 19454, 19456 sollte 5079 mindestens einmal je GNR angegeben "
        "sein.",
    ),
    "853": (
        FEHLER,
        "In einem Psychotherapie-Informationsblock (4235 ff.) darf eine GNR in 4253 bzw. 4256 "
        "nicht mehrfach angegeben sein.",
    ),
    "854": (
        WARNUNG,
        "Zu den GNR 32915–32918 muss eine Diagnose (6001) außer Z01.7 angegeben sein; 5077 und "
        "5079 dürfen nicht angegeben sein.",
    ),
    "869": (
        WARNUNG,
        "Mit Onlineprüfung (3010) und CDM-Version 5.2.0 muss zu mindestens einer (N)BSNR des "
        "Falls (5098) in besa die Produkttypversion des Konnektors (0224) angegeben sein.",
    ),
    "882": (
        WARNUNG,
        "KADT mit Refresher (4272, ohne 4266/4278): jeder Leistungstag muss in 4264–4265 oder "
        "4276–4277 liegen.",
    ),
    "883": (
        WARNUNG,
        "KADT mit Refresher (4272) und Kurabbruch (4266): jeder Leistungstag muss in 4264–4265 "
        "(bis 4266) oder 4276–4277 liegen.",
    ),
    "884": (
        WARNUNG,
        "KADT mit Refresher (4272) und dessen Abbruch (4278): jeder Leistungstag muss in "
        "4264–4265 oder 4276–4277 (bis 4278) liegen.",
    ),
    "885": (
        WARNUNG,
        "KADT mit Refresher (4272), 4266 und 4278: jeder Leistungstag muss in 4264–4265 (bis "
        "4266) oder 4276–4277 (bis 4278) liegen.",
    ),
    "891": (WARNUNG, "Ist 5077 = 999999, muss mindestens ein Gen-Name (5078) angegeben sein."),
    "893": (WARNUNG, "Ist 5077 ungleich 999999, darf kein Gen-Name (5078) angegeben sein."),
    "894": (
        WARNUNG,
        "Sind 5050 und ein Multiplikator (5005) angegeben, muss die Anzahl der 5050 dem "
        "Multiplikator entsprechen.",
    ),
    "201": (
        INFO,
        "Die Abrechnungs-VKNR (4104) steht nicht in der Kostenträger-Stammdatei (SDKT) des "
        "Quartals; bei einem temporär angelegten Kostenträger ist das ohne Belang.",
    ),
    "203": (
        WARNUNG,
        "Die GNR (5001) ist in der EBM-Stammdatei (SDEBM) des Quartals nicht definiert oder am "
        "Leistungstag nicht gültig.",
    ),
    "223": (
        FEHLER,
        "Der OP-Schlüssel (5035) ist nicht in der OPS-Stammdatei (SDOPS) enthalten oder am "
        "Leistungstag nicht gültig.",
    ),
    "701": (WARNUNG, "Die Abrechnung der GNR erfordert die Angabe des OP-Datums (5034)."),
    "702": (
        WARNUNG,
        "Die Abrechnung der GNR erfordert laut EBM-Stammdatei den OP-Schlüssel (5035) bzw. die "
        "GNR als Begründung (5036).",
    ),
    "705": (
        WARNUNG,
        "Der OP-Schlüssel erfordert laut OPS-Stammdatei (kzseite=J) die Seitenlokalisation (5041).",
    ),
    "728": (
        FEHLER,
        "Der ICD-Code (6001/3673) ist zum Abrechnungszeitraum nicht gültig: er steht nicht als "
        "abrechenbar in der ICD-10-GM-Stammdatei (SDICD).",
    ),
    "868": (
        WARNUNG,
        "Die GNR erfordert laut EBM-Stammdatei das Feld 5010 einmal je GNR.",
    ),
    "888": (WARNUNG, "Die GNR erfordert laut EBM-Stammdatei das Feld 5050."),
    "889": (WARNUNG, "Die GNR erfordert laut EBM-Stammdatei das Feld 5051."),
    "890": (WARNUNG, "Die GNR erfordert laut EBM-Stammdatei das Feld 5052."),
    "892": (
        WARNUNG,
        "Die GNR erfordert laut EBM-Stammdatei mindestens ein HGNC-Gensymbol (5077).",
    ),
    "901": (
        WARNUNG,
        "Überweisung (0102) mit Scheinuntergruppe 21, 27 oder 28: die GNR erfordert laut "
        "EBM-Stammdatei das Datum der Terminvermittlung/Auftragserteilung (4214).",
    ),
    # ICD-10-GM (SDICD): ADT/KADT-Regeltabelle (6001/3673), HDRG-Regeltabelle (6009/6011)
    "489": (
        WARNUNG,
        "Bitte ICD-Kodierung überprüfen: der ICD-Code gilt laut SDICD nur für Patienten dieses "
        "Alters (Muss-Fehler).",
    ),
    "490": (
        WARNUNG,
        "Bitte ICD-Kodierung überprüfen: Diagnosen dieses Kodes sind in Mitteleuropa sehr selten "
        "(SDICD).",
    ),
    "491": (
        WARNUNG,
        "Bitte ICD-Kodierung überprüfen: der ICD-Code gilt laut SDICD nur für Patienten des "
        "anderen Geschlechts; Diagnosenausnahmetatbestand (6008 bzw. 3677) angeben.",
    ),
    "492": (
        FEHLER,
        "Bitte ICD-Kodierung überprüfen: der ICD-Code ist gegenwärtig ohne Inhalt und deshalb für "
        "die Verschlüsselung nicht zugelassen (SDICD).",
    ),
    "729": (
        FEHLER,
        "Zu diesem Abrechnungsschein muss mindestens ein primärer ICD-Code angegeben werden (nur "
        "Stern- oder Ausrufezeichen-Kodes laut SDICD).",
    ),
    "761": (
        WARNUNG,
        "Bitte ICD-Kodierung überprüfen: der ICD-Code gilt laut SDICD überwiegend nur für "
        "Patienten dieses Alters (Kann-Fehler).",
    ),
    "817": (
        WARNUNG,
        "Bitte ICD-Kodierung überprüfen: der ICD-Code gilt laut SDICD überwiegend nur für "
        "Patienten des anderen Geschlechts (Kann-Fehler).",
    ),
    "493": (
        WARNUNG,
        "Hybrid-DRG: Bitte ICD-Kodierung überprüfen: der ICD-Code (6009/6011) gilt laut SDICD nur "
        "für Patienten dieses Alters.",
    ),
    "494": (
        WARNUNG,
        "Hybrid-DRG: Bitte ICD-Kodierung überprüfen: Diagnosen dieses Kodes (6009/6011) sind in "
        "Mitteleuropa sehr selten.",
    ),
    "498": (
        FEHLER,
        "Hybrid-DRG: der ICD-Code (6009/6011) ist gegenwärtig ohne Inhalt und deshalb für die "
        "Verschlüsselung nicht zugelassen.",
    ),
    "499": (
        FEHLER,
        "Hybrid-DRG: der ICD-Code (6009/6011) ist zum Abrechnungszeitraum nicht gültig: er steht "
        "nicht als abrechenbar in der SDICD.",
    ),
    "735": (
        FEHLER,
        "Hybrid-DRG: zu diesem Fall muss mindestens ein primärer ICD-Code (6009/6011) angegeben "
        "werden.",
    ),
    "737": (
        WARNUNG,
        "Hybrid-DRG: Bitte ICD-Kodierung überprüfen: der ICD-Code (6009/6011) gilt laut SDICD "
        "überwiegend nur für Patienten des anderen Geschlechts.",
    ),
    # Kostenträger (SDKT)
    "202": (
        INFO,
        "Das IK der Krankenkasse (4111) steht nicht in der Kostenträger-Stammdatei (SDKT) des "
        "Quartals.",
    ),
    "210": (
        WARNUNG,
        "Gilt nur für Fälle des aktuellen Abrechnungsquartals: die Gebührenordnung (4121) muss der"
        " Gebührenordnung des Kostenträgers in der SDKT entsprechen.",
    ),
    "763": (
        WARNUNG,
        "Nicht zulässiger KV-Geltungsbereich: der Kostenträger (4104) ist laut SDKT im KV-Bereich "
        "der Betriebsstätte (0201) nicht zugelassen.",
    ),
    "222": (
        FEHLER,
        "Das HGNC-Gensymbol (5077) ist nicht in der HGNC-Schlüsseltabelle (key/@DN) enthalten; "
        "für ein Gen außerhalb der Tabelle den Ersatzwert 999999 und den Gen-Namen (5078) "
        "angeben.",
    ),
    "211": (
        WARNUNG,
        "Die Analyt-ID (0304) im Satz rvsa existiert nicht in der Schlüsseltabelle "
        "S_NVV_RV_Zertifikat.",
    ),
    "749": (
        WARNUNG,
        "Die GNR erfordert möglicherweise ein Ringversuchszertifikat: im Satz rvsa fehlt ein "
        "Analyt (0304) der Schlüsseltabelle S_NVV_RV_Zertifikat mit RV-Zertifikat (0305) 1 "
        "oder 2. Ohne Belang, wenn andere Materialien oder Analyte untersucht wurden.",
    ),
    "017": (
        FEHLER,
        "Die ersten beiden Stellen der VKNR (4104) können keinem UKV/OKV-Bereich zugeordnet "
        "werden (Format nnmmm, nn nach der Werteliste der Regel 017).",
    ),
    "221": (
        WARNUNG,
        "Die Hybrid-DRG (5027) ist nicht in der Hybrid-DRG-Stammdatei (SDHDRG) enthalten, die am "
        "Datum Beginn der Leistung (5028) gilt.",
    ),
    "KVDT-RQL2": (
        WARNUNG,
        "Die Kasse (VKNR 4104) steht in der Kostenträger-Stammdatei (SDKT), ist aber im "
        "Abrechnungsquartal nicht gültig.",
    ),
    "KVDT-RAV": (
        WARNUNG,
        "Die (N)BSNR des Überweisers (4218) ist nicht in der Arztverzeichnis-Stammdatei "
        "(SDAV) des Quartals.",
    ),
    # EBM (SDEBM): Begründungen
    "703": (
        WARNUNG,
        "Mindestens ein OP-Schlüssel (5035) muss in der EBM-Stammdatei bei der GNR als Begründung "
        "definiert sein.",
    ),
    "704": (
        WARNUNG,
        "Als Abrechnungsbegründung (5036) muss eine GNR angegeben werden, die die EBM-Stammdatei "
        "für die GNR vorsieht.",
    ),
    "478": (
        FEHLER,
        "Ungültige Patienten-Postleitzahl (Stammdatei SDPLZ); bei Wohnsitz im Ausland 99999 "
        "angeben.",
    ),
    "783": (
        FEHLER,
        "Bei Primärabrechnung (4106 = 00) ohne Einlesedatum muss die Postfach-PLZ (3121) in der "
        "PLZ-Stammdatei stehen.",
    ),
    "844": (WARNUNG, "Ist 4225 vorhanden, muss 4241 oder 4248 vorhanden sein."),
    "845": (
        WARNUNG,
        "Ist 4226 vorhanden, muss 4242 oder 4249 vorhanden sein (bei Scheinuntergruppe 28: "
        "4242, nicht 4249).",
    ),
    "865": (
        WARNUNG,
        "KADT: der Zeitstempel 3010 muss größer oder gleich dem Anreisetag (4264) sein.",
    ),
    "866": (
        WARNUNG,
        "KADT: der Zeitstempel 3010 muss kleiner oder gleich dem Abreisetag bzw. Kurabbruch sein.",
    ),
    # ---- XPM checks outside the rule tables
    "KVDT-FK5001": (FEHLER, "Das Feld darf erst hinter einer GNR (5001) angegeben werden."),
    "KVDT-FEHL": (FEHLER, "Zu einer GNR fehlt eine Pflichtangabe (Satztabelle 0103)."),
    "KVDT-RDP1": (FEHLER, "Das Datenpaket wurde nicht im Containersatz (9132) deklariert."),
    "KVDT-RDP2": (
        FEHLER,
        "Das Datenpaket wurde im Containersatz (9132) deklariert, fehlt aber in der Datei.",
    ),
    "KVDT-SATZBESAHDRG": (
        FEHLER,
        "besa oder rvsa dürfen nicht zusammen mit hdrg0 in einer Datei übertragen werden.",
    ),
    "KVDT-FILEHDRG": (WARNUNG, "Der Dateiname einer Hybrid-DRG-Datei muss mit „Z30“ beginnen."),
    "KVDT-RQL1": (
        FEHLER,
        "Dieser Behandlungsfall kann erst im nächsten Quartal abgerechnet werden.",
    ),
    "KVDT-FSATZ": (
        FEHLER,
        "Ein Datenpaket muss mindestens einen Behandlungsfall-Satz enthalten (ADT: 0101–0104, "
        "KADT: 0109, SADT: sad1–sad3, Hybrid-DRG: hdrg1).",
    ),
    "KVDT-RSU": (
        FEHLER,
        "Unbekannte Scheinuntergruppe (4239): zulässig sind 00, 20, 21, 23, 24, 26, 27, 28, 30, "
        "31, 32 und 41 bis 46.",
    ),
    "KVDT-RKAB": (
        FEHLER,
        "Unbekannter Kostenträger-Abrechnungsbereich (4106): zulässig sind 00 bis 09.",
    ),
    "KVDT-DATLEN": (FEHLER, "Für ein Datumsfeld wird eine Länge von 8 (JJJJMMTT) erwartet."),
    "KVDT-TIMLEN": (
        FEHLER,
        "Für ein Datums- und Uhrzeitfeld wird eine Länge von 14 (JJJJMMTThhmmss) erwartet.",
    ),
    "KVDT-FK3674": (
        INFO,
        "Bitte die Diagnosensicherheit der Dauerdiagnose (3674) prüfen: Dauerdiagnosen im Sinne "
        "der Abrechnung sind gesichert oder beschreiben einen Zustand nach einer gesicherten "
        "Diagnose (G oder Z); V oder A nur ausnahmsweise quartalsübergreifend.",
    ),
    "KVDT-RQL3": (
        WARNUNG,
        "Das Scheinquartal (4101) weicht um mehr als 8 Quartale vom Abrechnungsquartal ab.",
    ),
    # ---- issue 12, last open rows (rule tables DSB 6.03, XPM catalogue 2026.4.2)
    "108": (
        FEHLER,
        "Der Wert von 4103 (Vermittlungs-/Kontaktart) muss 1, 2, 3, 4 oder 6 sein.",
    ),
    "496": (
        FEHLER,
        "Gebührenordnung 3 (4121): die Gebührennummer (5001) muss dem Format "
        "G-alpha[n[n[n[n]]][K-alpha[aerw]]][/Lkz] oder [G-alpha]n[n[n[n]]][K-alpha[aerw]][/Lkz] "
        "entsprechen (Regel 035).",
    ),
    "497": (
        FEHLER,
        "Gebührenordnung 0, 1 oder 2 (4121): die Gebührennummer (5001) muss das Format nnnnn "
        "oder nnnnnA haben (Regel 042).",
    ),
    "530": (
        FEHLER,
        "KADT (0109): die Besondere Personengruppe (4131) darf nur 00 oder 04 sein.",
    ),
    "711a": (
        WARNUNG,
        "Scheinquartal vor 1/2020: zu Sachkosten (5011/5012) einer ASV-Leistung sollen "
        "Hersteller/Lieferant (5074) und Artikel-/Modellnummer (5075) angegeben sein "
        "(ausgenommen Pseudo-GNR 88500 bis 88699).",
    ),
    "711b": (
        WARNUNG,
        "Ab Scheinquartal 1/2020 dürfen Hersteller/Lieferant (5074) und Artikel-/Modellnummer "
        "(5075) nur zu einer ASV-Leistung (5100, 5101 oder 5102) angegeben werden.",
    ),
    "734": (
        WARNUNG,
        "Bundesweiter SKT Bundeswehr (Kostenträgergruppe 75 der SDKT): die SKT-Zusatzangabe "
        "(4124) muss die Personenkennziffer im Format TTMMJJannnnn sein.",
    ),
    "KVDT-FFK": (
        FEHLER,
        "Dieses Feld darf höchstens einmal zu einer GNR angegeben werden (Leistungserbringer, "
        "Ort, Multiplikator, Prozent, Wegegeld: ein zweiter Wert macht die Abrechnung "
        "mehrdeutig).",
    ),
    "KVDT-FFKW": (
        WARNUNG,
        "Dieses Feld darf höchstens einmal zu einer GNR angegeben werden.",
    ),
    "KVDT-PRFNW-VK": (
        WARNUNG,
        "Der Prüfnachweis der Onlineprüfung (3010 ff.) soll je Behandlungsfall nur einmal "
        "übertragen werden.",
    ),
    "KVDT-DK03": (
        FEHLER,
        "Die DMP-Kennzeichnung (4132) muss in jedem Behandlungsfall vorhanden sein (kein DMP: 00).",
    ),
    "KVDT-BP03": (
        FEHLER,
        "Die Besondere Personengruppe (4131) muss in jedem Behandlungsfall vorhanden sein "
        "(keine: 00).",
    ),
    "KV-MELDUNGEN": (INFO, "Weitere Meldungen wurden nicht einzeln aufgeführt."),
}


#: "Was tun?": a short German action for the practice where the cause is clear.
HINTS: dict[str, str] = {
    "709": "Den Schein direkt mit dem Kostenträger abrechnen, nicht über die KV.",
    "862": "Jede TI-Fachanwendung je Betriebsstätte nur einmal in den Praxisstammdaten führen.",
    "059": "ASV-Teamnummer prüfen: neun Ziffern, beginnt mit 00, Prüfziffer an Stelle 9.",
    "063": "Die Pseudo-LANR (ASV) beginnt immer mit 555555; die Nummer korrigieren.",
    "064": "Die Pseudo-LANR (ASV) des Überweisers/Erstveranlassers beginnt mit 555555.",
    "048": "Kennziffer SA so erfassen, wie sie auf der Bescheinigung steht (21–27 Stellen).",
    "048a": "Die Stellen 2 bis 7 der Kennziffer SA (TTMMJJ) prüfen.",
    "054": "Versichertenkarte erneut einlesen oder die Versicherten-ID prüfen.",
    "304": "Datum korrigieren; es darf nicht in der Zukunft liegen.",
    "313": "Geburtsdatum oder Leistungstag des Falls korrigieren.",
    "324": "Leistung in den richtigen Fall (Quartal) verschieben oder das Datum korrigieren.",
    "480": "Einlesedatum prüfen; die Karte im Behandlungsquartal erneut einlesen.",
    "486": "Mindestens eine Diagnose (ICD-10-GM) zum Fall erfassen.",
    "484": "Zur Diagnose die Diagnosensicherheit (G, V, Z oder A) erfassen.",
    "484a": "Zur Dauerdiagnose die Diagnosensicherheit erfassen.",
    "479": "Postleitzahl des Patienten erfassen.",
    "485": "Straße und Ort des Patienten vollständig erfassen.",
    "715": "Arzt mit dieser LANR in den Praxisstammdaten (besa) anlegen oder LANR korrigieren.",
    "716": "Betriebsstätte in den Praxisstammdaten (besa) anlegen oder BSNR korrigieren.",
    "723": "Arzt in den Praxisstammdaten (besa) anlegen oder LANR korrigieren.",
    "724": "Betriebsstätte in den Praxisstammdaten (besa) anlegen oder BSNR korrigieren.",
    "744": "Auftrag (FK 4205) vom Überweisungsschein übernehmen.",
    "755": "Auftrag (FK 4205) vom Überweisungsschein übernehmen.",
    "777": "Versichertenkarte erneut einlesen (Kostenträgername fehlt).",
    "782": "Leistungsdatum prüfen: es liegt vor dem Versicherungsbeginn; ggf. Karte neu einlesen.",
    "315": "Leistungsdatum prüfen: es liegt nach dem Ende des Versicherungsschutzes.",
    "841": "LANR des Überweisers (FK 4242) vom Überweisungsschein übernehmen.",
    "856": "Bei Z01.7 die Diagnosensicherheit G angeben.",
    "899": "Leistungstag oder Datum der Auftragserteilung (FK 4214) prüfen.",
    "900": "Datum der Auftragserteilung (FK 4214) prüfen.",
    "537": "Für die Test-Versicherten-ID keine Leistungen abrechnen; echte Karte einlesen.",
    "STR-SORT": "Praxissoftware: Leistungstage aufsteigend ausgeben (Systemhaus informieren).",
    "201": "VKNR der Kasse prüfen (Versichertenkarte neu einlesen) oder aktuelle SDKT laden.",
    "KVDT-RQL2": "Versichertenkarte neu einlesen: die Kasse ist geschlossen oder fusioniert.",
    "017": "VKNR der Kasse prüfen (Versichertenkarte neu einlesen).",
    "478": "PLZ des Patienten prüfen (bei Wohnsitz im Ausland 99999).",
    "KV-QUARTAL": "Datei für das gewählte Quartal erstellen oder das Quartal im Portal ändern.",
    "KV-BSNR": "Datei der gewählten Betriebsstätte hochladen.",
    "KVDT-RQL1": "Fall erst im nächsten Quartal abrechnen.",
    "734": "Personenkennziffer der Bundeswehr (Geburtsdatum TTMMJJ, Buchstabe, fünf Ziffern) "
    "in die SKT-Zusatzangaben (FK 4124) übernehmen.",
    "KVDT-DK03": "DMP-Kennzeichnung erfassen (00, wenn der Patient an keinem DMP teilnimmt).",
    "KVDT-BP03": "Besondere Personengruppe erfassen (00, wenn keine zutrifft).",
    "711b": "Hersteller und Artikelnummer nur bei ASV-Leistungen angeben.",
}
#: Rules a practice cannot fix by itself: the practice software writes the file wrongly.
_SOFTWARE = "Praxissoftware erzeugt die Datei fehlerhaft: bitte das Systemhaus informieren."
for _rule in (
    "SYN-LEN", "SYN-FK", "SYN-CRLF", "SYN-ZEICHEN", "STR-REIHENFOLGE", "STR-ZUORDNUNG",
    "STR-ENDE", "016", "031", "052", "124", "175", "182", "KVDT-FK5001", "KVDT-RDP1",
    "KVDT-RDP2", "KVDT-SATZBESAHDRG", "738",
):  # fmt: skip
    HINTS.setdefault(_rule, _SOFTWARE)


@dataclass(slots=True)
class Message:
    severity: str
    rule: str
    text: str
    line: int | None = None
    satzart: str | None = None
    field: str | None = None
    patient_number: str | None = None
    #: "Was tun?" (German), where the cause is clear; None otherwise.
    hint: str | None = None
    #: Line of the case's first field (8000): groups the messages of one case.
    case_line: int | None = None

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
            "hint": self.hint,
            "case_line": self.case_line,
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
    #: Rules that need a master file that was not loaded for this check.
    not_checked: list[str] = field(default_factory=list)
    #: Why they did not run, one German sentence per missing master file.
    not_checked_reasons: list[str] = field(default_factory=list)
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
            "not_checked": list(self.not_checked),
            "not_checked_reasons": list(self.not_checked_reasons),
        }


#: Rules of the rule tables / XPM catalogue that need a KBV master file (Stammdatei); they
#: cannot run without it and the protocol says so. Rule -> master file.
MASTER_DATA_RULES: dict[str, str] = {
    **dict.fromkeys(
        ("KVDT-SKT1", "KVDT-SKT2", "KVDT-SKT3", "KVDT-SKT4", "KVDT-SKT5"),
        "SKT-Angaben (nicht in SDKT 1.05)",
    ),
    **dict.fromkeys(("204", "213"), "Anbieter/Prüfnummern (SDPN)"),
}

#: Master file kinds (as in `kvportal.kvdt.masterdata.MasterData.available`) -> German name.
MASTER_FILES: dict[str, str] = {
    "plz": "PLZ (SDPLZ)",
    "sdkt": "Kostenträger (SDKT)",
    "sdicd": "ICD-10-GM (SDICD)",
    "sdebm": "EBM/GO (SDEBM)",
    "sdops": "OPS (SDOPS)",
    "hgnc": "HGNC-Schlüsseltabelle",
    "sdav": "Arztverzeichnis (SDAV)",
    "rv": "Schlüsseltabelle S_NVV_RV_Zertifikat",
    "sdhdrg": "Hybrid-DRG (SDHDRG)",
}

#: Implemented rules that run only with a master file of the billing quarter: rule -> kind.
MASTER_FILE_RULES: dict[str, str] = {
    "478": "plz",
    "783": "plz",
    **dict.fromkeys(("201", "202", "210", "734", "763", "KVDT-RQL2"), "sdkt"),
    "221": "sdhdrg",
    **dict.fromkeys("728 489 490 491 492 729 761 817 493 494 498 499 735 737".split(), "sdicd"),
    **dict.fromkeys(("703", "704"), "sdebm"),
    "222": "hgnc",
    "KVDT-RAV": "sdav",
    "749": "rv",
    "211": "rv",
    **dict.fromkeys(("203", "701", "702", "868", "888", "889", "890", "892", "901"), "sdebm"),
    **dict.fromkeys(("223", "705"), "sdops"),
}

#: Checkable without master data but not implemented yet (rule tables and XPM catalogue):
#: rule -> why (docs/kvdt.md, "Nicht umgesetzt / offen").
OPEN_REASONS: dict[str, str] = {
    **dict.fromkeys(
        ("160", "164"),
        "XPM-Warnung „Empfänger (9102) nicht mehr erlaubt“ ohne Regel in der DSB 6.03; welche "
        "Werte sie meldet, ist nicht beschrieben (Regel 532 kennzeichnet fusionierte "
        "Bezirksstellen nur mit Klammern als noch zulässig)",
    ),
}
OPEN_RULES: tuple[str, ...] = tuple(OPEN_REASONS)

#: Catalogue entries that do not apply to a portal check (Prüfmodul installation itself).
NOT_APPLICABLE_RULES: dict[str, str] = {
    "KVDT-RGOS": "betrifft die Installation des Prüfmoduls (GOS-Datei)",
    "KVDT-JAVAVERSION": "betrifft die Java-Version des Prüfmoduls",
    "482": "im XPM-Katalog „Inaktiv“: wird nicht gemeldet",
    "KVDT-STSM": "Statistik, keine Prüfung",
    "KVDT-STUE": "Statistik, keine Prüfung",
    "KVDT-ST4242": "Statistik, keine Prüfung",
    "KVDT-VSDM": "Statistik (Zahl der VSDM-Prüfnachweise), keine Prüfung",
    "KVDT-F0224a": "Auflistung der übertragenen Konnektor-Fähigkeiten (0224), keine Prüfung",
    "KVDT-F0224b": "Auflistung der übertragenen Konnektor-Fähigkeiten (0224), keine Prüfung",
    "KVDT-RQL4": "betrifft die Quartalsversion des Prüfmoduls selbst",
    "043": "in keiner Feld- oder Regeltabelle der DSB 6.03 (6001 folgt Regel 022)",
    "151": "Feld 4113 (Statusergänzung) steht nicht mehr im Feldverzeichnis der DSB 6.03",
    "428": "Felder 2709/2711 stehen nicht im Feldverzeichnis der DSB 6.03",
    "475": "Felder 0919/0920/0922 (Hilfsmittel) stehen nicht im Feldverzeichnis der DSB 6.03",
    **dict.fromkeys(
        ("KVDT-DK01", "KVDT-DK02", "KVDT-BP01", "KVDT-BP02"),
        "nur für Behandlungen vor 1/2018 (ein- bzw. zweistellige Altwerte von 4131/4132); "
        "die Feldtabelle der DSB 6.03 kennt nur die zweistelligen Werte, die Formate der "
        "alten Quartale beschreibt sie nicht",
    ),
}

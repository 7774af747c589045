# Data protection: generated files contain synthetic persons only (names built from
# syllables, random numbers); never use real patient data for tests or demos.
"""Synthetic KVDT billing files for tests, demos and benchmarks. No Django.

`generate(cases, seed=..., quarter=..., bsnr=...)` builds a realistic ADT billing file
(besa with several doctors and a Nebenbetriebsstätte, all four case types 0101–0104 and every
Scheinuntergruppe incl. 27/28, several services and diagnoses per case) that passes the
validator, or – with `inject=["324", ...]` – breaks exactly the named rules. With
`packages=("ADT", "KADT", "SADT")` the file also carries a KADT and an SADT package;
`packages=("HDRG",)` makes a Hybrid-DRG file (no besa/rvsa, cases hdrg1). The output depends
only on the arguments (deterministic for a seed).
"""

from __future__ import annotations

import datetime as dt
import os
import random
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from kvportal.core.quarters import Quarter
from kvportal.members.identifiers import check_bsnr, lanr_check_digit, make_lanr

from .reader import ENCODING

#: Rules the generator can break on purpose: rule id → what it changes.
INJECTABLE: dict[str, str] = {
    "SYN-LEN": "falsche Längenangabe in einer Zeile (3101)",
    "SYN-FK": "Feldkennung mit Buchstaben",
    "SYN-LEER": "Feld 9901 ohne Inhalt",
    "SYN-ZEICHEN": "Steuerzeichen im Namen (3101)",
    "SYN-CRLF": "einzelnes LF in einem Feld 9901",
    "SYN-BLANK": "Leerzeichen am Ende des Vornamens (3102)",
    "SYN-FKUNBEKANNT": "unbekannte Feldkennung 8999",
    "FMT-LEN": "Arztname (0211) mit 61 Zeichen",
    "FMT-NUM": "Kostenträgerkennung (4111) mit Buchstaben",
    "FMT-WERT": "Versichertenart (3108) = 2",
    "016": "Quartal (4101) = 5JJJJ",
    "021": "ungültiges Geburtsdatum (3103)",
    "022": "ICD-Code im falschen Format",
    "031": "Version der Satzbeschreibung im falschen Format",
    "497": "GNR mit vier Ziffern (Gebührenordnung 0)",
    "049": "Überweiser-BSNR (4218) mit acht Ziffern",
    "050": "LANR mit falscher Prüfziffer in besa",
    "052": "KBV-Prüfnummer im falschen Format",
    "054": "Versicherten-ID mit falscher Prüfziffer",
    "124": "9132 = 2",
    "162": "Überweiser-BSNR (4218) mit KV-Bereich 04",
    "175": "zusätzliche Satzart 0199",
    "177": "TI-Fachanwendung 0225 = 2",
    "182": "Zeichensatz 9106 = 3",
    "304": "Erstellungsdatum (9103) in der Zukunft",
    "313": "Geburtsdatum nach den Leistungstagen",
    "324": "Leistungstag im Vorquartal",
    "331": "0101 mit Scheinuntergruppe 20",
    "356": "0102 mit Scheinuntergruppe 00",
    "426": "0103 mit Scheinuntergruppe 41",
    "427": "0104 mit Scheinuntergruppe 00",
    "479": "Fall ohne PLZ",
    "480": "Einlesetag (4109) vor dem Quartal",
    "486": "Fall ohne Diagnose",
    "532": "Empfänger 9102 = 98",
    "533": "Geschlecht 3110 = Q",
    "715": "LANR in 5099, die nicht in besa steht",
    "716": "BSNR in 5098, die nicht in besa steht",
    "743": "ohne Satzart rvsa",
    "750": "rvsa mit einer BSNR, die nicht in besa steht",
    "762": "Überweiser-LANR 888888800",
    "836": "Nebenbetriebsstätte ohne LANR",
    "837": "GNR ohne 5099",
    "858": "TI-Fachanwendung 6 (eAU) fehlt",
    "859": "GNR ohne 5098",
    "875": "LANR doppelt in einer BSNR",
    "878": "BSNR doppelt in besa",
    "KV-EMPFAENGER": "Empfänger 9102 = 72 (KV Berlin)",
    "STR-REIHENFOLGE": "adt9 fehlt (con9 folgt auf einen Fall)",
    "STR-MUSS": "Vorname (3102) fehlt",
    "STR-ZUORDNUNG": "6003 vor der ersten Diagnose",
    "STR-ENDE": "con9 fehlt",
    "STR-SORT": "Leistungstage absteigend",
    "320": "0102 ohne 4220 (Überweisung an)",
    "328": "0102 mit 4218 und 4219",
    "354": "0103 mit Scheinuntergruppe 30 ohne 4233",
    "404": "0102 mit 4221 bei Scheinuntergruppe 20–26",
    "405": "0102 mit Scheinuntergruppe 27 ohne 4102",
    "406": "Ausstellungsdatum (4102) nach dem Erstellungsdatum (9103)",
    "856": "Diagnose Z01.7 mit Diagnosensicherheit V",
    "860": "Dauerdiagnose Z01.7",
    "770": "zusätzliche GNR 11511 ohne 5077/5079",
    "891": "zusätzliche GNR mit 5077 = 999999 ohne 5078",
    "853": "GNR zweimal in 4253 eines Psychotherapie-Blocks",
    "KVDT-RKAB": "0102 mit Kostenträger-Abrechnungsbereich 4106 = 10",
    "KVDT-DATLEN": "Erstellungsdatum ADT (9115) mit sieben Stellen",
    "KVDT-FK3674": "Dauerdiagnose mit Diagnosensicherheit V",
    "KVDT-FSATZ": "zusätzliches SADT-Datenpaket ohne Fall",
    "882": "KADT-Fall mit Refresher und einem Leistungstag außerhalb beider Zeiträume",
    "048": "SADT-Kennziffer SA (3005) mit einem Buchstaben an Stelle 10",
    "048a": "SADT-Kennziffer SA (3005) mit Stellen 2–7 = 310226 (kein Datum)",
    "709": "SADT-Kennziffer SA (3005) mit 1. Stelle 0",
}

#: Datenpakete the generator can write (KVDT con0 9132 code).
PACKAGES: dict[str, str] = {"ADT": "1", "KADT": "3", "SADT": "6", "HDRG": "7"}
#: Injections that need another package than ADT: it is added.
_PACKAGE_OF = {"882": "KADT", "048": "SADT", "048a": "SADT", "709": "SADT"}

#: Scheinuntergruppen the cases after the first four go through, so that a file with 21 or
#: more cases has every one (27/28 first, so that small files have them too).
_SUG_CYCLE = (
    ("0102", "27"), ("0102", "28"), ("0102", "20"), ("0102", "21"), ("0102", "23"),
    ("0102", "24"), ("0102", "26"), ("0103", "30"), ("0103", "31"), ("0103", "32"),
    ("0104", "41"), ("0104", "42"), ("0104", "43"), ("0104", "44"), ("0104", "45"),
    ("0104", "46"), ("0101", "00"),
)  # fmt: skip

_CASE_KIND = {
    "KVDT-RKAB": "0102",
    "331": "0101",
    "356": "0102",
    "426": "0103",
    "427": "0104",
    "049": "0102",
    "162": "0102",
    "762": "0102",
    "480": "0101",
    "STR-SORT": "0101",
    "320": "0102",
    "328": "0102",
    "404": "0102",
    "405": "0102",
    "406": "0102",
    "354": "0103",
}
_CASE_RULES = {
    "SYN-LEN", "SYN-FK", "SYN-LEER", "SYN-ZEICHEN", "SYN-CRLF", "SYN-BLANK",
    "SYN-FKUNBEKANNT", "FMT-NUM", "FMT-WERT", "016", "021", "022", "497", "054", "313",
    "324", "479", "486", "533", "715", "716", "837", "859", "STR-MUSS", "STR-ZUORDNUNG",
    "856", "860", "770", "891", "853", "KVDT-FK3674",
    *_CASE_KIND,
}  # fmt: skip

_SYLLABLES_A = ("Ber", "Lin", "Wal", "Hol", "Sten", "Ros", "Fal", "Mer", "Gün", "Kor", "Bö", "Tan")
_SYLLABLES_B = ("ken", "de", "ter", "mar", "bach", "hof", "wald", "ling", "stedt", "ßner", "ow")
_FIRST = ("Anna", "Jörg", "Lena", "Paul", "Mia", "Karl", "Greta", "Emil", "Ida", "Otto", "Zoë",
          "Lutz", "Frieda", "Hans", "Elif", "Noah", "Maja", "Till")  # fmt: skip
_CITIES = ("Dresden", "Leipzig", "Chemnitz", "Görlitz", "Zwickau", "Plauen", "Bautzen", "Freiberg")
_STREETS = ("Hauptstraße", "Lindenweg", "Am Markt", "Bahnhofstraße", "Weinbergstraße", "Elbufer")
_TITLES = ("Dr. med.", "Dr. med.", "Prof. Dr. med.", "")
_GNRS = ("03000", "03040", "03220", "03230", "03321", "01430", "01435", "32025", "32125",
         "03360", "03362", "04000", "13250", "01732", "35100", "03010", "88194A")  # fmt: skip
_ICDS = ("J06.9", "I10.90", "E11.9", "M54.5", "Z00.0", "F32.1", "K21.9", "J45.9", "E78.0",
         "N39.0", "R51", "L20.9", "M17.1", "I25.9", "H52.1", "B34.9")  # fmt: skip
_FACHGRUPPEN = ("01", "03", "23", "15", "19", "34", "05")
_TI = (1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)

Item = tuple[str, str] | bytes


def _line(fk: str, value: str) -> bytes:
    content = value.encode(ENCODING)
    return b"%03d%s%s\r\n" % (9 + len(content), fk.encode("ascii"), content)


def _kvnr(rng: random.Random) -> str:
    letter = chr(65 + rng.randrange(26))
    body = f"{rng.randrange(10**8):08d}"
    digits = f"{ord(letter) - 64:02d}" + body
    total = 0
    for i, ch in enumerate(digits):
        p = int(ch) * (2 if i % 2 else 1)
        total += p // 10 + p % 10
    return f"{letter}{body}{total % 10}"


def _ik(rng: random.Random) -> str:
    body = f"10{rng.randrange(10**6):06d}"
    total = 0
    for i, ch in enumerate(body[2:8]):
        p = int(ch) * (2 if i % 2 == 0 else 1)
        total += p // 10 + p % 10
    return f"{body}{total % 10}"


def _d(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


class _Generator:
    def __init__(
        self,
        cases: int,
        seed: int,
        quarter: Quarter,
        bsnr: str,
        inject: set[str],
        packages: tuple[str, ...] = ("ADT",),
    ):
        self.rng = random.Random(seed)
        self.packages = packages
        extra = sum(1 for p in packages if p in ("KADT", "SADT"))
        self.other_cases = max(1, cases // 10) if extra else 0
        self.cases = cases if "ADT" in packages else 0
        if "ADT" in packages and extra:
            self.cases = max(cases - extra * self.other_cases, min(cases, 4))
        self.hdrg_cases = cases if packages == ("HDRG",) else 0
        self.q = quarter
        self.bsnr = bsnr
        self.inject = inject
        rng = self.rng
        base = int(bsnr[2:7]) if bsnr[2:7].isdigit() else 12345
        self.nbsnr = bsnr if "878" in inject else f"{bsnr[:2]}{(base + 1) % 100000:05d}{bsnr[7:9]}"
        self.other_bsnr = f"{bsnr[:2]}{(base + 7) % 100000:05d}00"
        self.doctors: dict[str, list[tuple[str, str, str, str]]] = {}
        used: set[str] = set()

        def new_lanr() -> str:
            while True:
                six = f"{rng.randrange(100000, 999999):06d}"
                if six in ("555555", "999999", "888888") or six in used:
                    continue
                used.add(six)
                return make_lanr(six, rng.choice(_FACHGRUPPEN))

        def doctor() -> tuple[str, str, str, str]:
            return (new_lanr(), rng.choice(_TITLES), rng.choice(_FIRST), self.surname())

        main = [doctor() for _ in range(rng.randint(3, 5))]
        side = [] if "836" in inject else [main[0], doctor()]
        self.doctors[bsnr] = main
        self.doctors[self.nbsnr] = side or main
        self.side_group_doctors = side
        self.foreign_lanr = new_lanr()
        self.referrers = [
            (f"{bsnr[:2]}{rng.randrange(100000):05d}00", new_lanr()) for _ in range(5)
        ]
        self.created = quarter.end + dt.timedelta(days=1)

    def surname(self) -> str:
        rng = self.rng
        return (
            rng.choice(_SYLLABLES_A) + rng.choice(_SYLLABLES_B) + rng.choice(("", "", "-Ro", "t"))
        )

    # ------------------------------------------------------------------ records
    def con0(self) -> list[Item]:
        return [
            ("8000", "con0"),
            ("9103", "20991231" if "304" in self.inject else _d(self.created)),
            ("9106", "3" if "182" in self.inject else "4"),
            *(
                [("9132", "2")]
                if "124" in self.inject
                else [("9132", PACKAGES[p]) for p in self.packages]
                + ([("9132", "6")] if "KVDT-FSATZ" in self.inject else [])
            ),
        ]

    def besa(self) -> list[Item]:
        rng = self.rng
        inj = self.inject
        items: list[Item] = [("8000", "besa")]
        groups = [(self.bsnr, self.doctors[self.bsnr]), (self.nbsnr, self.side_group_doctors)]
        for g, (bsnr, docs) in enumerate(groups):
            items.append(("0201", bsnr))
            kind = "Praxis" if g == 0 else "Nebenbetriebsstätte"
            items.append(("0203", f"{kind} {self.surname()} & Partner"))
            entries = list(docs)
            if g == 0 and "875" in inj:
                entries.append(entries[0])
            for k, (lanr, title, first, last) in enumerate(entries):
                items.append(("0212", lanr))
                if title:
                    items.append(("0219", title))
                items.append(("0220", first))
                name = last
                if g == 0 and k == 0 and "FMT-LEN" in inj:
                    name = ("Langname" * 8)[:61]
                items.append(("0211", name))
            if g == 1 and "050" in inj:
                six = f"{rng.randrange(100000, 999999):06d}"
                wrong = (lanr_check_digit(six) + 1) % 10
                items.append(("0212", f"{six}{wrong}01"))
                items.append(("0211", self.surname()))
            items.append(("0205", f"{rng.choice(_STREETS)} {rng.randint(1, 120)}"))
            items.append(("0215", f"0{rng.randint(1000, 9999)}"))
            items.append(("0216", rng.choice(_CITIES)))
            items.append(("0208", f"0351 {rng.randint(100000, 999999)}"))
            items.append(("0224", "5.54.1"))
            items.append(("0227", _d(self.q.end + dt.timedelta(days=700))))
            items.append(("0228", "Konnektor Beispiel"))
            for code in _TI:
                if g == 0 and "858" in inj and code == 6:
                    continue  # one TI-Fachanwendung missing (a duplicate would also be 862)
                items.append(("0225", str(code)))
                items.append(("0226", str(rng.randint(0, 1))))
            if g == 0 and "177" in inj:
                items += [("0225", "2"), ("0226", "0")]
        return items

    def rvsa(self) -> list[Item]:
        bsnr = self.other_bsnr if "750" in self.inject else self.bsnr
        return [("8000", "rvsa"), ("0201", bsnr), ("0300", "0")]

    def adt0(self) -> list[Item]:
        q = self.q
        inj = self.inject
        if "532" in inj:
            empf = "98"
        elif "KV-EMPFAENGER" in inj:
            empf = "72"
        else:
            empf = self.bsnr[:2] if self.bsnr[:2] in ("94", "95", "96") else "95"
        return [
            ("8000", "adt0"),
            ("0105", "Q/1/2601/36/999" if "052" in inj else f"Y/9/{q.year % 100:02d}01/99/999"),
            ("9102", empf),
            ("9212", "ADTX.01" if "031" in inj else f"ADT{q.start.month:02d}{q.year % 100:02d}.01"),
            ("0102", "Beispiel-Software GmbH"),
            ("0121", "Musterweg 1"),
            ("0122", "01067"),
            ("0123", "Dresden"),
            ("0124", "0351 000000"),
            ("0126", "Systembetreuung Sachsen"),
            ("0127", "Am Markt 2"),
            ("0128", "04109"),
            ("0129", "Leipzig"),
            ("0130", "0341 000000"),
            ("0103", "kvportal Testdatengenerator"),
            ("0132", "1.0"),
            ("9115", _d(self.created)[:7] if "KVDT-DATLEN" in inj else _d(self.created)),
            ("9204", q.kvdt),
        ]

    def header(self, satzart: str, prefix: str) -> list[Item]:
        """kad0/sad0: the adt0 fields (Satztabelle: same Muss fields) with their version."""
        q = self.q
        items: list[Item] = [
            ("0105", f"Y/9/{q.year % 100:02d}01/99/999") if i[0] == "0105" else i
            for i in self.adt0()
            if isinstance(i, tuple) and i[0] not in ("8000", "9212", "9115")
        ]
        version = f"{prefix}{q.start.month:02d}{q.year % 100:02d}.01"
        return [("8000", satzart), *items[:2], ("9212", version), *items[2:]]

    def case(
        self, i: int, satzart: str, targets: set[str], forced_sug: str | None = None
    ) -> list[Item]:
        rng = self.rng
        q = self.q
        inj = targets
        lab_place: tuple[str, str] | None = None
        birth = dt.date(rng.randint(1930, q.year - 1), rng.randint(1, 12), rng.randint(1, 28))
        span = (q.end - q.start).days  # last day excluded, keeps rule 313 injectable
        ndays = rng.randint(2, 4) if "STR-SORT" in inj or "313" in inj else rng.randint(1, 4)
        days = sorted(rng.sample(range(span), ndays))
        dates = [q.start + dt.timedelta(days=d) for d in days]
        items: list[Item] = [("8000", satzart), ("3000", f"{i + 1:06d}")]
        if satzart == "0101":  # card read: CDM version (R307/R790), 4133 (R775), 4134 (R777)
            items.append(("3006", "5.2.0"))
        if "SYN-FK" in inj:
            items.append(b"0139A01abcd\r\n")
        if "SYN-LEER" in inj:
            items.append(b"0099901\r\n")
        if "SYN-CRLF" in inj:
            items.append(b"0149901ab\ncd\r\n")
        if "SYN-FKUNBEKANNT" in inj:
            items.append(("8999", "x"))
        surname = self.surname()
        if "SYN-LEN" in inj:
            raw = _line("3101", surname)
            items.append(b"%03d" % (len(raw) + 1) + raw[3:])
        elif "SYN-ZEICHEN" in inj:
            items.append(("3101", surname[:2] + "\x01" + surname[2:]))
        else:
            items.append(("3101", surname))
        if "STR-MUSS" not in inj:
            items.append(("3102", rng.choice(_FIRST) + (" " if "SYN-BLANK" in inj else "")))
        if "021" in inj:
            items.append(("3103", f"{birth.year}1331"))
        elif "313" in inj:
            items.append(("3103", _d(q.end)))
        else:
            items.append(("3103", _d(birth)))
        kvnr = _kvnr(rng)
        if "054" in inj:
            kvnr = kvnr[:9] + str((int(kvnr[9]) + 1) % 10)
        items.append(("3119", kvnr))
        items.append(("3107", rng.choice(_STREETS)))
        items.append(("3109", str(rng.randint(1, 99))))
        if "479" not in inj:
            items.append(("3112", f"0{rng.randint(1000, 9999)}"))
        items.append(("3114", "D"))
        items.append(("3113", rng.choice(_CITIES)))
        items.append(("3116", "98"))
        items.append(("3108", "2" if "FMT-WERT" in inj else rng.choice("11135")))
        items.append(("3110", "Q" if "533" in inj else rng.choice("MW")))
        items.append(("4101", f"5{q.year}" if "016" in inj else q.kvdt))
        if "406" in inj:
            items.append(("4102", _d(self.created + dt.timedelta(days=1))))
        items.append(("4104", f"{self.bsnr[:2]}{rng.randrange(100, 800):03d}"))
        items.append(("4106", "10" if "KVDT-RKAB" in inj else "00"))
        if satzart == "0101":
            read = q.start - dt.timedelta(days=5) if "480" in inj else min(dates[0], q.end)
            items.append(("4109", _d(read)))
            items.append(("4133", _d(q.start - dt.timedelta(days=400))))
        ik = _ik(rng)
        items.append(("4111", ik[:8] + "X" if "FMT-NUM" in inj else ik))
        if satzart == "0101":
            items.append(("4134", "Beispielkasse"))
        items += [("4131", "00"), ("4132", "00"), ("4121", "0"), ("4122", "00")]
        if satzart == "0101":
            sug = "20" if "331" in inj else "00"
        elif satzart == "0102" and forced_sug in ("27", "28"):
            sug = forced_sug
            items.append(("4102", _d(dates[0])))  # R405/R406: Ausstellungsdatum
            if sug == "27":  # Auftragsleistung Labor: Auftrag (R755), external referrer
                ref_bsnr, ref_lanr = rng.choice(self.referrers)
                items.append(("4205", "Laboruntersuchung"))
            else:  # Laborgemeinschaft: the referrer is the service provider (R720/R721)
                ref_bsnr = self.bsnr
                ref_lanr = rng.choice(self.doctors[self.bsnr])[0]
                lab_place = (ref_bsnr, ref_lanr)
            items.append(("4218", ref_bsnr))
            items.append(("4242", ref_lanr))
            items.append(("4221", rng.choice("124")))  # R404, R754
        elif satzart == "0102":
            sug = "00" if "356" in inj else rng.choice(("20", "21", "23", "24", "26"))
            if forced_sug is not None and not inj:
                sug = forced_sug
            if "405" in inj:
                sug = "27"
            ref_bsnr, ref_lanr = rng.choice(self.referrers)
            if "049" in inj:
                ref_bsnr = ref_bsnr[:8]
            elif "162" in inj:
                ref_bsnr = "04" + ref_bsnr[2:]
            if sug in ("21", "27"):  # R744, R755
                items.append(("4205", "Abklärung Befund"))
            items.append(("4218", ref_bsnr))
            items.append(("4242", "888888800" if "762" in inj else ref_lanr))
            if "328" in inj:
                items.append(("4219", "Zahnarztpraxis Beispiel"))
            if "320" not in inj:
                items.append(("4220", rng.choice(("Innere Medizin", "Orthopädie", "Labor"))))
            if "404" in inj or "405" in inj:
                items.append(("4221", "1"))
        elif satzart == "0103":
            sug = "41" if "426" in inj else rng.choice(("30", "31", "32"))
            if "354" in inj:
                sug = "30"
            if sug == "31":  # belegärztliche Mitbehandlung: referrer and order (R746, R841)
                ref_bsnr, ref_lanr = rng.choice(self.referrers)
                items += [("4205", "Mitbehandlung"), ("4218", ref_bsnr), ("4242", ref_lanr)]
        else:
            sug = "00" if "427" in inj else rng.choice(("41", "42", "43", "44", "45", "46"))
        if forced_sug is not None and not inj and satzart in ("0103", "0104"):
            sug = forced_sug
        if sug == "31" and "4218" not in {item[0] for item in items if isinstance(item, tuple)}:
            ref_bsnr, ref_lanr = rng.choice(self.referrers)  # R746, R841
            items += [("4205", "Mitbehandlung"), ("4218", ref_bsnr), ("4242", ref_lanr)]
        if sug == "30" and "354" not in inj:  # stationary stay (R354)
            stay = q.start + dt.timedelta(days=rng.randrange(20))
            items.append(("4233", _d(stay) + _d(stay + dt.timedelta(days=3))))
        items.append(("4239", sug))
        blocks: list[list[Item]] = []
        for k, day in enumerate(dates):
            if k == 0 and "324" in inj:
                day = q.start - dt.timedelta(days=10)
            block: list[Item] = [("5000", _d(day))]
            for n in range(rng.randint(1, 3)):
                place = self.bsnr if rng.random() < 0.8 else self.nbsnr
                lanr = rng.choice(self.doctors[place])[0]
                gnr = rng.choice(_GNRS)
                if lab_place is not None:
                    place, lanr = lab_place
                first = k == 0 and n == 0
                if first and "497" in inj:
                    gnr = "0300"
                block.append(("5001", gnr))
                if first and "716" in inj:
                    place = self.other_bsnr
                if first and "715" in inj:
                    lanr = self.foreign_lanr
                if not (first and "859" in inj):
                    block.append(("5098", place))
                if not (first and "837" in inj):
                    block.append(("5099", lanr))
            blocks.append(block)
        if "STR-SORT" in inj:
            blocks.reverse()
        place = self.bsnr
        lanr = self.doctors[place][0][0]
        if "770" in inj:  # lab GNR without its Zusatzangaben 5077/5079
            blocks[-1] += [("5001", "11511"), ("5098", place), ("5099", lanr)]
        if "891" in inj:  # HGNC 999999 without a Gen-Name (5078)
            blocks[-1] += [("5001", "01100"), ("5077", "999999"), ("5098", place), ("5099", lanr)]
        if "853" in inj:  # Psychotherapie block: a GNR twice in 4253
            at = next(n for n, item in enumerate(items) if item[0] == "4239") + 1
            items[at:at] = [
                ("4235", _d(dates[0])),
                ("4252", "2"),
                ("4253", "35401"),
                ("4253", "35401"),
            ]
        for block in blocks:
            items += block
        if "486" not in inj:
            if "STR-ZUORDNUNG" in inj:
                items.append(("6003", "G"))
            if "856" in inj:
                items += [("6001", "Z01.7"), ("6003", "V")]
            if "860" in inj:
                items += [("3673", "Z01.7"), ("3674", "G")]
            for n, icd in enumerate(rng.sample(_ICDS, rng.randint(1, 3))):
                items.append(("6001", "J6.9" if n == 0 and "022" in inj else icd))
                items.append(("6003", rng.choice("GGGGVZA")))
                if rng.random() < 0.15:
                    items.append(("6004", rng.choice("RLB")))
            if rng.random() < 0.3:
                items.append(("3673", rng.choice(_ICDS)))
                items.append(("3674", "G"))
            if "KVDT-FK3674" in inj:
                items += [("3673", rng.choice(_ICDS)), ("3674", "V")]
        return items

    def patient(self, rng: random.Random, birth: dt.date) -> list[Item]:
        return [
            ("3101", self.surname()),
            ("3102", rng.choice(_FIRST)),
            ("3103", _d(birth)),
            ("3107", rng.choice(_STREETS)),
            ("3109", str(rng.randint(1, 99))),
            ("3112", f"0{rng.randint(1000, 9999)}"),
            ("3114", "D"),
            ("3113", rng.choice(_CITIES)),
            ("3108", rng.choice("11135")),
        ]

    def kadt_case(self, i: int, *, outside: bool) -> list[Item]:
        """Kurärztliche Behandlung 0109 (Satztabelle 4.4.3); every third a Kompaktkur with
        Refresher (4272, 4276/4277). `outside`: one Leistungstag in neither period (R882)."""
        rng, q = self.rng, self.q
        birth = dt.date(rng.randint(1930, q.year - 2), rng.randint(1, 12), rng.randint(1, 28))
        arrival = q.start + dt.timedelta(days=rng.randrange(20))
        refresher = outside or i % 3 == 2
        departure = arrival + dt.timedelta(days=14 if refresher else 21)
        items: list[Item] = [("8000", "0109"), ("3000", f"K{i + 1:05d}"), *self.patient(rng, birth)]
        items += [
            ("3110", rng.choice("MW")),
            ("4104", f"{self.bsnr[:2]}{rng.randrange(100, 800):03d}"),
        ]
        items += [("4111", _ik(rng)), ("4131", "00"), ("4132", "00")]
        items += [("4261", rng.choice("12")), ("4263", "3")]
        items += [("4264", _d(arrival)), ("4265", _d(departure))]
        days = sorted(rng.sample(range((departure - arrival).days + 1), 2))
        dates = [arrival + dt.timedelta(days=d) for d in days]
        if refresher:
            start = departure + dt.timedelta(days=10)
            items += [
                ("4272", "1"),
                ("4276", _d(start)),
                ("4277", _d(start + dt.timedelta(days=7))),
            ]
            dates.append(start + dt.timedelta(days=rng.randrange(8)))
            if outside:  # between the stay and the refresher
                dates[-1] = departure + dt.timedelta(days=5)
        place = self.bsnr
        lanr = rng.choice(self.doctors[place])[0]
        for day in sorted(dates):
            items += [("5000", _d(day)), ("5001", "00001U"), ("5098", place), ("5099", lanr)]
        items += [("6001", rng.choice(_ICDS)), ("6003", "G")]
        return items

    def sadt_case(self, i: int) -> list[Item]:
        """SADT-ambulante Behandlung sad1 (Schwangerschaftsabbruch NRW, Satztabelle 5.4.3):
        no patient data, the Kennziffer SA (3005) instead; 4111 = '10' + its digits 9-15.
        `inject` (case 0 only): 048, 048a, 709 break the Kennziffer SA."""
        rng, q, inj = self.rng, self.q, self.inject if i == 0 else set()
        birth = dt.date(
            rng.randint(q.year - 45, q.year - 18), rng.randint(1, 12), rng.randint(1, 28)
        )
        day = q.start + dt.timedelta(days=rng.randrange((q.end - q.start).days))
        place = self.bsnr
        lanr = rng.choice(self.doctors[place])[0]
        digits = "".join(str(rng.randrange(10)) for _ in range(13))
        date = "310226" if "048a" in inj else f"{birth:%d%m%y}"
        kennziffer = f"{'0' if '709' in inj else '1'}{date}{digits}SA{i % 100:02d}"
        ik = "10" + kennziffer[8:15]
        if "048" in inj:
            kennziffer = kennziffer[:9] + "X" + kennziffer[10:]
        return [
            ("8000", "sad1"),
            ("3005", kennziffer),
            ("4101", q.kvdt),
            ("4104", f"{self.bsnr[:2]}{rng.randrange(100, 800):03d}"),
            ("4111", ik),
            ("5000", _d(day)),
            ("5001", "01900"),
            ("5098", place),
            ("5099", lanr),
        ]

    def hdrg_file(self) -> Iterator[list[Item]]:
        """Hybrid-DRG file (Satztabellen 6.5): con0, hdrg0, hdrg1 cases, hdrg9, con9."""
        rng, q = self.rng, self.q
        created = self.created
        creation_q = Quarter.of(created)
        yield self.con0()
        yield [
            ("8000", "hdrg0"),
            ("0105", f"Y/9/{q.year % 100:02d}01/99/999"),
            ("9212", f"HDRG{creation_q.start.month:02d}{creation_q.year % 100:02d}.01"),
            ("0103", "kvportal Testdatengenerator"),
            ("0132", "1.0"),
            ("9117", _d(created)),
        ]
        for i in range(self.hdrg_cases):
            birth = dt.date(rng.randint(1930, q.year - 2), rng.randint(1, 12), rng.randint(1, 28))
            start = q.start + dt.timedelta(days=rng.randrange(60))
            end = start + dt.timedelta(days=rng.randint(0, 3))
            place = self.bsnr
            lanr = rng.choice(self.doctors[place])[0]
            yield [
                ("8000", "hdrg1"),
                ("3000", f"H{i + 1:05d}"),
                ("3006", "5.2.0"),
                *self.patient(rng, birth),
                ("3116", "98"),
                ("3110", rng.choice("MWXD")),
                ("4104", f"{self.bsnr[:2]}{rng.randrange(100, 800):03d}"),
                ("4106", "00"),
                ("4111", _ik(rng)),
                ("4131", "00"),
                ("4132", "00"),
                ("5027", rng.choice(("G09N", "G24M", "F59F"))),
                ("5028", _d(start)),
                ("5029", _d(end)),
                ("5034", _d(start)),
                ("5035", rng.choice(("5-530.31", "5-932.13", "5-812.5"))),
                ("5041", rng.choice("RL")),
                ("5098", place),
                ("5099", lanr),
                ("6009", rng.choice(_ICDS)),
            ]
        yield [("8000", "hdrg9")]
        yield [("8000", "con9")]

    # ------------------------------------------------------------------ file
    def records(self) -> Iterator[list[Item]]:
        inj = self.inject
        if self.packages == ("HDRG",):
            yield from self.hdrg_file()
            return
        yield self.con0()
        yield self.besa()
        if "743" not in inj:
            yield self.rvsa()
        if "ADT" in self.packages:
            yield self.adt0()
            pending = {r for r in inj if r in _CASE_RULES}
            kinds = ("0101", "0102", "0103", "0104")
            for i in range(self.cases):
                forced = None
                if i < 4:
                    satzart = kinds[i]
                elif i - 4 < len(_SUG_CYCLE):
                    satzart, forced = _SUG_CYCLE[i - 4]
                else:
                    satzart = self.rng.choices(kinds, (70, 15, 5, 10))[0]
                targets = {r for r in pending if _CASE_KIND.get(r, satzart) == satzart}
                pending -= targets
                yield self.case(i, satzart, targets, None if targets else forced)
                if i == 0 and "175" in inj:
                    yield [("8000", "0199"), ("9901", "unbekannte Satzart")]
            if "STR-REIHENFOLGE" not in inj:
                yield [("8000", "adt9")]
        if "KADT" in self.packages:
            yield self.header("kad0", "KADT")
            for i in range(self.other_cases):
                yield self.kadt_case(i, outside=i == 0 and "882" in inj)
            yield [("8000", "kad9")]
        if "SADT" in self.packages:
            yield self.header("sad0", "SADT")
            for i in range(self.other_cases):
                yield self.sadt_case(i)
            yield [("8000", "sad9")]
        if "KVDT-FSATZ" in inj:  # an SADT package without a case record
            yield self.header("sad0", "SADT")
            yield [("8000", "sad9")]
        if "STR-ENDE" not in inj:
            yield [("8000", "con9")]


def _encode(items: list[Item]) -> bytes:
    return b"".join(item if isinstance(item, bytes) else _line(*item) for item in items)


def iter_generate(
    cases: int,
    *,
    seed: int,
    quarter: Quarter,
    bsnr: str,
    inject: Iterable[str] = (),
    packages: Iterable[str] = ("ADT",),
) -> Iterator[bytes]:
    """Yield the file in pieces (a few hundred records each); memory stays flat."""
    inject_set = {r.strip() for r in inject if r.strip()}
    chosen = [p.strip().upper() for p in packages if p.strip()]
    wrong = [p for p in chosen if p not in PACKAGES]
    if wrong or not chosen:
        raise ValueError(
            f"Unbekanntes Datenpaket: {', '.join(wrong) or '(keines)'}. "
            f"Möglich: {', '.join(PACKAGES)} (HDRG nur allein)."
        )
    for rule in sorted(inject_set):
        if rule in _PACKAGE_OF and _PACKAGE_OF[rule] not in chosen:
            chosen.append(_PACKAGE_OF[rule])
    if "HDRG" in chosen and len(chosen) > 1:
        raise ValueError("Ein Hybrid-DRG-Paket (HDRG) steht allein in einer Datei (ohne besa).")
    if "HDRG" in chosen and inject_set:
        raise ValueError("Für Hybrid-DRG-Dateien gibt es kein --inject.")
    order = tuple(p for p in PACKAGES if p in chosen)
    unknown = inject_set - INJECTABLE.keys()
    if unknown:
        raise ValueError(
            f"Unbekannte Regel(n) für --inject: {', '.join(sorted(unknown))}. "
            f"Möglich: {', '.join(INJECTABLE)}"
        )
    if cases < 0:
        raise ValueError("Die Zahl der Fälle darf nicht negativ sein.")
    if not (bsnr.isascii() and bsnr.isdigit()) or check_bsnr(bsnr).errors:
        raise ValueError(f"„{bsnr}“ ist keine gültige BSNR (neun Ziffern, gültiger KV-Bereich).")
    needs_cases = inject_set & _CASE_RULES
    if needs_cases and cases < (4 if needs_cases & _CASE_KIND.keys() else 1):
        raise ValueError("Für die gewählten Regeln werden mindestens 4 Fälle gebraucht.")
    if needs_cases and "ADT" not in order:
        raise ValueError("Die gewählten Regeln brauchen das ADT-Datenpaket.")
    gen = _Generator(cases, seed, quarter, bsnr, inject_set, order)
    batch: list[bytes] = []
    for items in gen.records():
        batch.append(_encode(items))
        if len(batch) >= 256:
            yield b"".join(batch)
            batch = []
    if batch:
        yield b"".join(batch)


def generate(
    cases: int,
    *,
    seed: int,
    quarter: Quarter,
    bsnr: str,
    inject: Iterable[str] = (),
    out: BinaryIO | str | os.PathLike | None = None,
    packages: Iterable[str] = ("ADT",),
) -> bytes | int:
    """Generate a synthetic KVDT file.

    Without `out` the file is returned as bytes; with `out` (binary file object or path)
    it is streamed there and the number of bytes written is returned.
    """
    chunks = iter_generate(
        cases, seed=seed, quarter=quarter, bsnr=bsnr, inject=inject, packages=packages
    )
    if out is None:
        return b"".join(chunks)
    written = 0
    if isinstance(out, str | os.PathLike):
        with open(out, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                written += len(chunk)
    else:
        for chunk in chunks:
            out.write(chunk)
            written += len(chunk)
    return written


def file_name(bsnr: str, created: dt.datetime) -> str:
    """KVDT file name `Z01<BSNR>_TT.MM.JJJJ_hh.mm.con` (S1 §1.9.2; 01 = ADT package)."""
    return f"Z01{bsnr}_{created:%d.%m.%Y_%H.%M}.con"

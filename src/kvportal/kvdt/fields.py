"""KVDT field directory and record kinds (KBV Datensatzbeschreibung KVDT, Feldverzeichnis ch. 7).

Only what the validator needs: per field id its length range, type and (where the KBV
fixes one) the list of allowed values. Field ids are unique across all Satzarten in KVDT,
so one table serves every record. No Django.
"""

from __future__ import annotations

# Field types (S1 §1.6.2).
ALNUM = 0  # a: alphanumeric, no leading/trailing blanks
NUM = 1  # n: digits only
DATE = 2  # d: JJJJMMTT
SPECIAL = 3  # checked by a dedicated rule (BSNR, LANR, ICD, GNR, quarter, ...)

# Dedicated checks (the `special` slot of a field spec).
SP_NONE = 0
SP_BSNR = 1  # rules 049/162
SP_LANR = 2  # rule 050 (+ 762)
SP_QUARTER = 3  # rule 016
SP_ICD = 4  # rule 022
SP_GNR = 5  # rule 042
SP_KVNR = 6  # rule 054
SP_BIRTH = 7  # rule 021 with the KBV substitute values JJJJMM00 / JJJJ0000 / 00000000
SP_PRUEFNR = 8  # rule 052
SP_VERSION = 9  # rule 031

CASE_SATZARTEN = (b"0101", b"0102", b"0103", b"0104")
#: Case records of the other packages (KADT, SADT, Hybrid-DRG): own case state, no ADT rules.
PACKAGE_CASE_SATZARTEN = frozenset((b"0109", b"sad1", b"sad2", b"sad3", b"hdrg1"))

#: Every Satzart KVDT knows (rule 175).
SATZARTEN = frozenset(
    (
        b"con0",
        b"con9",
        b"besa",
        b"rvsa",
        b"adt0",
        b"adt9",
        *CASE_SATZARTEN,
        b"kad0",
        b"0109",
        b"kad9",
        b"sad0",
        b"sad1",
        b"sad2",
        b"sad3",
        b"sad9",
        b"hdrg0",
        b"hdrg1",
        b"hdrg9",
    )
)

SATZART_NAMES = {
    "con0": "Container-Header",
    "con9": "Container-Abschluss",
    "besa": "Betriebsstättendaten",
    "rvsa": "Ringversuchszertifikate",
    "adt0": "ADT-Datenpaket-Header",
    "adt9": "ADT-Datenpaket-Abschluss",
    "0101": "Ambulante Behandlung",
    "0102": "Überweisungsfall",
    "0103": "Belegärztliche Behandlung",
    "0104": "Notfalldienst/Vertretung/Notfall",
    "kad0": "KADT-Datenpaket-Header",
    "0109": "Kurärztliche Behandlung",
    "kad9": "KADT-Datenpaket-Abschluss",
    "sad0": "SADT-Datenpaket-Header",
    "sad1": "SADT-Fall",
    "sad2": "SADT-Fall",
    "sad3": "SADT-Fall",
    "sad9": "SADT-Datenpaket-Abschluss",
    "hdrg0": "Hybrid-DRG-Header",
    "hdrg1": "Hybrid-DRG-Fall",
    "hdrg9": "Hybrid-DRG-Abschluss",
}

#: Allowed successor of each Satzart (S1 §1.4, §2.1). `None` = start of file.
_CASES = frozenset(CASE_SATZARTEN)
NEXT_SATZART: dict[bytes | None, frozenset[bytes]] = {
    None: frozenset({b"con0"}),
    b"con0": frozenset({b"besa", b"hdrg0"}),
    b"besa": frozenset({b"rvsa", b"adt0", b"kad0", b"sad0", b"con9"}),
    b"rvsa": frozenset({b"adt0", b"kad0", b"sad0", b"con9"}),
    b"adt0": _CASES | {b"adt9"},
    **{sa: _CASES | {b"adt9"} for sa in CASE_SATZARTEN},
    b"adt9": frozenset({b"kad0", b"sad0", b"con9"}),
    b"kad0": frozenset({b"0109", b"kad9"}),
    b"0109": frozenset({b"0109", b"kad9"}),
    b"kad9": frozenset({b"sad0", b"con9"}),
    b"sad0": frozenset({b"sad1", b"sad2", b"sad3", b"sad9"}),
    b"sad1": frozenset({b"sad1", b"sad2", b"sad3", b"sad9"}),
    b"sad2": frozenset({b"sad1", b"sad2", b"sad3", b"sad9"}),
    b"sad3": frozenset({b"sad1", b"sad2", b"sad3", b"sad9"}),
    b"sad9": frozenset({b"con9"}),
    b"hdrg0": frozenset({b"hdrg1", b"hdrg9"}),
    b"hdrg1": frozenset({b"hdrg1", b"hdrg9"}),
    b"hdrg9": frozenset({b"con9"}),
    b"con9": frozenset(),
}

_CASE_MUSS = [
    "3101",
    "3102",
    "3103",
    "3108",
    "3110",
    "4101",
    "4104",
    "4106",
    "4111",
    "4121",
    "4122",
    "4131",
    "4132",
    "4239",
]
#: Mandatory fields (M) of each record, besides 8000 (S1 Satztabellen).
MANDATORY: dict[bytes, frozenset[bytes]] = {
    b"con0": frozenset({b"9103", b"9106", b"9132"}),
    b"besa": frozenset({b"0201"}),
    b"rvsa": frozenset({b"0201", b"0300"}),
    b"adt0": frozenset(
        f.encode()
        for f in [
            "0105",
            "9102",
            "9212",
            "0102",
            "0121",
            "0122",
            "0123",
            "0124",
            "0126",
            "0127",
            "0128",
            "0129",
            "0130",
            "0103",
            "9204",
        ]
    ),
    **{sa: frozenset(f.encode() for f in _CASE_MUSS) for sa in CASE_SATZARTEN},
    # KADT and Hybrid-DRG Satztabellen (KVDT-Datensatzbeschreibung 4.4, 6.5): Feldart M
    b"kad0": frozenset(
        f.encode()
        for f in "0105 9102 9212 0102 0121 0122 0123 0124 0126 0127 0128 0129 0130 0103 "
        "9204".split()
    ),
    b"0109": frozenset(
        f.encode()
        for f in "3101 3102 3103 3108 3110 4104 4111 4131 4132 4261 4263 4264 4265 6001".split()
    ),
    # SADT Satztabellen (5.4.1-5.4.5): the header as kad0; the cases carry no patient data
    b"sad0": frozenset(
        f.encode()
        for f in "0105 9102 9212 0102 0121 0122 0123 0124 0126 0127 0128 0129 0130 0103 "
        "9204".split()
    ),
    # (5000 and 5001, also M, are checked by the validator: they are not kept per record)
    b"sad1": frozenset(f.encode() for f in "3005 4101 4104 4111".split()),
    b"sad2": frozenset(f.encode() for f in "3005 4101 4104 4111 4205 4218 4220".split()),
    b"sad3": frozenset(f.encode() for f in "3005 4101 4104 4111".split()),
    b"hdrg0": frozenset((b"0105", b"9212", b"0103")),
    b"hdrg1": frozenset(
        f.encode()
        for f in "3101 3102 3103 3108 3110 4104 4106 4111 4131 4132 5027 5028 6009".split()
    ),
}

#: Mandatory fields of each (N)BSNR group inside besa.
BESA_GROUP_MUSS = (b"0203", b"0205", b"0215", b"0216", b"0208")

#: Scheinuntergruppen (4239) allowed per Satzart and the KBV rule that says so.
SUG_BY_SATZART: dict[bytes, tuple[frozenset[bytes], str]] = {
    b"0101": (frozenset({b"00"}), "331"),
    b"0102": (frozenset({b"20", b"21", b"23", b"24", b"26", b"27", b"28"}), "356"),
    b"0103": (frozenset({b"30", b"31", b"32"}), "426"),
    b"0104": (frozenset({b"41", b"42", b"43", b"44", b"45", b"46"}), "427"),
}

#: TI-Fachanwendungen (0225, rule 177); each must be reported exactly once per BSNR (858).
TI_CODES = frozenset(str(n).encode() for n in (1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13))

#: Recipient KV/Bezirksstelle (9102, rule 532).
EMPFAENGER_KV = frozenset(
    f"{n:02d}".encode()
    for n in (
        *(1, 2, 3, 17, 18, 19, 20, 21, 24, 25, 27, 28, 31, 37),
        *range(39, 46),
        *range(47, 52),
        55,
        *range(60, 71),
        72,
        73,
        78,
        79,
        80,
        81,
        83,
        85,
        86,
        87,
        93,
        94,
        95,
        96,
        99,
    )
)
#: 9102 values of KV Sachsen (Bezirksstellen Chemnitz, Dresden, Leipzig).
EMPFAENGER_SACHSEN = frozenset({b"94", b"95", b"96"})


def _vals(*values: str) -> frozenset[bytes]:
    return frozenset(v.encode("iso-8859-15") for v in values)


# (min length, max length, type, allowed values or None, special check)
FieldSpec = tuple[int, int, int, "frozenset[bytes] | None", int]

_A = ALNUM
_N = NUM
_D = DATE
_S = SPECIAL

_TABLE: dict[str, tuple] = {
    # container
    "8000": (4, 5, _A, SATZARTEN, 0),
    "9901": (1, 60, _A, None, 0),
    "9103": (8, 8, _D, None, 0),
    "9106": (1, 1, _N, _vals("4"), 0),
    "9132": (1, 1, _N, _vals("1", "3", "6", "7"), 0),
    # besa
    "0201": (9, 9, _S, None, SP_BSNR),
    "0203": (1, 60, _A, None, 0),
    "0212": (9, 9, _S, None, SP_LANR),
    "0219": (1, 100, _A, None, 0),
    "0220": (1, 45, _A, None, 0),
    "0221": (1, 20, _A, None, 0),
    "0211": (1, 60, _A, None, 0),
    "0222": (9, 9, _N, None, 0),
    "0223": (9, 9, _N, None, 0),
    "0205": (1, 60, _A, None, 0),
    "0215": (1, 7, _A, None, 0),
    "0216": (1, 60, _A, None, 0),
    "0208": (1, 60, _A, None, 0),
    "0209": (1, 60, _A, None, 0),
    "0218": (1, 60, _A, None, 0),
    "0224": (1, 20, _A, None, 0),
    "0227": (8, 8, _D, None, 0),
    "0228": (1, 60, _A, None, 0),
    "0225": (1, 2, _N, TI_CODES, 0),
    "0226": (1, 1, _N, _vals("0", "1"), 0),
    "0213": (9, 9, _N, None, 0),
    "0214": (2, 2, _N, None, 0),
    # rvsa
    "0300": (1, 1, _N, _vals("0", "1"), 0),
    "0301": (1, 1, _N, _vals("0", "1", "2"), 0),
    "0302": (1, 60, _A, None, 0),
    "0303": (1, 60, _A, None, 0),
    "0304": (3, 3, _N, None, 0),
    "0305": (1, 1, _N, _vals("0", "1", "2"), 0),
    # adt0
    "0105": (15, 17, _S, None, SP_PRUEFNR),
    "9102": (2, 2, _N, EMPFAENGER_KV, 0),
    "9212": (1, 11, _S, None, SP_VERSION),
    "0102": (1, 60, _A, None, 0),
    "0121": (1, 60, _A, None, 0),
    "0122": (1, 7, _A, None, 0),
    "0123": (1, 60, _A, None, 0),
    "0124": (1, 60, _A, None, 0),
    "0125": (1, 60, _A, None, 0),
    "0111": (1, 60, _A, None, 0),
    "0126": (1, 60, _A, None, 0),
    "0127": (1, 60, _A, None, 0),
    "0128": (1, 7, _A, None, 0),
    "0129": (1, 60, _A, None, 0),
    "0130": (1, 60, _A, None, 0),
    "0131": (1, 60, _A, None, 0),
    "0103": (1, 60, _A, None, 0),
    "0132": (1, 60, _A, None, 0),
    "9115": (8, 8, _D, None, 0),
    "9116": (8, 8, _D, None, 0),  # Erstellungsdatum KADT-Datenpaket
    "9117": (8, 8, _D, None, 0),  # Erstellungsdatum Hybrid-DRG-Datenpaket
    "9260": (2, 2, _N, None, 0),
    "9261": (2, 2, _N, None, 0),
    "9204": (5, 5, _S, None, SP_QUARTER),
    "9250": (15, 17, _A, None, 0),
    "9251": (15, 17, _A, None, 0),
    # Behandlungsfall: patient and insurance
    "3000": (1, 20, _A, None, 0),
    "3003": (1, 60, _A, None, 0),
    # SADT (Satztabellen 5.4.3-5.4.5): Kennziffer SA, format checked by rules 048/048a/709
    "3005": (1, 27, _A, None, 0),
    "3006": (5, 11, _A, None, 0),
    "3010": (14, 14, _N, None, 0),
    "3011": (1, 1, _N, _vals("1", "2", "3", "4", "5", "6"), 0),
    "3012": (1, 5, _N, None, 0),
    "3013": (1, 128, _A, None, 0),
    "3100": (1, 20, _A, None, 0),
    "3120": (1, 20, _A, None, 0),
    "3101": (1, 45, _A, None, 0),
    "3102": (1, 45, _A, None, 0),
    "3103": (8, 8, _S, None, SP_BIRTH),
    "3104": (1, 20, _A, None, 0),
    "3105": (6, 12, _N, None, 0),
    "3119": (10, 10, _S, None, SP_KVNR),
    "3107": (1, 46, _A, None, 0),
    "3109": (1, 9, _A, None, 0),
    "3115": (1, 40, _A, None, 0),
    "3112": (1, 10, _A, None, 0),
    "3114": (1, 3, _A, None, 0),
    "3113": (1, 40, _A, None, 0),
    "3121": (1, 10, _A, None, 0),
    "3122": (1, 40, _A, None, 0),
    "3123": (1, 8, _A, None, 0),
    "3124": (1, 3, _A, None, 0),
    "3116": (2, 2, _N, None, 0),
    "3108": (1, 1, _N, _vals("1", "3", "5"), 0),
    "3110": (1, 1, _A, _vals("M", "W", "U", "X", "D"), 0),
    "4101": (5, 5, _S, None, SP_QUARTER),
    "4102": (8, 8, _D, None, 0),
    "4104": (5, 5, _N, None, 0),
    "4106": (2, 2, _N, _vals(*(f"{n:02d}" for n in range(10))), 0),
    "4108": (1, 40, _A, None, 0),
    "4109": (8, 8, _D, None, 0),
    "4112": (1, 1, _N, _vals("1"), 0),
    "4133": (8, 8, _D, None, 0),
    "4110": (8, 8, _D, None, 0),
    "4111": (9, 9, _N, None, 0),
    "4134": (1, 45, _A, None, 0),
    "4131": (2, 2, _A, _vals("00", "04", "06", "07", "08", "09"), 0),
    "4132": (
        2,
        2,
        _A,
        _vals(*(f"{n:02d}" for n in (*range(13), *range(30, 59)))),
        0,
    ),
    "4121": (1, 1, _N, _vals("0", "1", "2", "3"), 0),
    "4122": (2, 2, _N, _vals(*(f"{n:02d}" for n in (*range(11), 14, 15))), 0),
    "4123": (2, 2, _N, None, 0),
    "4124": (1, 60, _A, None, 0),
    "4125": (16, 16, _N, None, 0),
    "3111": (1, 5, _N, None, 0),  # Aufnahmegewicht in Gramm (Hybrid-DRG, R390)
    "5030": (1, 4, _N, None, 0),  # Beatmungsstunden (Hybrid-DRG, R896)
    "4126": (1, 60, _A, None, 0),
    "4202": (1, 1, _N, _vals("1"), 0),
    "4204": (1, 1, _N, _vals("1"), 0),
    "4206": (8, 8, _D, None, 0),
    "4236": (1, 1, _N, None, 0),
    "4239": (2, 2, _N, None, 0),
    "4103": (1, 1, _N, _vals("1", "2", "3", "4", "6"), 0),
    "4114": (1, 14, _A, None, 0),
    "4115": (8, 8, _D, None, 0),
    # 0102 Überweisung
    "4205": (1, 60, _A, None, 0),
    "4207": (1, 60, _A, None, 0),
    "4208": (1, 60, _A, None, 0),
    "4209": (1, 60, _A, None, 0),
    "4214": (8, 8, _D, None, 0),
    "4217": (9, 9, _S, None, SP_BSNR),
    "4241": (9, 9, _S, None, SP_LANR),
    "4218": (9, 9, _S, None, SP_BSNR),
    "4242": (9, 9, _S, None, SP_LANR),
    "4219": (1, 60, _A, None, 0),
    "4220": (1, 60, _A, None, 0),
    "4221": (1, 1, _N, None, 0),
    "4229": (5, 5, _N, None, 0),
    # 0103 / 0104
    "4233": (16, 16, _N, None, 0),
    "4243": (1, 60, _A, None, 0),
    # Leistungen
    "5000": (8, 8, _D, None, 0),
    "5001": (5, 9, _S, None, SP_GNR),
    "5002": (1, 60, _A, None, 0),
    "5003": (9, 9, _S, None, SP_BSNR),
    "5005": (3, 3, _N, None, 0),
    "5006": (4, 4, _N, None, 0),
    "5008": (1, 3, _N, None, 0),
    "5009": (1, 60, _A, None, 0),
    "5010": (1, 60, _A, None, 0),
    "5011": (1, 60, _A, None, 0),
    "5012": (1, 10, _N, None, 0),
    "5013": (1, 3, _N, None, 0),
    "5015": (1, 60, _A, None, 0),
    "5016": (1, 60, _A, None, 0),
    "5017": (1, 60, _A, None, 0),
    "5018": (2, 2, _A, _vals("Z1", "Z2", "Z3", "Z4"), 0),
    "5019": (1, 60, _A, None, 0),
    "5034": (8, 8, _D, None, 0),
    "5024": (1, 1, _A, _vals("N"), 0),  # poststationär (R521: only N)
    "5035": (1, 8, _A, None, 0),
    "5036": (5, 6, _A, None, 0),
    "5041": (1, 1, _A, _vals("R", "L", "B"), 0),
    "5098": (9, 9, _S, None, SP_BSNR),
    "5099": (9, 9, _S, None, SP_LANR),
    "5100": (9, 9, _N, None, 0),
    "5101": (9, 9, _N, None, 0),
    # ADT-Feldtabelle: Pseudo-LANR (ASV) des Erstveranlassers / Überweisers, rule 064
    "4248": (9, 9, _N, None, 0),
    "4249": (9, 9, _N, None, 0),
    "5102": (9, 9, _N, None, 0),
    # Diagnosen
    "6001": (3, 6, _S, None, SP_ICD),
    "6003": (1, 1, _A, _vals("V", "Z", "A", "G"), 0),
    "6004": (1, 1, _A, _vals("R", "L", "B"), 0),
    "6006": (1, 60, _A, None, 0),
    "6008": (1, 60, _A, None, 0),
    "3673": (3, 6, _S, None, SP_ICD),
    "3674": (1, 1, _A, _vals("V", "Z", "A", "G"), 0),
    "3675": (1, 1, _A, _vals("R", "L", "B"), 0),
    "3676": (1, 60, _A, None, 0),
    "3677": (1, 60, _A, None, 0),
}

#: Fields that exist in KVDT but whose exact format this validator does not check
#: (accepted with any non-empty content of at most 990 bytes).
_LOOSE = [
    "4234",
    "4235",
    "4299",
    "4247",
    "4250",
    "4251",
    "4252",
    "4253",
    "4254",
    "4255",
    "4256",
    "4257",
    "4105",
    "4226",
    "5020",
    "5021",
    "5023",
    "5025",
    "5026",
    "5037",
    "5038",
    "5040",
    "5042",
    "5043",
    "5050",
    "5051",
    "5052",
    "5074",
    "5075",
    "5076",
    "5077",
    "5078",
    "5079",
    # Q4/2026 and Q1/2027 field ids seen in the KBV test-practice files (XPM 2026.4.x) whose
    # format this validator does not check yet: ADT 4225/4248/4249, KADT 4261–4270,
    # Hybrid-DRG 5027–5029/6009/6010, and the Prüfmodul's con9 fields 9213, 9230–9237.
    "4225",
    "4248",
    "4249",
    *(str(n) for n in range(4261, 4279)),
    "5027",
    "5028",
    "5029",
    "6009",
    "6010",
    "9213",
    *(str(n) for n in range(9230, 9238)),
]

FIELDS: dict[bytes, FieldSpec] = {fk.encode(): spec for fk, spec in _TABLE.items()}
for _fk in _LOOSE:
    FIELDS.setdefault(_fk.encode(), (1, 990, ALNUM, None, 0))

#: Fields whose content may be quoted in messages. Everything else (names, addresses,
#: birth date, insurance numbers) is never repeated in a protocol.
SHOW_VALUE = frozenset(
    f.encode()
    for f in [
        "8000",
        "9103",
        "9106",
        "9132",
        "0201",
        "0212",
        "0225",
        "0226",
        "0300",
        "9102",
        "9212",
        "9204",
        "9115",
        "0105",
        "3000",
        "3108",
        "3110",
        "4101",
        "4104",
        "4106",
        "4121",
        "4122",
        "4131",
        "4132",
        "4239",
        "4217",
        "4218",
        "4241",
        "4242",
        "5000",
        "5001",
        "5003",
        "5005",
        "5098",
        "5099",
        "5101",
        "5102",
        "6001",
        "6003",
        "6004",
        "3673",
        "3674",
        "3675",
    ]
)

FIELD_NAMES = {
    "8000": "Satzart",
    "9103": "Erstellungsdatum",
    "9106": "verwendeter Zeichensatz",
    "9132": "enthaltene Datenpakete",
    "0201": "(N)BSNR",
    "0203": "BSNR-Bezeichnung",
    "0212": "LANR",
    "0211": "Arztname",
    "0205": "Straße der Betriebsstätte",
    "0215": "PLZ der Betriebsstätte",
    "0216": "Ort der Betriebsstätte",
    "0208": "Telefonnummer",
    "0225": "TI-Fachanwendung",
    "0226": "TI-Fachanwendung genutzt",
    "0300": "zertifikatspflichtige Laborleistungen",
    "0105": "KBV-Prüfnummer",
    "0102": "Softwareverantwortlicher",
    "0121": "Straße des Softwareverantwortlichen",
    "0122": "PLZ des Softwareverantwortlichen",
    "0123": "Ort des Softwareverantwortlichen",
    "0124": "Telefon des Softwareverantwortlichen",
    "0126": "Regionaler Systembetreuer",
    "0127": "Straße des Systembetreuers",
    "0128": "PLZ des Systembetreuers",
    "0129": "Ort des Systembetreuers",
    "0130": "Telefon des Systembetreuers",
    "0103": "Software",
    "9115": "Erstellungsdatum ADT-Datenpaket",
    "4102": "Ausstellungsdatum",
    "4218": "(N)BSNR des Überweisers",
    "4242": "LANR des Überweisers",
    "4219": "Überweiser (Freitext)",
    "4220": "Überweisung an",
    "3005": "Kennziffer SA",
    "4221": "Behandlungsart (kurativ/präventiv)",
    "4233": "stationäre Behandlung",
    "3114": "Wohnsitzländercode",
    "3121": "Postfach-PLZ",
    "9901": "Systeminterner Parameter",
    "9102": "Empfänger",
    "9212": "Version der Satzbeschreibung",
    "9204": "Abrechnungsquartal",
    "3000": "Patientennummer",
    "3101": "Name",
    "3102": "Vorname",
    "3103": "Geburtsdatum",
    "3108": "Versichertenart",
    "3110": "Geschlecht",
    "3112": "PLZ",
    "3119": "Versicherten-ID",
    "4101": "Quartal",
    "4104": "Abrechnungs-VKNR",
    "4106": "Kostenträger-Abrechnungsbereich",
    "4109": "letzter Einlesetag der Versichertenkarte",
    "4111": "Kostenträgerkennung",
    "4121": "Gebührenordnung",
    "4122": "Abrechnungsgebiet",
    "4131": "Besondere Personengruppe",
    "4132": "DMP-Kennzeichnung",
    "4239": "Scheinuntergruppe",
    "5000": "Leistungstag",
    "5001": "Gebührennummer (GNR)",
    "5098": "(N)BSNR des Leistungsorts",
    "5099": "LANR des Leistungserbringers",
    "6001": "ICD-10-GM-Code",
    "6003": "Diagnosensicherheit",
    "3673": "Dauerdiagnose",
    "3674": "Diagnosensicherheit Dauerdiagnose",
}


def field_name(fk: str) -> str:
    name = FIELD_NAMES.get(fk)
    return f"FK {fk} ({name})" if name else f"FK {fk}"

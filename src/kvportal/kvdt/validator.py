# Data protection (Art. 9 DSGVO): the validator never copies patient names, birth dates or
# insurance numbers into messages; cases are identified by the patient number (FK 3000) only.
"""Streaming KVDT validator (KBV Datensatzbeschreibung KVDT; check results 0/1/2/3 as XPM).

One pass over the file, memory independent of its size. The hot loop works on raw bytes
(slicing, dict lookups) and builds no per-field objects. No Django.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from typing import BinaryIO

from kvportal.core.quarters import Quarter
from kvportal.members.identifiers import check_bsnr, check_lanr, lanr_check_digit

from . import fields as F
from . import mdrules
from .masterdata import EbmFile, IcdCode, MasterData, OpsFile
from .messages import (
    FEHLER,
    HINTS,
    INFO,
    MASTER_DATA_RULES,
    MASTER_FILE_RULES,
    MASTER_FILES,
    RULES,
    STATUS_ABORTED,
    STATUS_FAULTY,
    STATUS_OK,
    STATUS_WARNINGS,
    WARNUNG,
    Message,
    ValidationReport,
)
from .reader import CHUNK, ENCODING, PRINTABLE, iter_blocks, open_binary

#: At most this many messages are kept in the report; the rest are only counted.
MAX_MESSAGES = 5000
#: Caches of known-good values are cleared when they grow beyond this (memory stays flat).
_CACHE_LIMIT = 20_000

#: b"013" -> 11: the length of a line without CRLF that carries this prefix.
_LENGTHS = {b"%03d" % n: n - 2 for n in range(1000)}

_ICD_RE = re.compile(rb"[A-Z][0-9]{2}(?:\.[0-9]{1,2}|\.[0-9]-)?\Z")
_GNR_RE = re.compile(rb"[0-9]{5}[A-Z]?\Z")
#: Rule 035 (Gebührenordnung 3, 4121 = 3; checked as rule 496): G-alpha[n[n[n[n]]][K-alpha
#: [aerw]]][/Lkz] or [G-alpha]n[n[n[n]]][K-alpha[aerw]][/Lkz]; G-alpha A-Z, K-alpha A-Z a-d,
#: aerw A-Z 1-4, Lkz A-Z 0-9 # $ * < >.
_GOAE_RE = re.compile(
    rb"(?:[A-Z](?:[0-9]{1,4}(?:[A-Za-d][A-Z1-4]?)?)?|[A-Z]?[0-9]{1,4}(?:[A-Za-d][A-Z1-4]?)?)"
    rb"(?:/[A-Z0-9#$*<>])?\Z"
)
_PRUEFNR_RE = re.compile(rb"[VXYZ]/[0-9]{1,3}/[0-9]{2}(?:0[1-9]|1[0-2])/[0-9]{2}/[A-Za-z0-9]{3}\Z")
_VERSION_RE = re.compile(rb"[A-Za-z]{3,4}(?:0[1-9]|1[0-2])[0-9]{2}\.[0-9]{2}\Z")
_KVNR_RE = re.compile(rb"[A-Z][0-9]{9}\Z")

# Roles: what the validator does with a field beyond its format. The roles from R_BSNR on are
# handled by `other_role` (besa, rvsa, adt0 and rare case fields); the loop sends them there
# after the hot roles with one comparison.
(
    R_NONE,
    R_GNR,
    R_LBSNR,
    R_LLANR,
    R_LTAG,
    R_DIAG,
    R_DIAGSICH,
    R_SATZART,
    R_PATNR,
    R_BIRTH,
    R_QUARTAL,
    R_SUG,
    R_PSEUDO_LANR,
    R_KHIK,
    R_NOTFUTURE,
    R_AUSSTELLUNG,
    R_CREATED,
    R_LAND,
    R_CARDREAD,
    R_BSNR,
    R_LANR,
    R_TI,
    R_TIFLAG,
    R_ADTQUARTAL,
    R_EMPFAENGER,
    R_PSEUDO_ASV,
    R_GROUPFIELD,
    R_CAPTURE,
    R_SVCFIELD,
    R_PSYBLOCK,
    R_PSYGNR,
    R_STAMP,
    R_KENNZIFFER_SA,
    R_PSEUDO_REF,
    R_ASV_TEAM,
) = range(35)
_R_OTHER = R_BSNR

#: Fields whose every value matters (the record's `seen` dict keeps only the last one).
_CAPTURE = ("5041", "9132", "0305", "6009", "6011", "0304")
_MD_CASES = (b"0109", b"hdrg1")  # besides ADT cases, mdrules.case_end runs for these
#: 5098/5099 not in besa: KADT (R730 F, R731 W) and SADT (R732, R733 F) have own numbers.
_PLACE_RULES = {b"0109": "730", b"sad1": "732", b"sad2": "732", b"sad3": "732"}
_DOCTOR_RULES = {b"0109": "731", b"sad1": "733", b"sad2": "733", b"sad3": "733"}
#: Fields that belong to a GNR (5001): before the first 5001 of a day they are KVDT-FK5001.
_SVC_FIELDS = (
    "5002 5003 5005 5006 5008 5009 5010 5011 5012 5013 5015 5016 5017 5018 5019 5020 5021 "
    "5023 5024 5025 5026 5034 5035 5036 5037 5038 5040 5042 5043 5050 5051 5052 5074 5075 "
    "5076 5077 5078 5079 5100"
).split()

_ROLES: dict[bytes, int] = {
    b"8000": R_SATZART,
    b"3000": R_PATNR,
    b"3103": R_BIRTH,
    b"4101": R_QUARTAL,
    b"4239": R_SUG,
    b"5000": R_LTAG,
    b"5001": R_GNR,
    b"5098": R_LBSNR,
    b"5099": R_LLANR,
    b"5101": R_PSEUDO_LANR,
    b"5102": R_KHIK,
    b"6001": R_DIAG,
    b"3673": R_DIAG,
    b"6003": R_DIAGSICH,
    b"3674": R_DIAGSICH,
    b"0201": R_BSNR,
    b"0213": R_BSNR,
    b"0212": R_LANR,
    b"0223": R_PSEUDO_ASV,
    b"0225": R_TI,
    b"0226": R_TIFLAG,
    b"9204": R_ADTQUARTAL,
    b"9102": R_EMPFAENGER,
    b"9103": R_CREATED,
    b"9115": R_NOTFUTURE,
    b"9116": R_NOTFUTURE,
    b"9117": R_NOTFUTURE,
    b"4102": R_AUSSTELLUNG,
    b"3114": R_LAND,
    b"4109": R_CARDREAD,
    **{fk: R_GROUPFIELD for fk in F.BESA_GROUP_MUSS},
    **{fk: R_GROUPFIELD for fk in (b"0224", b"0227", b"0228")},
    **{fk.encode(): R_CAPTURE for fk in _CAPTURE},
    **{fk.encode(): R_SVCFIELD for fk in _SVC_FIELDS},
    b"4235": R_PSYBLOCK,
    b"4253": R_PSYGNR,
    b"4256": R_PSYGNR,
    b"3010": R_STAMP,
    b"3005": R_KENNZIFFER_SA,
    b"0222": R_ASV_TEAM,
    b"4248": R_PSEUDO_REF,
    b"4249": R_PSEUDO_REF,
}

#: Field spec used by the hot loop: (min, max, type, values, special, role).
_SPECS: dict[bytes, tuple] = {fk: (*spec, _ROLES.get(fk, R_NONE)) for fk, spec in F.FIELDS.items()}

#: Fast path: line[:7] (length prefix + field id) -> (line length, check, values, special,
#: role, fk). Filled by the slow path with combinations that were fully checked once.
_FAST: dict[bytes, tuple] = {}
_FAST_LIMIT = 50_000
#: Whole lines that passed the format check silently -> (fk, value, role), per file. Only
#: case, service and diagnosis fields (4xxx, 5xxx, 6xxx), the Satzart and a few 3xxx fields
#: that repeat (CDM version, WOP, Dauerdiagnosen) pay; personal data (names, birth date,
#: address, insurance number, patient number) is never kept.
_LINE_FIELDS = frozenset(
    fk
    for fk in F.FIELDS
    if fk[:1] in b"456" or fk in b"8000 3006 3108 3110 3114 3116 3673 3674".split()
)
_LINES_LIMIT = 20_000
_T_ALNUM, _T_VALUES, _T_DATE, _T_NUM, _T_SPECIAL = range(5)
#: Values that passed a dedicated check (per special check) and valid dates. A value's
#: validity does not depend on the file, so the caches are shared; each is bounded.
_GOODS: dict[int, set[bytes]] = {k: set() for k in range(10)}
_GOOD_DATES: set[bytes] = set()
#: One shared bytes object per field id (the fast path hands these out).
_FK_OBJECTS = {fk: fk for fk in _SPECS}

#: Value-list violations that have their own KBV rule number.
_VALUE_RULES = {
    b"8000": "175",
    b"9106": "182",
    b"9132": "124",
    b"9102": "532",
    b"3110": "533",
    b"0225": "177",
    b"4131": "534",
    b"4132": "536",
    b"4106": "KVDT-RKAB",
    b"5024": "521",
    b"4103": "108",
}
#: Mandatory case fields with an XPM id of their own (KVDT-BP03/-DK03: "das Feld muss immer
#: vorhanden sein", treatment after 4/2017); other missing M fields are STR-MUSS.
_MUSS_RULES = {b"4131": "KVDT-BP03", b"4132": "KVDT-DK03"}
#: Fields with "Vorkommen 1" per GNR (Satztabellen 0101-0104) -> XPM id when repeated:
#: KVDT-FFK (Fehler) where a second value changes what is paid (Multiplikator, DKM, Prozent,
#: Zone) or for whom (ASV-Teamnummer; 5098/5099/5101/5102 are checked in the hot loop),
#: KVDT-FFKW (Warnung) for the other, documentary fields. 5074-5076 (per Sachkosten 5011)
#: and 5041 (per OPS 5035) are not per GNR.
_ONCE_PER_GNR = {
    **dict.fromkeys((b"5005", b"5008", b"5013", b"5018", b"5100"), "KVDT-FFK"),
    **dict.fromkeys(
        (
            b"5002 5003 5006 5010 5017 5019 5020 5021 5023 5024 5025 5026 5034 5037 5040 "
            b"5042 5043 5051 5052"
        ).split(),
        "KVDT-FFKW",
    ),
}
_GROUPS_4131: frozenset[bytes] = F.FIELDS[b"4131"][3] or frozenset()
#: Sachkosten and Hersteller/Artikelnummer of a GNR (R711a/R711b).
_MATERIAL = frozenset((b"5011", b"5012", b"5074", b"5075"))

_SPECIAL_RULES = {
    F.SP_QUARTER: "016",
    F.SP_ICD: "022",
    F.SP_GNR: "042",
    F.SP_KVNR: "054",
    F.SP_BIRTH: "021",
    F.SP_PRUEFNR: "052",
    F.SP_VERSION: "031",
}
_SPECIAL_PATTERNS = {
    F.SP_ICD: _ICD_RE,
    F.SP_GNR: _GNR_RE,
    F.SP_PRUEFNR: _PRUEFNR_RE,
    F.SP_VERSION: _VERSION_RE,
}

_LANR_SUBSTITUTE = b"999999900"  # Ersatzwert (P2-40), accepted in 5099/4241/4242
_PSEUDO_LANR_ASV = b"555555"  # Pseudo-LANR for hospital doctors in ASV: 555555nff (063/064)
_LANR_OBSOLETE = b"888888800"  # rule 762
_BSNR_SUBSTITUTE = b"777777700"  # rule 821

#: Zusatzangaben a GNR requires (SDEBM gnr_zusatzangabe V) -> the rule that checks them.
_ZUSATZ_RULES = {
    "5034": "701",
    "5035": "702",
    "5036": "702",
    "5010": "868",
    "5050": "888",
    "5051": "889",
    "5052": "890",
    "5077": "892",
    "4214": "901",
}

#: Service fields whose values the lab/Zusatzangaben rules count per GNR (770 ff., 891-894, 707).
_SVC_TRACK = frozenset((b"5077", b"5078", b"5079", b"5005", b"5050", b"5042"))


def _gnrs(*codes: int) -> frozenset[bytes]:
    return frozenset(b"%05d" % c for c in codes)


#: GNR rules of the ADT-Regeltabelle on genetic/lab services, texts of the XPM catalogue:
#: (rule, GNRs (5 digits, any letter suffix), 5077 count, 5079 count, needs 6001 != Z01.7,
#: 5078 forbidden). Counts: None = not checked, 0 = must not be there, 1 = exactly once,
#: -1 = at least once.
_LAB_RULES = (
    ("770", _gnrs(11511, 11512, 11516, 11517, 11518, 11521, 11721, 11722, 11723, 11728, 11730,
                  11731), 1, 1, False, False),
    ("816", _gnrs(11233), 0, -1, False, True),
    ("828", _gnrs(11302, 11303, 11305, 19402), 0, 0, True, False),
    ("829", _gnrs(19421, 19424, 19425, 19451, 19452, 19453, 19454, 19456), 1, None, True, False),
    ("830", _gnrs(19424, 19453, 19456), -1, None, True, False),
    ("834", _gnrs(11522, 11513, 11724, 11725, 11726, 11727, 11732), -1, -1, False, False),
    ("843", _gnrs(32901, 32902, 32904, 32906, 32908, 32910, 32911), 0, 0, True, False),
    ("854", _gnrs(32915, 32916, 32917, 32918), 0, 0, True, False),
    ("847", _gnrs(19421, 19451, 19452), None, 1, False, False),
    ("848", _gnrs(19424, 19453, 19454, 19456), None, -1, False, False),
)  # fmt: skip
_LAB_BY_GNR: dict[bytes, list[tuple]] = {}
for _rule in _LAB_RULES:
    for _code in _rule[1]:
        _LAB_BY_GNR.setdefault(_code, []).append(_rule)

#: SADT Kennziffer SA (3005, R048): 0/1, TTMMJJ, 13 digits, 1-7 alphanumeric characters.
_KENNZIFFER_SA_RE = re.compile(rb"[01][0-9]{6}[0-9]{13}[A-Za-z0-9]{1,7}\Z")
#: SADT case records (Satztabellen 5.4.3-5.4.5).
_SADT_CASES = frozenset((b"sad1", b"sad2", b"sad3"))
#: Records whose every GNR needs 5098 and 5099 (Satztabellen 0103, sad1-sad3: KVDT-FEHL).
_FEHL_SATZARTEN = frozenset((b"0103", *_SADT_CASES))

#: Package headers and the case records each package must contain (KVDT-FSATZ).
_PACKAGE_HEADERS = {
    b"adt0": ("ADT", "0101, 0102, 0103, 0104"),
    b"kad0": ("KADT", "0109"),
    b"sad0": ("SADT", "sad1, sad2, sad3"),
    b"hdrg0": ("Hybrid-DRG", "hdrg1"),
}

#: Every Scheinuntergruppe of the ADT package (KVDT-RSU: any other value is unknown).
_KNOWN_SUGS = frozenset(sug for allowed, _rule in F.SUG_BY_SATZART.values() for sug in allowed)

#: Rules that apply from a quarter on (year * 10 + quarter of the case, 4101, else 9204).
RULE_FROM = {"706": 20261, "899": 20262, "900": 20262, "309": 20263, "310": 20263}
_CDM_520 = (5, 2, 0)


def _version(val: bytes) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in val.split(b"."))
    except ValueError:
        return None


_VERSIONS: dict[bytes, tuple[int, ...] | None] = {}
#: With CDM 5.2.0 and a card read, these fields satisfy every card rule (307–790).
_CARD_OK = frozenset((b"3119", b"4133", b"4134", b"3114"))
_VERSION_RULES = {
    b"adt0": (b"ADT", "813"),
    b"kad0": (b"KADT", "814"),
    b"sad0": (b"SADT", "815"),
}
#: Rule 840 (Thüringen/Sachsen): release (0132) of the practice software.
_RELEASE_RE = re.compile(
    rb"(.{1,23})|(.{1,23}\|([0-9][0-9][0-9][0-9])?([a-ku-x][a-z][1-9])*([a-ku-x][A-Z][1-9])*)"
)
#: A case carrying none of these fields skips the rare end-of-case rules.
_RARE_CASE_FIELDS = frozenset(
    fk.encode()
    for fk in (
        "3012 3010 4112 4214 4115 4103 4218 4217 4225 4229 4209 4221 4205 4252 4253 4255 "
        "4256 4235 4125 4226"
    ).split()
)


def _version_cached(val: bytes) -> tuple[int, ...] | None:
    try:
        return _VERSIONS[val]
    except KeyError:
        if len(_VERSIONS) > 1000:
            _VERSIONS.clear()
        version = _VERSIONS[val] = _version(val)
        return version


def _days(a: bytes, b: bytes) -> int:
    """Days from date a to date b (JJJJMMTT); 0 when either is not a valid date."""
    if not (_valid_date(a) and _valid_date(b)):
        return 0
    da = dt.date(int(a[:4]), int(a[4:6]), int(a[6:8]))
    db = dt.date(int(b[:4]), int(b[4:6]), int(b[6:8]))
    return (db - da).days


class _Abort(Exception):
    def __init__(self, rule: str, line: int | None = None, detail: str = "") -> None:
        super().__init__(rule)
        self.rule = rule
        self.line = line
        self.detail = detail


class _CallbackError(Exception):
    """An exception raised by the caller's progress callback: passed through unchanged."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


def _valid_date(val: bytes) -> bool:
    if len(val) != 8 or not val.isdigit():
        return False
    try:
        dt.date(int(val[:4]), int(val[4:6]), int(val[6:]))
    except ValueError:
        return False
    return True


#: ASCII digit d -> ASCII digit of the cross sum of 2*d (weight 2 in the KVNR check).
_DOUBLE = bytes.maketrans(b"0123456789", b"0246813579")


#: Letter A..Z (01..26) -> its two digits weighted 1 and 2 (cross sum), by byte value.
_KVNR_LETTER = {
    ord("A") + i: (i + 1) // 10 + sum(divmod(2 * ((i + 1) % 10), 10)) for i in range(26)
}


def _kvnr_ok(val: bytes) -> bool:
    """Versicherten-ID `annnnnnnnP` (S1 ch. 7, FK 3119): letter as two digits, then the ten
    digits weighted 1,2,1,2,… (cross sums of the products), sum mod 10 = check digit."""
    if not _KVNR_RE.match(val):
        return False
    # digits 3..10 of the number are val[1:9]: odd ones weight 1, even ones weight 2
    total = _KVNR_LETTER[val[0]] + sum(val[1:9:2]) + sum(val[2:9:2].translate(_DOUBLE)) - 8 * 48
    return total % 10 == val[9] - 48


def _asv_team_ok(val: bytes) -> bool:
    """ASV-Teamnummer `00nnnnnnP` (rule 059): the check digit P from digits 3-8 by the LANR
    procedure (weights 4 and 9 alternately, 10 - sum mod 10, 10 -> 0)."""
    return (
        len(val) == 9
        and val.isdigit()
        and val[:2] == b"00"
        and lanr_check_digit(val[2:8].decode("ascii")) == val[8] - 48
    )


def _quarter_range(val: bytes) -> tuple[bytes, bytes] | None:
    if len(val) != 5 or not val.isdigit() or not 49 <= val[0] <= 52:  # '1'..'4'
        return None
    try:
        q = Quarter(int(val[1:]), val[0] - 48)
    except ValueError:
        return None
    return q.start.strftime("%Y%m%d").encode(), q.end.strftime("%Y%m%d").encode()


def _s(value: bytes) -> str:
    return value.decode(ENCODING, "replace")


class _Validator:
    # Slots make every `self.x` in the per-line loop a fixed-offset load; `__dict__` keeps
    # attributes added elsewhere (hooks) working.
    __slots__ = (
        "__dict__",
        "adt_case",
        "adt_q",
        "adt_quarter",
        "besa_0224",
        "besa_asv",
        "besa_bsnr_set",
        "besa_bsnrs",
        "besa_ik",
        "besa_lanrs",
        "besa_line",
        "birth",
        "case_bsnrs",
        "case_q",
        "case_services",
        "created",
        "current_pkg",
        "current_quarter_case",
        "declared",
        "declared_bad",
        "diag_fk",
        "diag_line",
        "diag_open",
        "diag_quiet",
        "diag_real",
        "diag_sich",
        "diag_z017",
        "dropped",
        "ebm",
        "ebm_index",
        "ebm_quiet",
        "expected_bsnr",
        "expected_quarter",
        "first_ltag",
        "goae",
        "good_dates",
        "goods",
        "group_bsnr",
        "group_lanrs",
        "group_line",
        "group_seen",
        "group_ti",
        "has_ltag",
        "icd",
        "in_case",
        "kadt_case",
        "kadt_days",
        "lab_pending",
        "land",
        "last_ltag",
        "line_cache",
        "ln",
        "loaded_kinds",
        "masterdata",
        "md",
        "md_rv",
        "n_diagnoses",
        "n_services",
        "needs_place",
        "op_dates",
        "ops",
        "ops_pending",
        "ops_pending_line",
        "packages",
        "pat",
        "pkg_cases",
        "postcodes",
        "prev_sa",
        "psy_seen",
        "qrange",
        "quarters",
        "record_line",
        "report",
        "rv_last",
        "rv_pnsd",
        "sa",
        "sa_known",
        "seen",
        "seen_satzarten",
        "stamp_case",
        "sug",
        "sug28",
        "svc_bsnr",
        "svc_code",
        "svc_fields",
        "svc_fields_line",
        "svc_lanr",
        "svc_line",
        "svc_open",
        "svc_track",
        "syntax_errors",
        "ti_open_line",
        "today",
        "unknown_fks",
        "vknrs",
    )

    def __init__(
        self,
        *,
        expected_quarter: Quarter | None,
        expected_bsnr: str | None,
        today: dt.date,
    ) -> None:
        self.report = ValidationReport()
        self.expected_quarter = expected_quarter
        self.expected_bsnr = expected_bsnr.encode() if expected_bsnr else None
        self.today = today.strftime("%Y%m%d").encode()
        self.ln = 0
        self.syntax_errors = 0
        self.dropped = 0
        # record state
        self.sa: bytes | None = None  # current Satzart (None before the first record)
        self.sa_known = False
        self.prev_sa: bytes | None = None  # last known Satzart (order check)
        self.record_line = 0
        #: Fields of the current record -> last value (the end-of-record rules read it).
        self.seen: dict[bytes, bytes] = {}
        self.seen_satzarten: set[bytes] = set()
        # case state
        self.in_case = False
        self.adt_case = False
        self.op_dates: list[bytes] = []
        self.first_ltag = b""
        self.sug28 = False
        self.case_q = 0  # quarter of the case (4101) as year * 10 + quarter, 0 = unknown
        self.adt_q = 0
        self.packages: list[bytes] = []
        self.besa_ik = False
        self.masterdata: MasterData | None = None
        self.postcodes: frozenset[bytes] | None = None  # SDPLZ of the billing quarter
        self.vknrs: frozenset[bytes] | None = None  # SDKT of the billing quarter
        self.loaded_kinds: set[str] = set()  # master file kinds used (messages.MASTER_FILES)
        self.ebm: EbmFile | None = None  # SDEBM of the billing quarter (203, 701 ff.)
        self.ops: OpsFile | None = None  # SDOPS of the billing quarter (223, 705)
        self.icd: dict[bytes, IcdCode] | None = None  # SDICD of the billing year (728)
        self.md: mdrules.State | None = None  # master-data rules (mdrules), None = none loaded
        self.rv_last = b""  # last Analyt-ID (0304) of rvsa
        self.rv_certs: set[bytes] = set()  # Analyt-IDs with RV-Zertifikat 0305 = 1/2 (R749)
        self.rv_analytes: list[tuple[bytes, int]] = []  # every 0304 of rvsa and its line (R211)
        self.svc_fields: set[bytes] = set()  # service fields (5xxx) of the GNR at svc_fields_line
        self.svc_fields_line = -1
        self.goae = False  # Gebührenordnung 3 (4121): GNR format rule 035 (R496)
        self.ebm_index: dict[bytes, tuple] = {}
        #: SDEBM GNRs without Zusatzangaben lists -> (valid from, valid to): no rule to run
        #: for them on a day inside that range (R203 ff. are decided by one dict lookup)
        self.ebm_quiet: dict[bytes, tuple[bytes, bytes]] = {}
        #: SDICD codes that are billable and need no per-code rule (one set lookup, R728 ff.)
        self.diag_quiet: frozenset[bytes] | None = None
        self.md_rv: dict[bytes, frozenset[bytes]] | None = None  # S_NVV_RV_Zertifikat (R749)
        self.ops_pending = b""  # last 5035 that needs a Seitenlokalisation (5041), rule 705
        self.svc_code = b""  # GNR (5001) of the open service
        self.svc_track: dict[bytes, list[bytes]] | None = None  # values of _SVC_TRACK fields
        self.diag_real = False  # the case has a 6001 other than Z01.7 (828 ff.)
        self.lab_pending: list[tuple[str, int, bytes]] = []  # (rule, line, GNR) at case end
        self.psy_seen: dict[bytes, set[bytes]] = {}  # R853: GNRs per field in the 4235 block
        self.stamp_case = False  # 3010 in the case (R869)
        self.case_bsnrs: set[bytes] = set()  # 5098 of the case when 3010 is there (R869)
        self.besa_0224: set[bytes] = set()  # (N)BSNRs with 0224 in besa (R869)
        self.besa_asv: set[bytes] = set()  # Pseudo-LANR ASV (0223) in besa (R839)
        self.rv_pnsd = False  # rvsa: an RV-Zertifikat 0305 = 2 (R748)
        self.kadt_case = False
        self.kadt_days: list[bytes] = []  # Leistungstage of a KADT case (R882-R885)
        self.current_pkg: bytes | None = None
        self.pkg_cases: dict[bytes, int] = {}  # cases per package header (KVDT-FSATZ)
        self.ops_pending_line = 0
        self.declared_bad = False
        self.declared: set[bytes] = set()
        self.pat: bytes | None = None
        self.birth: bytes | None = None
        self.qrange: tuple[bytes, bytes] | None = None
        self.current_quarter_case = True
        self.last_ltag = b""
        self.has_ltag = False
        self.svc_open = False
        self.svc_bsnr = 0  # bits: 1 = 5098, 2 = 5102 at the open GNR
        self.svc_lanr = 0  # bits: 1 = 5099, 2 = 5101 at the open GNR
        self.svc_line = 0
        self.diag_open = False
        self.diag_sich = False
        self.diag_line = 0
        self.diag_fk = b"6001"
        # besa state
        self.besa_bsnrs: list[bytes] = []
        self.besa_bsnr_set: set[bytes] = set()
        self.besa_lanrs: set[bytes] = set()
        self.group_bsnr: bytes | None = None
        self.group_line = 0
        self.group_lanrs: set[bytes] = set()
        self.group_ti: list[bytes] = []
        self.group_seen: set[bytes] = set()
        self.ti_open_line = 0
        self.besa_line = 0
        # adt0
        self.adt_quarter: bytes | None = None
        # caches of known-good values per special check
        self.goods = _GOODS
        self.line_cache: dict[bytes, tuple[bytes, bytes, int]] = {}
        self.good_dates = _GOOD_DATES
        self.quarters: dict[bytes, tuple[bytes, bytes] | None] = {}
        self.unknown_fks: set[bytes] = set()
        self.n_services = 0
        self.case_services = 0  # n_services when the current case began
        self.n_diagnoses = 0
        self.created: bytes | None = None  # con0 9103
        self.sug: bytes | None = None
        self.land: bytes | None = None
        self.needs_place = True  # rules 837/859 apply to 0101, 0102, 0104
        self.diag_z017 = False

    # ------------------------------------------------------------------ messages
    def msg(
        self,
        rule: str,
        line: int | None,
        fk: bytes | str | None = None,
        detail: str = "",
        severity: str | None = None,
        *,
        satzart: str | None = None,
        case_level: bool = True,
        first: bool = False,
    ) -> None:
        sev = severity or RULES[rule][0]
        report = self.report
        report.counts[sev] += 1
        if len(report.messages) >= MAX_MESSAGES and not first:
            self.dropped += 1
            return
        text = RULES[rule][1]
        if detail:
            text = f"{detail} {text}"
        fk_s = fk.decode("ascii", "replace") if isinstance(fk, bytes) else fk
        if satzart is None and self.sa is not None:
            satzart = _s(self.sa)
        pat = _s(self.pat) if (self.in_case and case_level and self.pat is not None) else None
        in_case = self.in_case and case_level
        message = Message(
            sev,
            rule,
            text,
            line,
            satzart,
            fk_s,
            pat,
            HINTS.get(rule),
            self.record_line if in_case else None,
        )
        if first:  # the reason for an abort heads the protocol, whatever else was found
            report.messages.insert(0, message)
        else:
            report.messages.append(message)

    def value_detail(self, fk: bytes, val: bytes) -> str:
        name = F.field_name(fk.decode("ascii", "replace"))
        if fk in F.SHOW_VALUE:
            return f"{name}: „{_s(val)}“."
        return f"{name}:"

    # ------------------------------------------------------------------ slow paths
    def bad_length(self, line: bytes, ln: int) -> bool:
        """Report a wrong length prefix; return whether the line still carries a field."""
        self.syntax_errors += 1
        n = len(line) + 2
        prefix = line[:3]
        if prefix.isdigit():
            detail = f"Angegeben {int(prefix)}, tatsächlich {n} Bytes."
        else:
            # the bytes are not shown: in a broken file they may be part of a name
            detail = f"Die Längenangabe ist keine Zahl (tatsächlich {n} Bytes)."
        if n > 999:
            detail += " Eine Zeile darf höchstens 999 Bytes lang sein."
        fk = line[3:7] if len(line) >= 7 and line[3:7].isdigit() else None
        self.msg("SYN-LEN", ln, fk, detail)
        return len(line) >= 7

    def unknown_field(self, fk: bytes, ln: int) -> None:
        if not fk.isdigit() or len(fk) != 4:
            self.syntax_errors += 1
            self.msg("SYN-FK", ln)  # content not shown: it may be part of a name
        elif fk not in self.unknown_fks:
            self.unknown_fks.add(fk)
            self.msg("SYN-FKUNBEKANNT", ln, fk, f"FK {_s(fk)} (weitere Vorkommen nicht gemeldet).")

    def bad_date(self, fk: bytes, val: bytes, ln: int) -> bool:
        if _valid_date(val):
            if len(self.good_dates) > _CACHE_LIMIT:
                self.good_dates.clear()
            self.good_dates.add(val)
            return True
        self.msg("021", ln, fk, self.value_detail(fk, val) if fk != b"3103" else "")
        return False

    def special(self, special: int, fk: bytes, val: bytes, ln: int) -> bool:
        """Dedicated format checks; return True when the value is usable."""
        ok = True
        severity = None
        rule = _SPECIAL_RULES.get(special)
        if special == F.SP_GNR:
            if self.goae:  # 4121 = 3: rule 035 (R496), checked per GNR in the loop
                return True
            go = self.seen.get(b"4121")
            if go is not None and go in b"012" and len(go) == 1:
                rule = "497"  # ADT-Regeltabelle: 4121 = 0, 1 or 2 -> rule 042 for 5001
            ok = _GNR_RE.match(val) is not None
        elif special == F.SP_BSNR:
            # bytes.isdigit() is ASCII-only; str.isdigit() would accept "²"
            if len(val) != 9 or not val.isdigit():
                ok = False
                rule = "049"
            elif val == _BSNR_SUBSTITUTE or val[:2] == b"35":
                pass  # rule 821 Ersatzwert; rule 061 pseudo-BSNR 35kknnnnn
            elif val[:2] == b"74":
                if val[7:] != b"63":  # rule 062: BSNR SAPV 74kknnn63
                    ok = False
                    rule = "062"
            elif check_bsnr(val.decode("ascii")).errors:
                ok = False
                rule = "162"
        elif special == F.SP_LANR:
            if val == _LANR_OBSOLETE:
                self.msg("762", ln, fk)
                return False
            if val == _LANR_SUBSTITUTE and fk != b"0212":
                return True
            rule = "056" if (self.sug28 and fk == b"5099") else "050"
            if len(val) != 9 or not val.isdigit():  # ASCII digits only (see above)
                self.msg(rule, ln, fk, self.value_detail(fk, val))
                return False
            result = check_lanr(val.decode("ascii"))
            if result.errors:
                if rule == "056":  # SUG 28: a warning (XPM KVDT-R056)
                    self.msg(rule, ln, fk, self.value_detail(fk, val))
                    return True
                ok = False
            elif result.warnings:
                self.msg("050", ln, fk, f"{self.value_detail(fk, val)} Pseudo-LANR.", WARNUNG)
                return True
        elif special == F.SP_QUARTER:
            ok = self.quarter_of(val) is not None
        elif special == F.SP_KVNR:
            if val == b"T555558879":  # rule 537: the KBV dummy ID bills no services
                self.msg("537", ln, fk)
                return False
            ok = _kvnr_ok(val)
        elif special == F.SP_BIRTH:
            ok = (
                _valid_date(val)
                or val == b"00000000"
                or (val.isdigit() and val[4:] == b"0000")
                or (val.isdigit() and val[6:] == b"00" and _valid_date(val[:6] + b"01"))
            )
        elif special != F.SP_GNR:
            pattern = _SPECIAL_PATTERNS[special]
            ok = pattern.match(val) is not None
        if not ok:
            detail = self.value_detail(fk, val) if fk in F.SHOW_VALUE else ""
            self.msg(rule or "FMT-WERT", ln, fk, detail, severity)
            return False
        if special == F.SP_KVNR:
            return True  # unique per patient: caching would grow with the file
        good = self.goods[special]
        if len(good) > _CACHE_LIMIT:
            good.clear()
        good.add(val)
        return True

    def quarter_of(self, val: bytes) -> tuple[bytes, bytes] | None:
        try:
            return self.quarters[val]
        except KeyError:
            rng = _quarter_range(val)
            if len(self.quarters) > 10_000:
                self.quarters.clear()
            self.quarters[val] = rng
            return rng

    # ------------------------------------------------------------------ records
    def start_record(self, sa: bytes, ok: bool, ln: int) -> None:
        self.end_record()
        self.sa = sa
        self.record_line = ln
        self.sa_known = ok
        if not ok:
            self.in_case = False
            self.adt_case = False
            return
        if sa == b"con0" and self.prev_sa is None:
            pass
        else:
            if self.prev_sa is None:
                raise _Abort("ABBRUCH-START", ln)
            allowed = F.NEXT_SATZART.get(self.prev_sa, frozenset())
            if sa not in allowed:
                expected = ", ".join(sorted(_s(a) for a in allowed)) or "keine weitere Satzart"
                self.msg(
                    "STR-REIHENFOLGE",
                    ln,
                    b"8000",
                    f"Satzart {_s(sa)} nach {_s(self.prev_sa)}; erwartet: {expected}.",
                )
            elif sa == b"adt0" and self.prev_sa == b"besa":
                self.msg("743", ln, b"8000")
        self.prev_sa = sa
        self.seen_satzarten.add(sa)
        # Every package's case record starts with fresh case state (no leak from the last
        # ADT case into KADT/SADT/Hybrid-DRG); the ADT rule table applies to ADT cases only.
        self.adt_case = sa in F.CASE_SATZARTEN
        self.in_case = self.adt_case or sa in F.PACKAGE_CASE_SATZARTEN
        if self.in_case:
            self.report.stats["cases"] += 1
            self.pat = None
            self.birth = None
            self.qrange = None
            self.last_ltag = b""
            self.has_ltag = False
            self.svc_open = False
            self.ops_pending = b""
            self.diag_real = False
            self.stamp_case = False
            self.diag_open = False
            self.sug = None
            self.sug28 = False
            self.land = None
            self.first_ltag = b""
            self.case_q = 0
            self.goae = False
            self.svc_bsnr = self.svc_lanr = 0
            # fresh containers only if the last case used them
            if self.lab_pending:
                self.lab_pending = []
            if self.psy_seen:
                self.psy_seen = {}
            if self.case_bsnrs:
                self.case_bsnrs = set()
            if self.kadt_days:
                self.kadt_days = []
            if self.op_dates:
                self.op_dates = []
            # 715/716 compare with besa, which Hybrid-DRG files do not have
            self.current_quarter_case = sa != b"hdrg1"
            self.kadt_case = sa == b"0109"
            if self.current_pkg is not None:
                self.pkg_cases[self.current_pkg] = self.pkg_cases.get(self.current_pkg, 0) + 1
            self.needs_place = self.adt_case and sa != b"0103"
            self.case_services = self.n_services
        elif sa == b"besa":
            self.besa_line = ln
        elif sa in _PACKAGE_HEADERS:
            self.current_pkg = sa
            self.pkg_cases.setdefault(sa, 0)

    def end_record(self) -> None:
        sa = self.sa
        if sa is None or not self.sa_known:
            self.seen.clear()
            return
        seen = self.seen
        line = self.record_line
        if self.in_case:
            if self.svc_open:
                self.close_service()
            if self.diag_open:
                self.close_diag()
        if sa == b"hdrg1":
            self.hdrg_rules(line)
            if self.masterdata is not None:
                mdrules.hdrg_case(self, seen, line)  # R221 (SDHDRG)
        elif sa == b"0109":
            self.kadt_rules(seen, line)

        md = self.md
        if md is not None and self.in_case and (self.adt_case or sa in _MD_CASES):
            if (  # the common case: no ICD case rule, known IK, nothing to check on the VKNR
                md.secondary is None
                and not md.diags
                and md.kts is not None
                and md.sdav is None
                and sa != b"hdrg1"
                and seen.get(b"4111") in md.iks_ok
                and (sa == b"0109" or seen.get(b"4104") in md.kt_plain)
            ):
                md.primary = False
            else:
                mdrules.case_end(self, md, sa, seen, line)  # master-data rules (mdrules)
        if self.in_case and (self.adt_case or sa in _MD_CASES):
            mdrules.vknr_area(self, seen.get(b"4104"), line)  # R017 (value list of KV areas)
        if self.adt_case:
            if b"6001" not in seen and b"3673" not in seen:
                self.msg("486", line, b"6001")
            if b"3112" not in seen and b"3121" not in seen:
                foreign_card = self.land not in (None, b"D") and b"4109" in seen
                if not foreign_card:
                    self.msg("479", line, b"3112")
            self.case_rules(sa, seen, line)
            self.card_rules(sa, seen, line)
            if self.lab_pending and not self.diag_real:
                done = set()
                for rule, svc_line, code in self.lab_pending:
                    if rule not in done:
                        done.add(rule)
                        detail = f"GNR „{_s(code)}“: keine Diagnose (6001) außer Z01.7."
                        self.msg(rule, svc_line, b"6001", detail)
            if (
                self.stamp_case
                and self.current_quarter_case
                and seen.get(b"3006") == b"5.2.0"
                and not self.case_bsnrs & self.besa_0224
            ):
                self.msg("869", line, b"3010")
        elif sa in _SADT_CASES:  # Satztabellen 5.4.3-5.4.5: 5000 and 5001 are M
            if not self.has_ltag:
                self.msg("STR-MUSS", line, b"5000", f"Es fehlt {F.field_name('5000')}.")
            if self.n_services == self.case_services:
                self.msg("STR-MUSS", line, b"5001", f"Es fehlt {F.field_name('5001')}.")
        elif sa in (b"adt0", b"kad0", b"sad0", b"hdrg0"):
            self.packages.append(sa)
            self.header_rules(sa, seen, line)
            part, parts = seen.get(b"9261"), seen.get(b"9260")
            if part and parts and part.isdigit() and parts.isdigit() and int(part) > int(parts):
                self.msg("738", line, b"9261", f"Teil {_s(part)} von {_s(parts)}.")
        elif sa == b"rvsa":
            self.rvsa_rules(seen, line)
        elif sa == b"besa":
            self.close_group()
            if not self.besa_bsnrs and not self.besa_ik:
                self.msg("857", line, b"0201")
            if self.expected_bsnr is not None and (
                not self.besa_bsnrs or self.besa_bsnrs[0] != self.expected_bsnr
            ):
                found = _s(self.besa_bsnrs[0]) if self.besa_bsnrs else "keine"
                self.msg(
                    "KV-BSNR",
                    line,
                    b"0201",
                    f"Gewählt: {_s(self.expected_bsnr)}, in der Datei: {found}.",
                )
        mandatory = F.MANDATORY.get(sa)
        if mandatory is not None:
            missing = mandatory.difference(seen)  # C loop over the mandatory fields
            if missing and not (sa == b"besa" and missing == {b"0201"}):
                own = self.in_case and (not self.case_q or self.case_q > 20174)
                for fk in sorted(missing):
                    name = F.field_name(fk.decode())
                    rule = _MUSS_RULES.get(fk, "STR-MUSS") if own else "STR-MUSS"
                    self.msg(rule, line, fk, f"Es fehlt {name}.")
        seen.clear()
        self.in_case = False
        self.adt_case = False

    def rvsa_rules(self, seen: dict[bytes, bytes], line: int) -> None:
        """Ringversuchszertifikate (Container-Regeltabelle): 0300 = 1 needs 0301 and an
        Analyt-ID 0304 (R740); 0301 = 1/2 needs a Gerätetyp 0302 (R741), so does an
        RV-Zertifikat 0305 = 2 (R748)."""
        if seen.get(b"0300") == b"1" and (b"0301" not in seen or b"0304" not in seen):
            self.msg("740", line, b"0300")
        if seen.get(b"0301") in (b"1", b"2") and b"0302" not in seen:
            self.msg("741", line, b"0302")
        if self.rv_pnsd and b"0302" not in seen:
            self.msg("748", line, b"0302")
        self.rv_pnsd = False

    def header_rules(self, sa: bytes, seen: dict[bytes, bytes], line: int) -> None:
        """Package header: version of the Satzbeschreibung (R813–R815), 0132 (R840)."""
        if sa == b"hdrg0":
            self.hdrg_version(seen, line)
            return
        if sa not in _VERSION_RULES:
            return
        version, quarter = seen.get(b"9212"), seen.get(b"9204")
        prefix, rule = _VERSION_RULES[sa]
        if (
            version is not None
            and _VERSION_RE.match(version)  # else rule 031 is reported
            and quarter is not None
            and self.quarter_of(quarter) is not None
        ):
            month = (quarter[0] - 48) * 3 - 2
            expected = b"%s%02d%s" % (prefix, month, quarter[3:5])
            if version[:-3] != expected:
                self.msg(
                    rule, line, b"9212", f"Erwartet {_s(expected)}.nn, gefunden „{_s(version)}“."
                )
        release = seen.get(b"0132")
        if (
            sa == b"adt0"
            and release is not None
            and seen.get(b"9102") in (b"93", b"94", b"95", b"96")
            and not _RELEASE_RE.fullmatch(release)
        ):
            self.msg("840", line, b"0132", f"Gefunden: „{_s(release)}“.")

    def hdrg_version(self, seen: dict[bytes, bytes], line: int) -> None:
        """R824: hdrg0 carries no quarter; the version (9212) must be that of the quarter the
        file was created in (con0 9103), e.g. HDRG1026.nn for a file from 4/2026."""
        version, created = seen.get(b"9212"), self.created
        if version is None or not _VERSION_RE.match(version) or created is None:
            return
        month = (int(created[4:6]) - 1) // 3 * 3 + 1
        expected = b"HDRG%02d%s" % (month, created[2:4])
        if version[:-3] != expected:
            self.msg("824", line, b"9212", f"Erwartet {_s(expected)}.nn, gefunden „{_s(version)}“.")

    def applies(self, rule: str) -> bool:
        q = self.case_q or self.adt_q
        return q == 0 or q >= RULE_FROM[rule]

    def sug28_place(self, ref_fk: bytes, rule: str, fk: bytes, val: bytes, ln: int) -> None:
        """SUG 28 (Laborgemeinschaft): 4218 = 5098 (R720) and 4242 = 5099 (R721)."""
        ref = self.seen.get(ref_fk)
        if ref is not None and ref != val:
            self.msg(rule, ln, fk, f"{_s(ref_fk)}: „{_s(ref)}“, {_s(fk)}: „{_s(val)}“.")

    def kadt_rules(self, seen: dict[bytes, bytes], line: int) -> None:
        """KADT rule table: stay dates (R316–R318) and Kompaktkur fields (R382/R383, R879–R881)."""
        msg = self.msg
        group = seen.get(b"4131")  # R530: 00 or 04 (values outside 4131's list: at the line)
        if group is not None and group in _GROUPS_4131 and group not in (b"00", b"04"):
            msg("530", line, b"4131", self.value_detail(b"4131", group))
        first, last = self.first_ltag, self.last_ltag
        arrival, departure, stop = seen.get(b"4264"), seen.get(b"4265"), seen.get(b"4266")
        refresher = b"4272" in seen
        stamp = seen.get(b"3010")
        if stamp is not None:
            if arrival is not None and stamp[:8] < arrival:
                msg("865", line, b"3010")
            end = stop if stop is not None else departure
            if end is not None and stamp[:8] > end:
                msg("866", line, b"3010", f"FK {'4266' if stop is not None else '4265'}.")
        if first and arrival is not None and first < arrival:
            msg("316", line, b"4264", f"Anreisetag „{_s(arrival)}“, Leistungstag „{_s(first)}“.")
        if last and not refresher:
            if departure is not None and last > departure:
                msg("317", line, b"4265", f"Abreisetag „{_s(departure)}“.")
            if stop is not None and last > stop:
                msg("318", line, b"4266", f"Kurabbruch „{_s(stop)}“.")
        compact = b"4262" in seen
        if (compact or refresher) and seen.get(b"4261") not in (b"1", b"2"):
            msg("382", line, b"4261")
        if b"4271" in seen and not (compact or refresher):
            msg("383", line, b"4271")
        if compact and refresher:
            msg("881", line, b"4262")
        if not refresher:
            if b"4276" in seen or b"4277" in seen:
                msg("879", line, b"4276")
            if b"4278" in seen:
                msg("880", line, b"4278")
        elif self.kadt_days:
            self.refresher_rules(seen, line)

    def refresher_rules(self, seen: dict[bytes, bytes], line: int) -> None:
        """KADT Kompaktkur mit Refresher (4272): every Leistungstag lies in the stay
        4264-4265 (and up to a Kurabbruch 4266) or in the refresher 4276-4277 (and up to its
        Abbruch 4278): R882 (neither 4266 nor 4278), R883 (4266), R884 (4278), R885 (both)."""
        stop, stop2 = seen.get(b"4266"), seen.get(b"4278")
        rule = {(False, False): "882", (True, False): "883", (False, True): "884"}.get(
            (stop is not None, stop2 is not None), "885"
        )
        windows = []
        for lo_fk, hi_fk, cap in ((b"4264", b"4265", stop), (b"4276", b"4277", stop2)):
            lo, hi = seen.get(lo_fk), seen.get(hi_fk)
            if lo is not None and hi is not None:
                windows.append((lo, min(hi, cap) if cap is not None else hi))
        if not windows:
            return
        for day in self.kadt_days:
            if not any(lo <= day <= hi for lo, hi in windows):
                self.msg(rule, line, b"5000", f"Leistungstag „{_s(day)}“.")
                return

    def hdrg_rules(self, line: int) -> None:
        """Hybrid-DRG case (HDRG-Regeltabelle): full birth date (R023), sex without U (R538),
        Beatmungsstunden (R896), 5028/5029 in 4125 (R365/R366), Aufnahmegewicht up to one year
        of age (R390), OP date (R314, R321, R322)."""
        seen = self.seen
        birth = self.birth
        if birth is not None and (birth[4:6] == b"00" or birth[6:] == b"00"):
            self.msg("023", line, b"3103")
        if seen.get(b"3110") == b"U":
            self.msg("538", line, b"3110", "Geschlecht „U“.")
        hours = seen.get(b"5030")
        if hours is not None and hours.isdigit() and int(hours) > 0:
            self.msg("896", line, b"5030", f"Beatmungsstunden „{_s(hours)}“.")
        period, start, end = seen.get(b"4125"), seen.get(b"5028"), seen.get(b"5029")
        if period is not None and len(period) == 16:
            for rule, fk, day in (("365", b"5028", start), ("366", b"5029", end)):
                if day is not None and not period[:8] <= day <= period[8:]:
                    self.msg(rule, line, fk, f"„{_s(day)}“, Zeitraum „{_s(period)}“.")
        if (
            birth is not None
            and start is not None
            and birth.isdigit()
            and birth[4:6] != b"00"
            and birth[6:] != b"00"
            and b"3111" not in seen
            and start <= b"%04d%s" % (int(birth[:4]) + 1, birth[4:])
        ):
            self.msg("390", line, b"3111")
        self.op_rules(line)

    def op_rules(self, line: int) -> None:
        """OP date (5034) against birth date (R314) and insurance cover (R321/R322)."""
        if not self.op_dates:
            return
        begin, end, birth = self.seen.get(b"4133"), self.seen.get(b"4110"), self.birth
        for op in self.op_dates:
            if birth is not None and birth.isdigit() and op < birth:
                self.msg("314", line, b"5034", f"OP-Datum „{_s(op)}“.")
            if end is not None and op > end:
                self.msg("321", line, b"5034", f"OP-Datum „{_s(op)}“.")
            if begin is not None and op < begin:
                self.msg("322", line, b"5034", f"OP-Datum „{_s(op)}“.")

    def postcode_rules(self, seen: dict[bytes, bytes], line: int) -> None:
        """Master data SDPLZ, cases without a card read: 3112 (R478) and 3121 (R783)."""
        postcodes = self.postcodes
        if postcodes is None:  # no SDPLZ loaded: the rules do not apply
            return
        plz = seen.get(b"3112")
        # a PLZ that is not five digits (e.g. "I1000" of an SVA case) is taken as foreign
        if (
            plz is not None
            and len(plz) == 5
            and plz.isdigit()
            and seen.get(b"3114", b"D") == b"D"
            and plz not in postcodes
        ):
            self.msg("478", line, b"3112", "Die PLZ (3112) steht nicht in der PLZ-Stammdatei.")
        box = seen.get(b"3121")
        if box is not None and seen.get(b"4106") == b"00" and box not in postcodes:
            self.msg("783", line, b"3121")

    def card_detail(
        self, seen: dict[bytes, bytes], line: int, card: bytes | None, cdm_raw: bytes | None
    ) -> tuple[int, ...] | None:
        """Card and CDM rules (307, 308, 774–777, 784, 790); returns the CDM version."""
        v = seen
        msg = self.msg
        sug = self.sug
        cdm = _version_cached(cdm_raw) if cdm_raw is not None else None
        if card is not None:
            vknr = v.get(b"4104")
            ok_vknr = vknr is not None and len(vknr) == 5 and vknr.isdigit()
            serial = int(vknr[2:5]) if vknr is not None and ok_vknr else None
            if b"3119" in seen and cdm_raw is None:
                msg("307", line, b"3006")
            if cdm_raw is not None and b"4133" not in seen:
                msg("775", line, b"4133")
            if serial is not None:
                if serial < 800 and b"3119" not in seen:
                    msg("776a", line, b"3119")
                elif serial >= 800 and b"3119" not in seen and b"3105" not in seen:
                    msg("776b", line, b"3119")
                if cdm_raw is None and serial < 800:
                    msg("790", line, b"4104")
            if sug not in (b"21", b"27", b"28") and b"4134" not in seen:
                msg("777", line, b"4134")
        if cdm is not None:
            if cdm > _CDM_520:
                msg("308", line, b"3006", f"Gefunden: „{_s(cdm_raw or b'')}“.")
            if cdm >= _CDM_520 and b"3116" not in seen:
                msg("774", line, b"3116")
            # applied with a card read only: the KBV test file has SVA cases (no card) without
            # 3114 that the XPM accepts
            if card is not None and b"3114" not in seen and b"3124" not in seen:
                msg("784", line, b"3114")
        return cdm

    def card_rules(self, sa: bytes, seen: dict[bytes, bytes], line: int) -> None:
        """End-of-case rules of the ADT rule table on card data, dates and referrals."""
        v = seen
        msg = self.msg
        sug = self.sug
        card = v.get(b"4109")
        cdm_raw = v.get(b"3006")
        cdm: tuple[int, ...] | None
        if cdm_raw == b"5.2.0" and b"3116" in seen and (card is None or seen.keys() >= _CARD_OK):
            cdm = _CDM_520  # the common eGK case: every card rule is met
        elif card is not None or cdm_raw is not None:
            cdm = self.card_detail(seen, line, card, cdm_raw)
        else:
            cdm = None
        if v.get(b"4104") == b"74799":
            msg("212", line, b"4104")
        first = self.first_ltag
        begin = v.get(b"4133")
        if begin is not None and first and first < begin:
            msg("782", line, b"5000", f"Leistungstag {_s(first)}, Beginn {_s(begin)}.")
        end = v.get(b"4110")
        if end is not None and self.last_ltag > end:
            msg("315", line, b"5000", f"Leistungstag {_s(self.last_ltag)}, Ende {_s(end)}.")
        q_case, q_adt = self.case_q, self.adt_q
        if q_case != q_adt and q_case and q_adt:
            if q_case > q_adt:
                msg("KVDT-RQL1", line, b"4101")
            elif (q_adt // 10 - q_case // 10) * 4 + (q_adt % 10 - q_case % 10) > 8:
                msg("KVDT-RQL3", line, b"4101")
        if self.postcodes is not None and card is None:
            self.postcode_rules(seen, line)
        vknrs = self.vknrs
        if vknrs is not None:
            vknr = seen.get(b"4104")
            if vknr is not None and len(vknr) == 5 and vknr.isdigit() and vknr not in vknrs:
                msg("201", line, b"4104", f"VKNR „{_s(vknr)}“.")
        if (b"3107" in seen) != (b"3113" in seen):
            msg("485", line, b"3107" if b"3107" not in seen else b"3113")
        if sa == b"0102":
            sug = self.sug
            if sug == b"21" and b"4205" not in seen:
                msg("744", line, b"4205")
            elif sug == b"27" and b"4205" not in seen:
                msg("755", line, b"4205")
        if not _RARE_CASE_FIELDS.isdisjoint(seen):
            self.rare_case_rules(sa, seen, line, card, cdm_raw, cdm)
        else:
            if self.op_dates:
                self.op_rules(line)
            if v.get(b"4131", b"00") != b"00" or v.get(b"4106", b"00") not in (b"00", b"09"):
                self.person_group_rules(seen, line, card)

    def rare_case_rules(
        self,
        sa: bytes,
        seen: dict[bytes, bytes],
        line: int,
        card: bytes | None,
        cdm_raw: bytes | None,
        cdm: tuple[int, ...] | None,
    ) -> None:
        """Rules on fields most cases do not carry (only run when one of them is there)."""
        v = seen
        msg = self.msg
        sug = self.sug
        first, last = self.first_ltag, self.last_ltag
        error_code = v.get(b"3012")
        if error_code is not None and cdm_raw is not None:
            if cdm == _CDM_520 and error_code == b"99999" and self.applies("309"):
                msg("309", line, b"3012")
            elif cdm != _CDM_520 and error_code != b"99999" and self.applies("310"):
                msg("310", line, b"3012")
        stamp = v.get(b"3010")
        if stamp is not None:
            if card is None:
                msg("876", line, b"4109")
            q = self.qrange
            if q is not None and not q[0] <= stamp[:8] <= q[1]:
                msg("864", line, b"3010")
            if stamp[:8] > self.today:
                msg("867", line, b"3010")
        if b"4112" in seen and (card is not None or stamp is not None or cdm_raw is not None):
            msg("895", line, b"4112")
        ordered = v.get(b"4214")
        if ordered is not None and first:
            if first < ordered and self.applies("899"):
                msg("899", line, b"4214", f"FK 4214: „{_s(ordered)}“, FK 5000: „{_s(first)}“.")
            elif _days(ordered, first) > 60 and self.applies("900"):
                msg("900", line, b"4214", f"FK 4214: „{_s(ordered)}“, FK 5000: „{_s(first)}“.")
        booked = v.get(b"4115")
        if booked is not None:
            if first and _days(booked, first) > 60:
                msg("886", line, b"4115", f"FK 4115: „{_s(booked)}“.")
            if booked > self.today:
                msg("887", line, b"4115", f"FK 4115: „{_s(booked)}“.")
        contact = v.get(b"4103")
        if contact == b"3":
            if sa != b"0102":
                msg("870", line, b"4103")
            if booked is None:
                msg("877", line, b"4115")
        if b"4218" in seen and b"4242" not in seen:
            msg("841", line, b"4242")
        self.op_rules(line)
        self.person_group_rules(seen, line, card)
        period = v.get(b"4125")
        if (
            period is not None
            and first
            and len(period) == 16
            and (first < period[:8] or last > period[8:])
        ):
            msg("363", line, b"5000", f"Gültigkeitszeitraum „{_s(period)}“.")
        if period is not None and len(period) == 16:
            for op in self.op_dates:
                if not period[:8] <= op <= period[8:]:
                    msg("364", line, b"5034", f"OP-Datum „{_s(op)}“, Zeitraum „{_s(period)}“.")
        if b"4235" in seen and not (b"4252" in seen and b"4253" in seen):
            msg("897", line, b"4252")
        if (b"4252" in seen) != (b"4253" in seen):
            msg("850", line, b"4252")
        if (b"4255" in seen) != (b"4256" in seen):
            msg("851", line, b"4255")
        if b"4255" in seen and b"4252" not in seen:
            msg("852", line, b"4252")
        if sa != b"0102":
            return
        initiator = v.get(b"4217")
        if initiator is not None and initiator == v.get(b"4218"):
            msg("319", line, b"4217")
        if (b"4217" in seen or b"4225" in seen) and (
            sug != b"27" or (b"4217" in seen and b"4225" in seen)
        ):
            msg("431", line, b"4217")
        if b"4225" in seen and b"4241" not in seen and b"4248" not in seen:
            msg("844", line, b"4225")
        if b"4226" in seen:  # R845
            if sug == b"28":
                bad_referrer = b"4242" not in seen or b"4249" in seen
            else:
                bad_referrer = b"4242" not in seen and b"4249" not in seen
            if bad_referrer:
                msg("845", line, b"4226")
        if b"4229" in seen and sug not in (b"27", b"28"):
            msg("432", line, b"4229")
        if b"4209" in seen and sug != b"28":
            msg("756", line, b"4209")
        if sug == b"28" and v.get(b"4221", b"1") not in (b"1", b"2", b"4"):
            msg("754", line, b"4221")

    def person_group_rules(self, seen: dict[bytes, bytes], line: int, card: bytes | None) -> None:
        """Besondere Personengruppe (4131) against the KTAB (4106): R778–R780, R818, R827."""
        v = seen
        msg = self.msg
        group, ktab = v.get(b"4131"), v.get(b"4106")
        if group in (b"07", b"08") and ktab not in (b"01", b"09"):
            msg("778", line, b"4106")
        elif group == b"06" and ktab not in (b"02", b"09"):
            msg("779", line, b"4106")
        elif group == b"04" and ktab not in (b"00", b"09"):
            msg("780", line, b"4106")
        elif group == b"09" and ktab not in (b"00", b"09"):
            msg("818", line, b"4106")
        if card is not None and group in (None, b"00") and ktab not in (b"00", b"09", None):
            msg("827", line, b"4106")

    def case_rules(self, sa: bytes, seen: dict[bytes, bytes], line: int) -> None:
        """Rules that depend on the Scheinuntergruppe (4239) of the finished case."""
        sug = self.sug
        if sa == b"0102":
            referrer = [fk for fk in (b"4218", b"4219", b"4226") if fk in seen]
            if len(referrer) != 1:
                found = ", ".join(fk.decode() for fk in referrer) or "keines"
                self.msg("328", line, b"4218", f"Vorhanden: {found}.")
            if sug is not None:
                special = sug in (b"27", b"28")
                if not special and b"4220" not in seen:
                    self.msg("320", line, b"4220")
                if special != (b"4221" in seen):
                    self.msg("404", line, b"4221")
                if special and b"4102" not in seen:
                    self.msg("405", line, b"4102")
        elif sa == b"0103" and sug == b"30" and b"4233" not in seen:
            self.msg("354", line, b"4233")
        elif (
            sa == b"0103"
            and sug == b"31"
            and (b"4218" not in seen or not seen.keys() & {b"4205", b"4207", b"4208"})
        ):
            self.msg("746", line, b"4218")

    def close_service(self) -> None:
        if self.svc_open:
            self.svc_open = False
            if self.ops_pending:
                self.flush_ops()
            if self.adt_case:
                code = self.svc_code
                if self.ebm is not None:
                    quiet = self.ebm_quiet.get(code)
                    if quiet is None or not quiet[0] <= self.last_ltag <= quiet[1]:
                        self.ebm_rules()
                if self.md_rv is not None:
                    mdrules.rv_certificate(self, self.md, code, self.svc_line)  # type: ignore[arg-type]  # md_rv is set with md
                if self.svc_track is not None or code[:5] in _LAB_BY_GNR:
                    self.lab_rules()
                if self.svc_fields_line == self.svc_line and not _MATERIAL.isdisjoint(
                    self.svc_fields
                ):
                    self.material_rules()
            if not self.needs_place:
                if self.sa in _FEHL_SATZARTEN:  # 0103, sad1-3: 5098, 5099 per GNR (KVDT-FEHL)
                    if not self.svc_bsnr:
                        self.msg("KVDT-FEHL", self.svc_line, b"5098", "FK 5098 fehlt zur GNR.")
                    if not self.svc_lanr:
                        self.msg("KVDT-FEHL", self.svc_line, b"5099", "FK 5099 fehlt zur GNR.")
                return
            if not self.svc_bsnr:
                self.msg("859", self.svc_line, b"5098")
            if not self.svc_lanr:
                self.msg("837", self.svc_line, b"5099")

    def again(self, fk: bytes, val: bytes, ln: int) -> None:
        """Place (5098/5102) or doctor (5099/5101) of the open GNR when one was given already,
        and the rare 5101/5102: bit 1 = 5098/5099, bit 2 = 5102/5101 (duplicates: KVDT-FFK)."""
        bit = 1 if fk == b"5098" or fk == b"5099" else 2
        if fk == b"5098" or fk == b"5102":
            if self.svc_bsnr & bit:
                self.twice(fk, val, ln)
            self.svc_bsnr |= bit
        else:
            if self.svc_lanr & bit:
                self.twice(fk, val, ln)
            self.svc_lanr |= bit

    def twice(self, fk: bytes, val: bytes, ln: int) -> None:
        """A field the Satztabelle allows once per GNR appears again (XPM KVDT-FFK/FFKW)."""
        if not self.svc_open:
            return
        rule = "KVDT-FFK" if fk in (b"5098", b"5099", b"5101", b"5102") else _ONCE_PER_GNR[fk]
        detail = f"FK {_s(fk)} „{_s(val)}“ ein weiteres Mal zur GNR „{_s(self.svc_code)}“."
        self.msg(rule, ln, fk, detail)

    def diag_md(self, fk: bytes, val: bytes, ln: int) -> None:
        """SDICD for a code outside `diag_quiet`: R728 (ADT), primary code and the per-code
        rules of mdrules (R490/R492, age and sex at the end of the case)."""
        icd = self.icd
        if icd is not None and self.adt_case:
            code = icd.get(val)
            if code is None or not code.billable:
                self.msg("728", ln, fk, self.value_detail(fk, val))
        md = self.md
        if md is not None:
            if val in md.primary_codes:
                md.primary = True
            elif val in md.flagged:
                mdrules.diag(self, md, fk, val, ln)

    def goae_gnr(self, fk: bytes, val: bytes, ln: int) -> None:
        """R496: with Gebührenordnung 3 (4121) the GNR follows format rule 035."""
        if _GOAE_RE.match(val) is None:
            self.msg("496", ln, fk, self.value_detail(fk, val))

    def material_rules(self) -> None:
        """Hersteller/Lieferant (5074) and Artikel-/Modellnummer (5075) of Sachkosten: before
        1/2020 an ASV GNR with Sachkosten should have both (R711a, not for the Pseudo-GNR
        88500-88699); from 1/2020 they are allowed for ASV GNRs only (R711b). An ASV GNR is
        one with ASV-Teamnummer (5100), Pseudo-LANR (5101) or Krankenhaus-IK (5102)."""
        fields = self.svc_fields
        asv = b"5100" in fields or self.svc_lanr & 2 or self.svc_bsnr & 2
        q = self.case_q or self.adt_q
        code = self.svc_code
        if q and q < 20201:
            if (
                asv
                and (b"5011" in fields or b"5012" in fields)
                and not (b"5074" in fields and b"5075" in fields)
                and not (code[:5].isdigit() and 88500 <= int(code[:5]) <= 88699)
            ):
                self.msg("711a", self.svc_line, b"5074", f"GNR „{_s(code)}“.")
        elif not asv and (b"5074" in fields or b"5075" in fields):
            self.msg("711b", self.svc_line, b"5074", f"GNR „{_s(code)}“.")

    def ops_rules(self, val: bytes, ln: int) -> None:
        """SDOPS: the OPS code (5035) exists and is valid (R223); with `kzseite=J` a
        Seitenlokalisation (5041) must follow it (R705)."""
        if self.ops_pending:
            self.flush_ops()
        if self.ops is None:  # only called with SDOPS loaded
            return
        code = self.ops.codes.get(val.decode(ENCODING))
        day = self.last_ltag
        if code is None or (day and not code.valid_on(day)):
            when = "" if code is None else f" (nicht gültig am {_s(day)})"
            self.msg("223", ln, b"5035", f"OP-Schlüssel „{_s(val)}“{when}.")
        elif code.side:
            self.ops_pending = val
            self.ops_pending_line = ln

    def flush_ops(self) -> None:
        self.msg("705", self.ops_pending_line, b"5035", f"OP-Schlüssel „{_s(self.ops_pending)}“.")
        self.ops_pending = b""

    def precompute_masterdata(self) -> tuple:
        """Per-line lookups of the billing quarter's master data (built once per master data
        object and quarter): the EBM index with bytes keys and dates, the GNRs and ICD codes
        on which no rule can fire (one dict/set lookup in the loop) and the ICD codes."""
        ebm_index: dict[bytes, tuple] = {}
        if self.ebm is not None:  # bytes keys and dates: no decoding per GNR
            ebm_index = {
                g.code.encode(): (
                    g.valid_from.encode() if g.valid_from else None,
                    g.valid_to.encode() if g.valid_to else None,
                    g,
                )
                for g in self.ebm.gnrs.values()
            }
        ebm_quiet = {
            gnr: (lo or b"", hi or b"99999999")
            for gnr, (lo, hi, entry) in ebm_index.items()
            if not entry.lists
        }
        md = self.md
        icd = None if md is None else md.icd
        diag_quiet = None
        if md is not None and icd is not None:
            diag_quiet = frozenset(code for code in md.primary_codes if icd[code].billable)
        return ebm_index, ebm_quiet, icd, diag_quiet

    def ebm_rules(self) -> None:
        """SDEBM, if the Gebührenordnung (4121) is not 3: the GNR exists and is valid on the
        Leistungstag (R203); the Zusatzangaben it requires are there (R701, R702, R868,
        R888-R890, R892, R901)."""
        seen = self.seen
        if seen.get(b"4121") == b"3":
            return
        gnr, day = self.svc_code, self.last_ltag  # close_service runs before a new 5000
        index = self.ebm_index
        hit = index.get(gnr) or (index.get(gnr[:5]) if len(gnr) == 6 else None)  # Zusatznummer
        if hit is None:
            self.msg("203", self.svc_line, b"5001", f"GNR „{_s(gnr)}“.")
            return
        lo, hi, entry = hit
        if day and ((lo is not None and day < lo) or (hi is not None and day > hi)):
            detail = f"GNR „{_s(gnr)}“ (nicht gültig am {_s(day)})."
            self.msg("203", self.svc_line, b"5001", detail)
            return
        if not entry.lists:
            return
        fields = self.svc_fields if self.svc_fields_line == self.svc_line else ()
        referral = self.sa == b"0102" and self.sug in (b"21", b"27", b"28")

        def present(fk: str) -> bool:
            if fk == "4214":  # case field; required only in 0102 with SUG 21/27/28 (R901)
                return not referral or b"4214" in seen
            return fk.encode() in fields

        for sequence, fks in entry.lists:
            ruled = [fk for fk in fks if fk in _ZUSATZ_RULES]
            if not ruled:
                continue
            if "5035" in fks and "5036" in fks and (present("5035") or present("5036")):
                ruled = [fk for fk in ruled if fk not in ("5035", "5036")]  # R702: either
            if sequence:
                for fk in ruled:
                    if not present(fk):
                        self.msg(
                            _ZUSATZ_RULES[fk], self.svc_line, fk, f"GNR „{_s(gnr)}“: FK {fk} fehlt."
                        )
            elif ruled and not any(present(fk) for fk in fks):
                self.msg(
                    _ZUSATZ_RULES[ruled[0]],
                    self.svc_line,
                    ruled[0],
                    f"GNR „{_s(gnr)}“: es fehlt eines der Felder {', '.join(fks)}.",
                )
        if self.md is not None and (entry.reason_ops or entry.reason_gnrs):
            mdrules.ebm_reasons(self, self.md, entry, gnr, self.svc_line)

    def pseudo_lanr_rules(self, fk: bytes, val: bytes, ln: int) -> None:
        """Pseudo-LANR (5101): in besa 0223 for current-quarter cases (R839); with SUG 28 equal
        to the referrer's Pseudo-LANR 4249 (R842)."""
        if self.adt_case and self.current_quarter_case and val not in self.besa_asv:
            self.msg("839", ln, fk, self.value_detail(fk, val))
        ref = self.seen.get(b"4249") if self.sug28 else None
        if ref is not None and ref != val:
            self.msg("842", ln, fk, f"FK 4249: „{_s(ref)}“, FK 5101: „{_s(val)}“.")

    def lab_rules(self) -> None:
        """Genetic/lab GNRs (R770, R816, R828-R830, R834, R843, R847, R848, R854) and the
        Zusatzangaben 5077/5078 (R891, R893), 5050/5005 (R894), 5042/5005 (R707) per GNR."""
        track = self.svc_track or {}
        code, line = self.svc_code, self.svc_line
        hgnc, names, kinds = track.get(b"5077", ()), track.get(b"5078", ()), track.get(b"5079", ())
        for rule, _codes, n5077, n5079, needs_diag, no5078 in _LAB_BY_GNR.get(code[:5], ()):
            if len(code) > 6:
                continue
            bad = []
            for fk, want, have in ((b"5077", n5077, len(hgnc)), (b"5079", n5079, len(kinds))):
                if want is None:
                    continue
                if (want == 0 and have) or (want == 1 and have != 1) or (want == -1 and not have):
                    word = {0: "keinmal", 1: "genau einmal", -1: "mindestens einmal"}[want]
                    bad.append(f"FK {_s(fk)} {have}× (erwartet {word})")
            if no5078 and names:
                bad.append(f"FK 5078 {len(names)}× (erwartet keinmal)")
            if bad:
                self.msg(rule, line, b"5001", f"GNR „{_s(code)}“: {', '.join(bad)}.")
            if needs_diag:
                self.lab_pending.append((rule, line, code))
        if hgnc:
            if b"999999" in hgnc and not names:
                self.msg("891", line, b"5078", f"GNR „{_s(code)}“.")
            elif b"999999" not in hgnc and names:
                self.msg("893", line, b"5078", f"GNR „{_s(code)}“.")
        factor = track.get(b"5005")
        if factor:
            implants = track.get(b"5050")
            if implants and factor[-1].isdigit() and len(implants) != int(factor[-1]):
                self.msg(
                    "894",
                    line,
                    b"5050",
                    f"GNR „{_s(code)}“: {len(implants)}× FK 5050, Multiplikator {_s(factor[-1])}.",
                )
            if b"5042" in track:
                self.msg("707", line, b"5005", f"GNR „{_s(code)}“.")

    def close_diag(self) -> None:
        if self.diag_open:
            self.diag_open = False
            if not self.diag_sich:
                if self.diag_fk == b"6001":
                    self.msg("484", self.diag_line, "6003")
                else:
                    self.msg("484a", self.diag_line, "3674")

    def close_group(self) -> None:
        bsnr = self.group_bsnr
        if bsnr is None:
            return
        self.group_bsnr = None
        line = self.group_line
        if self.ti_open_line:
            self.msg("STR-MUSS", self.ti_open_line, "0226", "Es fehlt FK 0226 zu FK 0225.")
            self.ti_open_line = 0
        gseen = self.group_seen
        for fk in F.BESA_GROUP_MUSS:
            if fk not in gseen:
                name = F.field_name(fk.decode())
                self.msg("STR-MUSS", line, fk, f"BSNR {_s(bsnr)}: es fehlt {name}.")
        if b"0224" in gseen:
            self.besa_0224.add(bsnr)
            if b"0227" not in gseen:
                self.msg("872", line, b"0227", f"BSNR {_s(bsnr)}.")
            if b"0228" not in gseen:
                self.msg("874", line, b"0228", f"BSNR {_s(bsnr)}.")
        if b"0212" not in gseen and b"0223" not in gseen:
            self.msg("836", line, b"0212", f"BSNR {_s(bsnr)}.")
        ti = self.group_ti
        counted: dict[bytes, int] = {}
        for code in ti:
            counted[code] = counted.get(code, 0) + 1
        twice = sorted((c for c, k in counted.items() if k > 1), key=int)
        missing = sorted((c for c in F.TI_CODES if c not in counted), key=int)
        if twice:  # not exactly once (858) and more than once (862): both rules are broken
            detail = f"BSNR {_s(bsnr)}: mehrfach angegeben: {', '.join(_s(c) for c in twice)}."
            self.msg("858", line, b"0225", detail)
            self.msg("862", line, b"0225", detail)
        if missing:
            self.msg(
                "858",
                line,
                b"0225",
                f"BSNR {_s(bsnr)}: es fehlt: {', '.join(_s(c) for c in missing)}.",
            )

    # ------------------------------------------------------------------ hot loop
    def slow_line(self, line: bytes, ln: int) -> tuple[bytes, bytes, bool, int] | None:
        """Full syntax and format check of one line; fills the fast-path cache.

        Returns (fk, value, usable, role) or None when the line carries no usable field.
        """
        msg = self.msg
        n = len(line)
        if _LENGTHS.get(line[:3]) != n and not self.bad_length(line, ln):
            return None
        length_ok = _LENGTHS.get(line[:3]) == n
        fk = line[3:7]
        spec = _SPECS.get(fk)
        if spec is None:
            self.unknown_field(fk, ln)
            return None
        if n == 7:
            self.syntax_errors += 1
            msg("SYN-LEER", ln, fk)
            return None
        fk = _FK_OBJECTS[fk]
        val = line[7:]
        lo, hi, typ, values, special, role = spec
        m = n - 7
        if (m > hi or m < lo) and typ != F.SPECIAL:  # special formats carry their own rule
            unit = "Stellen" if typ == F.NUM else "Zeichen"
            # XPM: a date must have 8 (KVDT-DATLEN), a date and time 14 (KVDT-TIMLEN) characters
            rule = "KVDT-DATLEN" if typ == F.DATE else "KVDT-TIMLEN" if fk == b"3010" else "FMT-LEN"
            msg(rule, ln, fk, f"{F.field_name(fk.decode())}: {m} {unit}, zulässig {lo}–{hi}.")
            return fk, val, False, role
        if length_ok and len(_FAST) < _FAST_LIMIT:
            fast_values = values
            if typ == F.ALNUM:
                fast_typ = _T_ALNUM if values is None else _T_VALUES
            elif typ == F.NUM:
                fast_typ = _T_NUM if values is None else _T_VALUES
            elif typ == F.DATE:
                fast_typ = _T_DATE
            else:
                fast_typ = _T_SPECIAL
                fast_values = _GOODS[special]  # the fast path looks the value up here
            _FAST[line[:7]] = (n, fast_typ, fast_values, special, role, fk, fk in _LINE_FIELDS)
        if typ == F.NUM and not val.isdigit():
            msg("FMT-NUM", ln, fk, self.value_detail(fk, val))
            return fk, val, False, role
        if values is not None:
            if val not in values:
                msg(self.value_rule(fk), ln, fk, self.value_detail(fk, val))
                return fk, val, False, role
            return fk, val, True, role
        if typ == F.ALNUM:
            self.blank(fk, val, ln)
            return fk, val, True, role
        if typ == F.DATE:
            return fk, val, val in self.good_dates or self.bad_date(fk, val, ln), role
        if typ == F.NUM:
            return fk, val, True, role
        return fk, val, val in self.goods[special] or self.special(special, fk, val, ln), role

    def blank(self, fk: bytes, val: bytes, ln: int) -> None:
        if not val.strip(b" "):
            self.syntax_errors += 1
            self.msg("SYN-LEER", ln, fk, F.field_name(fk.decode()) + ": nur Leerzeichen.")
        elif val[0] == 32 or val[-1] == 32:
            self.msg("SYN-BLANK", ln, fk, F.field_name(fk.decode()) + ".")

    def bad_value(self, fk: bytes, val: bytes, ln: int) -> bool:
        if F.FIELDS[fk][2] == F.NUM and not val.isdigit():
            self.msg("FMT-NUM", ln, fk, self.value_detail(fk, val))
        else:
            self.msg(self.value_rule(fk), ln, fk, self.value_detail(fk, val))
        return False

    def value_rule(self, fk: bytes) -> str:
        if fk == b"4131" and self.sa == b"0109":
            return "530"  # KADT-Regeltabelle: 4131 in 0109 only 00 or 04
        return _VALUE_RULES.get(fk, "FMT-WERT")

    def bad_number(self, fk: bytes, val: bytes, ln: int) -> bool:
        self.msg("FMT-NUM", ln, fk, self.value_detail(fk, val))
        return False

    def feed(self, lines: list[bytes], first: int) -> None:
        fast_get = _FAST.get
        line_cache = self.line_cache
        line_get = line_cache.get
        seen = self.seen
        good_dates = self.good_dates
        today = self.today
        msg = self.msg
        ln = first - 1
        for ln, line in enumerate(lines, first):
            hit = line_get(line)
            if hit is not None:  # the same line passed the format check before
                fk, val, role = hit
                if not role:
                    seen[fk] = val
                    continue
                ok = True
            elif (spec := fast_get(line[:7])) is not None and spec[0] == len(line):
                _n, typ, values, special, role, fk, keep = spec
                val = line[7:]
                if typ == 0:  # _T_ALNUM: only blanks to check
                    if val[0] == 32 or val[-1] == 32:
                        self.blank(fk, val, ln)
                        keep = False
                    ok = True
                elif typ == 1:  # _T_VALUES
                    ok = val in values or self.bad_value(fk, val, ln)
                elif typ == 2:  # _T_DATE
                    ok = val in good_dates or self.bad_date(fk, val, ln)
                elif typ == 3:  # _T_NUM
                    ok = val.isdigit() or self.bad_number(fk, val, ln)
                elif val in values:  # _T_SPECIAL: `values` holds the known-good values
                    ok = True
                else:  # a special check that passes with a message does not keep the value
                    ok = self.special(special, fk, val, ln)
                    keep = keep and val in values
                if keep and ok:
                    if len(line_cache) > _LINES_LIMIT:
                        line_cache.clear()
                    line_cache[line] = (fk, val, role)
                if not role:
                    seen[fk] = val
                    continue
            else:
                self.ln = ln
                parsed = self.slow_line(line, ln)
                if parsed is None:
                    continue
                fk, val, ok, role = parsed
            if role:
                if role == R_GNR:
                    self.n_services += 1
                    if self.svc_open:
                        self.close_service()
                    if not self.has_ltag:
                        msg("STR-ZUORDNUNG", ln, fk, "FK 5001 ohne vorangehendes FK 5000.")
                    self.svc_open = True
                    self.svc_bsnr = self.svc_lanr = 0
                    self.svc_line = ln
                    self.svc_code = val
                    self.svc_track = None
                    if self.goae:
                        self.goae_gnr(fk, val, ln)
                    continue  # service fields are not needed in `seen`
                elif role == R_LBSNR:
                    if self.svc_bsnr:
                        self.again(fk, val, ln)
                    else:
                        self.svc_bsnr = 1
                    if self.stamp_case:
                        self.case_bsnrs.add(val)
                    if ok and self.current_quarter_case and val not in self.besa_bsnr_set:
                        rule = "724" if self.sug28 else _PLACE_RULES.get(self.sa or b"", "716")
                        msg(rule, ln, fk, self.value_detail(fk, val))
                    if self.sug28 and ok:
                        self.sug28_place(b"4218", "720", fk, val, ln)
                    continue
                elif role == R_LLANR:
                    if self.svc_lanr:
                        self.again(fk, val, ln)
                    else:
                        self.svc_lanr = 1
                    if (
                        ok
                        and self.current_quarter_case
                        and val not in self.besa_lanrs
                        and val != _LANR_SUBSTITUTE
                    ):
                        rule = "723" if self.sug28 else _DOCTOR_RULES.get(self.sa or b"", "715")
                        msg(rule, ln, fk, self.value_detail(fk, val))
                    if self.sug28 and ok:
                        self.sug28_place(b"4242", "721", fk, val, ln)
                    continue
                elif role == R_LTAG:
                    if self.svc_open:
                        self.close_service()
                    if not self.has_ltag:  # first Leistungstag: the case fields are read
                        self.has_ltag = True
                        if ok:
                            self.first_ltag = val
                        # Gebührenordnung 3 (4121): GNR format rule 035 (R496)
                        self.goae = self.adt_case and seen.get(b"4121") == b"3"
                    if self.kadt_case and ok:
                        self.kadt_days.append(val)
                    if ok:
                        q = self.qrange
                        if q is not None and not q[0] <= val <= q[1]:
                            msg("324", ln, fk, self.value_detail(fk, val))
                        if val > today:
                            msg("304", ln, fk, self.value_detail(fk, val))
                        birth = self.birth
                        if birth is not None and val < birth:
                            msg("313", ln, fk, self.value_detail(fk, val))
                        if val < self.last_ltag:
                            msg("STR-SORT", ln, fk, self.value_detail(fk, val))
                        self.last_ltag = val
                    continue
                elif role == R_DIAG:
                    self.n_diagnoses += 1
                    if self.svc_open:
                        self.close_service()
                    if self.diag_open:
                        self.close_diag()
                    self.diag_open = True
                    self.diag_sich = False
                    self.diag_line = ln
                    self.diag_fk = fk
                    self.diag_z017 = val == b"Z01.7"
                    if fk == b"6001" and not self.diag_z017:
                        self.diag_real = True
                    quiet = self.diag_quiet
                    if quiet is not None and ok and (self.adt_case or self.kadt_case):
                        if val in quiet:  # the common case: billable, no rule on the code
                            self.md.primary = True  # type: ignore[union-attr]  # set with md
                        else:
                            self.diag_md(fk, val, ln)
                    if self.diag_z017 and fk == b"3673":
                        msg("860", ln, fk)
                elif role == R_DIAGSICH:
                    if fk == b"3674" and (val == b"V" or val == b"A"):
                        msg("KVDT-FK3674", ln, fk, self.value_detail(fk, val))
                    if self.diag_open:
                        self.diag_sich = True
                        if self.diag_z017 and val != b"G" and fk == b"6003":
                            msg("856", ln, fk, self.value_detail(fk, val))
                    else:
                        msg("STR-ZUORDNUNG", ln, fk, f"FK {fk.decode()} ohne zugehörige Diagnose.")
                elif role == R_SATZART:
                    self.ln = ln
                    self.start_record(val, ok, ln)
                    continue  # 8000 is not part of the record's field set
                elif role >= _R_OTHER:
                    self.ln = ln
                    self.other_role(role, fk, val, ok, ln)
                elif role == R_PATNR:
                    self.pat = val
                elif role == R_BIRTH:
                    if ok:
                        self.birth = val
                elif role == R_QUARTAL:
                    if ok and self.adt_case:
                        self.qrange = self.quarter_of(val)
                        self.case_q = int(val[1:]) * 10 + val[0] - 48
                        self.current_quarter_case = (
                            self.adt_quarter is None or val == self.adt_quarter
                        )
                    elif ok and self.sa in _SADT_CASES:  # SADT rules 324, 732, 733
                        self.qrange = self.quarter_of(val)
                        self.current_quarter_case = (
                            self.adt_quarter is None or val == self.adt_quarter
                        )
                elif role == R_SUG:
                    if ok and self.adt_case:
                        self.sug = val
                        self.sug28 = val == b"28"
                        allowed, rule = F.SUG_BY_SATZART[self.sa]  # type: ignore[index]
                        if val not in allowed:
                            msg(rule, ln, fk, self.value_detail(fk, val))
                            if val not in _KNOWN_SUGS:
                                msg("KVDT-RSU", ln, fk, self.value_detail(fk, val))
                elif role == R_PSEUDO_LANR:
                    self.again(fk, val, ln)
                    if ok:
                        if val[:6] != _PSEUDO_LANR_ASV:  # ADT-Feldtabelle 5101: rule 063
                            msg("063", ln, fk, self.value_detail(fk, val))
                        self.pseudo_lanr_rules(fk, val, ln)
                elif role == R_KHIK:
                    self.again(fk, val, ln)
                elif role == R_NOTFUTURE:
                    if ok and val > today:
                        msg("304", ln, fk, self.value_detail(fk, val))
                elif role == R_AUSSTELLUNG:
                    if ok:
                        if val > today:
                            msg("304", ln, fk, self.value_detail(fk, val))
                        if self.created is not None and val > self.created:
                            msg("406", ln, fk, self.value_detail(fk, val))
                elif role == R_CREATED:
                    if ok:
                        self.created = val
                        if val > today:
                            msg("304", ln, fk, self.value_detail(fk, val))
                elif role == R_LAND:
                    self.land = val
                elif role == R_CARDREAD and ok:
                    if val > today:
                        msg("304", ln, fk, self.value_detail(fk, val))
                    q = self.qrange
                    if q is not None and not q[0] <= val <= q[1]:
                        msg("480", ln, fk, self.value_detail(fk, val))
            seen[fk] = val
        self.ln = ln

    def other_role(self, role: int, fk: bytes, val: bytes, ok: bool, ln: int) -> None:
        """Roles outside the cases (besa, rvsa, adt0) and rare case fields: a plain method."""
        if role == R_CAPTURE:
            if fk == b"0304":
                self.rv_last = val
                self.rv_analytes.append((val, ln))
            elif fk == b"0305" and (val == b"1" or val == b"2") and self.rv_last:
                self.rv_certs.add(self.rv_last)
            if fk == b"5041":
                self.ops_pending = b""
            if fk == b"0305" and val == b"2":
                self.rv_pnsd = True
            if not ok and fk == b"9132":
                self.declared_bad = True  # rule 124 reported; packages cannot be compared
            if ok:
                if fk == b"9132":
                    self.declared.add(val)
                elif fk == b"5041" and val == b"B" and self.applies("706"):
                    self.msg("706", ln, fk, self.value_detail(fk, val))
                elif (fk == b"6009" or fk == b"6011") and self.masterdata is not None:
                    mdrules.hdrg_diag(self, fk, val, ln)
            return
        if role == R_SVCFIELD:
            if not self.svc_open and (self.adt_case or self.sa in _SADT_CASES):
                self.msg("KVDT-FK5001", ln, fk, f"{F.field_name(fk.decode())}.")
            if fk == b"5100" and ok and not _asv_team_ok(val):  # ADT-Feldtabelle 5100: 059
                self.msg("059", ln, fk, self.value_detail(fk, val))
            if fk == b"5100" and self.sug28:  # R838: ASV-Teamnummer = that of the referrer
                team = self.seen.get(b"4226")
                if team is not None and team != val:
                    self.msg("838", ln, fk, f"FK 4226: „{_s(team)}“, FK 5100: „{_s(val)}“.")
            if fk in _SVC_TRACK and self.svc_open:
                if self.svc_track is None:
                    self.svc_track = {}
                self.svc_track.setdefault(fk, []).append(val)
            if self.svc_open:
                if self.svc_fields_line != self.svc_line:
                    self.svc_fields = {fk}
                    self.svc_fields_line = self.svc_line
                elif fk in self.svc_fields:
                    if fk in _ONCE_PER_GNR:  # KVDT-FFK/FFKW: "höchstens einmal zu einer GNR"
                        self.twice(fk, val, ln)
                else:
                    self.svc_fields.add(fk)
                if self.md is not None and (fk == b"5035" or fk == b"5036"):
                    mdrules.svc_value(self.md, self.svc_line, fk, val)
            if fk == b"5035" and ok and self.ops is not None and self.adt_case:
                self.ops_rules(val, ln)
            elif fk == b"5077" and self.md is not None and self.md.hgnc is not None:
                mdrules.hgnc(self, self.md, val, ln)
            if fk == b"5034" and ok and self.in_case:
                self.op_dates.append(val)
            elif fk == b"5012" and ok and val.isdigit() and int(val) >= 1_000_000:
                self.msg("710", ln, fk, f"{int(val) / 100:.2f} Euro.".replace(".", ","))
            return
        if role == R_PSYBLOCK:
            self.psy_seen = {}
            return
        if role == R_PSYGNR:
            if self.adt_case:
                done = self.psy_seen.setdefault(fk, set())
                if val in done:
                    self.msg("853", ln, fk, f"GNR „{_s(val)}“ in FK {_s(fk)} mehrfach.")
                done.add(val)
            return
        if role == R_STAMP:
            if self.stamp_case:  # a second Prüfnachweis (3010) in the case
                self.msg("KVDT-PRFNW-VK", ln, fk)
            self.stamp_case = True
            return
        if role == R_KENNZIFFER_SA:
            self.kennziffer_sa(fk, val, ln)
            return
        if role == R_ASV_TEAM:  # besa 0222 ASV-Teamnummer: rule 059 (I)
            if ok and not _asv_team_ok(val):
                self.msg("059", ln, fk, self.value_detail(fk, val))
            return
        if role == R_PSEUDO_REF:  # ADT-Feldtabelle 4248/4249: rule 064 (W)
            if ok and val[:6] != _PSEUDO_LANR_ASV:
                self.msg("064", ln, fk, self.value_detail(fk, val))
            return
        sa = self.sa
        if role == R_BSNR:
            if sa == b"besa" and fk == b"0213":  # ASV: Krankenhaus-IK instead of a BSNR (R857)
                self.close_group()
                self.group_bsnr = val
                self.group_line = ln
                self.group_lanrs = set()
                self.group_ti = []
                self.group_seen = set()
                self.besa_ik = True
                return
            if sa == b"besa":
                self.close_group()
                self.group_bsnr = val
                self.group_line = ln
                self.group_lanrs = set()
                self.group_ti = []
                self.group_seen = set()
                if val in self.besa_bsnr_set:
                    self.msg("878", ln, fk, self.value_detail(fk, val))
                else:
                    self.besa_bsnr_set.add(val)
                    self.besa_bsnrs.append(val)
                    self.report.bsnrs.append(_s(val))
            elif sa == b"rvsa" and val not in self.besa_bsnr_set:
                self.msg("750", ln, fk, self.value_detail(fk, val))
            return
        if sa == b"besa":
            if self.group_bsnr is None:
                if fk != b"0201":
                    self.msg(
                        "STR-ZUORDNUNG", ln, fk, f"FK {fk.decode()} vor der ersten (N)BSNR (0201)."
                    )
                return
            self.group_seen.add(fk)
            if role == R_LANR:
                if val in self.group_lanrs:
                    self.msg(
                        "875", ln, fk, f"{self.value_detail(fk, val)} BSNR {_s(self.group_bsnr)}."
                    )
                self.group_lanrs.add(val)
                self.besa_lanrs.add(val)
            elif role == R_TI:
                if self.ti_open_line:
                    self.msg("STR-MUSS", self.ti_open_line, "0226", "Es fehlt FK 0226 zu FK 0225.")
                self.ti_open_line = ln
                if ok:
                    self.group_ti.append(val)
            elif role == R_PSEUDO_ASV:
                self.besa_asv.add(val)
                if ok and val[:6] != _PSEUDO_LANR_ASV:  # Container-Regeltabelle: rule 063
                    self.msg("063", ln, fk, self.value_detail(fk, val))
            elif role == R_TIFLAG:
                if not self.ti_open_line:
                    self.msg("STR-ZUORDNUNG", ln, fk, "FK 0226 ohne vorangehendes FK 0225.")
                self.ti_open_line = 0
            return
        if role == R_ADTQUARTAL and ok:
            self.adt_quarter = val
            if self.quarter_of(val) is not None:
                self.adt_q = int(val[1:]) * 10 + val[0] - 48
                if self.masterdata is not None and sa == b"adt0":
                    quarter = Quarter(int(val[1:]), val[0] - 48)
                    self.postcodes = self.masterdata.postcodes(quarter)
                    self.vknrs = self.masterdata.vknrs(quarter)
                    self.loaded_kinds = self.masterdata.available(quarter)
                    self.ebm = self.masterdata.ebm(quarter)
                    self.ops = self.masterdata.ops(quarter)
                    self.md = mdrules.State.create(self.masterdata, quarter)
                    if self.md is not None and self.md.rv_keys is not None:
                        mdrules.rvsa_analytes(self, self.md)
                    self.ebm_index, self.ebm_quiet, self.icd, self.diag_quiet = (
                        self.masterdata.memo(
                            ("validator", quarter), lambda: self.precompute_masterdata()
                        )
                    )
                    self.md_rv = None if self.md is None else self.md.rv
            try:
                self.report.quarter = Quarter.parse(val.decode("ascii"))
            except ValueError:
                self.report.quarter = None
            if (
                self.expected_quarter is not None
                and val.decode("ascii") != self.expected_quarter.kvdt
            ):
                self.msg(
                    "KV-QUARTAL",
                    ln,
                    fk,
                    f"Gewählt: {self.expected_quarter}, in der Datei: {self.report.quarter}.",
                )
        elif role == R_EMPFAENGER and ok and val not in F.EMPFAENGER_SACHSEN:
            self.msg("KV-EMPFAENGER", ln, fk, self.value_detail(fk, val))

    def kennziffer_sa(self, fk: bytes, val: bytes, ln: int) -> None:
        """SADT Kennziffer SA (3005): format (R048), Stellen 2-7 a date TTMMJJ (R048a),
        first digit 0 means no billing over SADT (R709). The value is never shown: it
        carries the birth date."""
        if _KENNZIFFER_SA_RE.match(val) is None:
            self.msg("048", ln, fk, f"{len(val)} Zeichen.")
        elif not _valid_date(b"20" + val[5:7] + val[3:5] + val[1:3]):
            self.msg("048a", ln, fk)
        if val[:1] == b"0":
            self.msg("709", ln, fk)

    # ------------------------------------------------------------------ characters
    def bad_char_lines(self, block: bytes, lines: list[bytes]) -> list[tuple[int, str]]:
        """Indices of lines with forbidden bytes (fast C scan first; per line only if needed)."""
        # Only the CR LF separators may remain once all printable bytes are deleted.
        if len(block.translate(None, PRINTABLE)) == 2 * (len(lines) - 1):
            return []
        bad = []
        for i, line in enumerate(lines):
            stray = line.translate(None, PRINTABLE)
            if stray:
                kind = "SYN-CRLF" if stray.strip(b"\r\n") == b"" else "SYN-ZEICHEN"
                bad.append((i, kind))
        return bad

    # ------------------------------------------------------------------ driver
    def run(self, fobj: BinaryIO, progress: Callable[[int], None] | None) -> None:
        report = self.report
        first = True
        stats = report.stats

        def _progress(total: int) -> None:
            stats["bytes"] = total
            if progress is not None:
                try:
                    progress(total)
                except Exception as exc:
                    raise _CallbackError(exc) from exc

        for block, terminated in iter_blocks(fobj, _progress, CHUNK):
            if first:
                first = False
                self.check_start(block, terminated)
            lines = block.split(b"\r\n")
            base = self.ln + 1
            bad = self.bad_char_lines(block, lines)
            if not bad:
                self.feed(lines, base)
            else:
                done = 0
                for i, kind in bad:
                    self.feed(lines[done : i + 1], base + done)
                    self.msg(kind, base + i)
                    done = i + 1
                self.feed(lines[done:], base + done)
            if not terminated:
                self.msg("SYN-CRLF", self.ln, None, "Die letzte Zeile endet nicht mit CR LF.")
            if self.syntax_errors > 1000 and self.syntax_errors * 2 > self.ln:
                raise _Abort("ABBRUCH-SYNTAX", self.ln)
        if first:
            raise _Abort("ABBRUCH-LEER", None)
        self.end_record()
        self.sa = None
        self.package_rules()
        if self.prev_sa != b"con9":
            self.msg("STR-ENDE", self.ln, None, satzart="")
        if self.expected_quarter is not None and self.adt_quarter is None:
            self.msg(
                "KV-QUARTAL", None, "9204", "Die Datei enthält kein Abrechnungsquartal (9204)."
            )
        if self.expected_bsnr is not None and b"besa" not in self.seen_satzarten:
            self.msg("KV-BSNR", None, "0201", "Die Datei enthält keine Satzart besa.")

    def package_rules(self) -> None:
        """Declared packages (con0 9132) against those present (XPM KVDT-RDP1/RDP2)."""
        names = {b"adt0": b"1", b"kad0": b"3", b"sad0": b"6", b"hdrg0": b"7"}
        labels = {b"1": "ADT", b"3": "KADT", b"6": "SADT", b"7": "Hybrid-DRG"}
        present = {names[p] for p in self.packages}
        if self.declared_bad:
            present = self.declared = set()
        for code in sorted(present - self.declared):
            self.msg("KVDT-RDP1", None, "9132", f"Datenpaket {labels[code]}.", satzart="con0")
        for code in sorted(self.declared - present):
            self.msg("KVDT-RDP2", None, "9132", f"Datenpaket {labels[code]}.", satzart="con0")
        for header, count in self.pkg_cases.items():
            if not count:
                name, records = _PACKAGE_HEADERS[header]
                self.msg(
                    "KVDT-FSATZ",
                    None,
                    "8000",
                    f"Im {name}-Datenpaket fehlt ein Satz {records}.",
                    satzart=_s(header),
                )
        if b"hdrg0" in self.seen_satzarten and self.seen_satzarten & {b"besa", b"rvsa"}:
            self.msg("KVDT-SATZBESAHDRG", None, "8000", satzart="")

    def check_start(self, block: bytes, terminated: bool) -> None:
        if not terminated or not block:
            if b"\n" in block:
                raise _Abort("ABBRUCH-CRLF", 1, "Gefunden: LF ohne CR (Unix-Zeilenende).")
            if not block:
                raise _Abort("ABBRUCH-START", 1)
            raise _Abort("ABBRUCH-CRLF", 1)
        first = block.split(b"\r\n", 1)[0]
        if first[3:] != b"8000con0":
            raise _Abort("ABBRUCH-START", 1)


def _not_checked(v: _Validator, expected: Quarter | None) -> None:
    """Rules that could not run for want of master data, and why (protocol, report)."""
    report = v.report
    quarter = report.quarter or expected
    available = v.loaded_kinds
    by_kind: dict[str, list[str]] = {}
    for rule, kind in MASTER_FILE_RULES.items():
        if kind not in available:
            by_kind.setdefault(kind, []).append(rule)
    where = f"für das Quartal {quarter}" if quarter else "(Abrechnungsquartal unbekannt)"
    reasons = []
    for kind, rules in sorted(by_kind.items(), key=lambda item: MASTER_FILES[item[0]]):
        reason = (
            f"Stammdatei {MASTER_FILES[kind]} {where} nicht eingespielt: "
            f"Regel{'n' if len(rules) > 1 else ''} {', '.join(sorted(rules))}."
        )
        reasons.append(reason)
    if MASTER_DATA_RULES:
        reasons.append(
            "Noch nicht umgesetzt (brauchen weitere KBV-Stammdateien): Regeln "
            + ", ".join(sorted(MASTER_DATA_RULES))
            + "."
        )
    report.not_checked_reasons = reasons
    report.not_checked = sorted(
        set(MASTER_DATA_RULES) | {r for rules in by_kind.values() for r in rules}
    )


def validate_file(
    path_or_binary_fileobj: str | os.PathLike | BinaryIO,
    *,
    expected_quarter: Quarter | None = None,
    expected_bsnr: str | None = None,
    today: dt.date | None = None,
    progress: Callable[[int], None] | None = None,
    masterdata: MasterData | None = None,
) -> ValidationReport:
    """Check a KVDT file and return the report (status 0 OK, 1 warnings, 2 faulty, 3 aborted).

    Accepts a path or a binary file object; never raises for bad content (abort = status 3).
    `progress` is called with the number of bytes read so far.
    """
    v = _Validator(
        expected_quarter=expected_quarter,
        expected_bsnr=expected_bsnr,
        today=today or dt.date.today(),
    )
    v.masterdata = masterdata
    report = v.report
    aborted = False
    try:
        with open_binary(path_or_binary_fileobj) as fobj:
            v.run(fobj, progress)
        if isinstance(path_or_binary_fileobj, (str, os.PathLike)):
            name = os.path.basename(os.fspath(path_or_binary_fileobj))
            if b"hdrg0" in v.seen_satzarten and not name.upper().startswith("Z30"):
                v.msg("KVDT-FILEHDRG", None, None, f"Dateiname „{name}“.", satzart="")
    except _CallbackError as exc:
        raise exc.original from None
    except _Abort as exc:
        aborted = True
        v.sa = None
        v.in_case = False
        v.msg(exc.rule, exc.line, None, exc.detail, satzart="", first=True)
    except OSError as exc:
        aborted = True
        v.sa = None
        v.in_case = False
        v.msg("ABBRUCH-LESEN", None, None, f"({exc.__class__.__name__})", satzart="", first=True)
    except Exception as exc:  # never crash on content; report an internal abort instead
        aborted = True
        v.sa = None
        v.in_case = False
        v.msg(
            "ABBRUCH-INTERN",
            v.ln or None,
            None,
            f"({exc.__class__.__name__})",
            satzart="",
            first=True,
        )
    # Protocol order: the abort reason first, then by line; file-level messages last.
    report.messages.sort(
        key=lambda m: (not m.rule.startswith("ABBRUCH"), m.line is None, m.line or 0)
    )
    _not_checked(v, expected_quarter)
    report.stats["lines"] = v.ln
    report.stats["services"] = v.n_services
    report.stats["diagnoses"] = v.n_diagnoses
    if v.dropped:
        report.messages.append(
            Message(
                INFO,
                "KV-MELDUNGEN",
                f"{v.dropped} weitere Meldungen wurden nicht einzeln aufgeführt.",
            )
        )
    if aborted:
        report.status = STATUS_ABORTED
    elif report.counts[FEHLER]:
        report.status = STATUS_FAULTY
    elif report.counts[WARNUNG]:
        report.status = STATUS_WARNINGS
    else:
        report.status = STATUS_OK
    return report

# KBV Datensatzbeschreibung KVDT (ADT/KADT/HDRG-Regeltabelle): rules on the KBV master files
# ICD-10-GM (SDICD), Kostenträger (SDKT), EBM (SDEBM) and the HGNC key table; severities as in
# MeldungenKVDT.xml.
"""Master-data rules of the KVDT check. No Django.

The validator calls these hooks only when the master file is loaded for the billing quarter
(`State` exists); everything looked up per line is precomputed in `State.create`.

Decisions where the rule text is silent (see docs/kvdt.md, "KBV-Stammdateien"):
- ages (R489/R761/R493) are whole years, or days for limits given in days, inclusive at both
  limits; the maximum age is taken at the start, the minimum age at the end of the case's
  quarter (HDRG: Datum Beginn 5028 / Ende 5029 der Leistung). Birth dates with 00 for day or
  month are not checked;
- a Diagnosenausnahmetatbestand (6008/3677) anywhere in the case counts for R491/R817;
- R729/R735: only codes found in the SDICD count as primary (no `notationskennzeichen`, or "+");
- R763: the KV of a BSNR is derived from its first two digits (Bezirksstelle -> KV as in the
  value list of rule 017);
- R703/R704: a value matches when it equals the master value; an OPS value also matches the
  category it starts with (5-530 covers 5-530.31); a Zusatznummer (nnnnnA) in 5036 matches
  its five-digit GNR.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kvportal.core.quarters import Quarter

from .masterdata import RV_OID, Gnr, IcdCode, Kostentraeger, MasterData

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .validator import _Validator

#: Rule numbers per record kind: (age m, rare, sex m, empty, age k, sex k, primary code).
_ADT = {"age_m": "489", "rare": "490", "sex_m": "491", "empty": "492"}
_ADT |= {"age_k": "761", "sex_k": "817", "primary": "729"}
_HDRG = {"age_m": "493", "rare": "494", "empty": "498", "billable": "499"}
_HDRG |= {"primary": "735", "sex_k": "737"}

#: Bezirksstelle (first two digits of a BSNR) -> KV, after the value list of rule 017.
_KV_OF: dict[bytes, bytes] = {}
for _kv, _members in (
    ("17", range(6, 18)),
    ("20", range(18, 21)),
    ("38", (21, 24, 25, 27, 28, 31, 37, 38)),
    ("46", range(39, 47)),
    ("51", range(47, 52)),
    ("52", range(52, 63)),
    ("71", range(63, 72)),
    ("83", (79, 80, 81, 83)),
    ("88", range(85, 89)),
    ("93", range(89, 94)),
    ("98", range(94, 99)),
):
    for _m in _members:
        _KV_OF[b"%02d" % _m] = _kv.encode()
for _kv in ("01", "02", "03", "72", "73", "74", "78"):
    _KV_OF[_kv.encode()] = _kv.encode()


@dataclass(slots=True)
class State:
    """Master data of the billing quarter, precomputed for the per-line hooks, and the case
    state the case-end rules need."""

    quarter: Quarter
    icd: dict[bytes, IcdCode] | None = None  # SDICD of the year (all codes)
    #: codes a per-diagnosis rule looks at (`diag`); every other known code is just primary
    flagged: frozenset[bytes] = frozenset()
    primary_codes: frozenset[bytes] = frozenset()  # known, no flag, no notation: primary
    kts: dict[bytes, Kostentraeger] | None = None  # SDKT entries valid in the quarter, by VKNR
    kt_known: frozenset[bytes] = frozenset()  # every VKNR of the SDKT file (KVDT-RQL2)
    #: valid VKNRs on which only R202 can fire (no fee schedule, excluded KV or group 75)
    kt_plain: frozenset[bytes] = frozenset()
    iks_ok: frozenset[bytes] = frozenset()  # `iks`, or nothing when R202 cannot run
    iks: frozenset[bytes] | None = None  # SDKT IKs valid in the quarter (R202)
    ebm: bool = False  # SDEBM loaded (R703/R704)
    hgnc: frozenset[bytes] | None = None  # HGNC gene symbols (R222)
    sdav: frozenset[bytes] | None = None  # BSNR/NBSNR of the Arztverzeichnis (KVDT-RAV)
    rv: dict[bytes, frozenset[bytes]] | None = None  # S_NVV_RV_Zertifikat: GNR -> analytes
    rv_keys: frozenset[bytes] | None = None  # S_NVV_RV_Zertifikat: all key/@V (R211)
    # case state
    diags: list[tuple[IcdCode, bytes, int]] = field(default_factory=list)
    primary: bool = False
    secondary: tuple[bytes, int] | None = None
    svc_line: int = 0
    svc_values: list[tuple[bytes, bytes]] = field(default_factory=list)
    #: Hybrid-DRG: the states of other quarters already built (shared by all of them)
    others: dict[Quarter, State | None] = field(default_factory=dict)

    @classmethod
    def create(cls, data: MasterData, quarter: Quarter) -> State | None:
        """A fresh case state on the quarter's tables; the tables are built once per master
        data object and quarter (`MasterData.memo`) and only read afterwards."""
        tables = data.memo(("mdrules.State", quarter), lambda: cls._tables(data, quarter))
        return None if tables is None else cls(quarter, **tables)

    @classmethod
    def _tables(cls, data: MasterData, quarter: Quarter) -> dict | None:
        codes = data.icd_codes(quarter)
        kt = data.kt_file(quarter)
        state = cls(quarter)
        if codes is not None:
            state.icd = {k.encode(): c for k, c in codes.items()}
            state.flagged = frozenset(k for k, c in state.icd.items() if c.checked)
            state.primary_codes = frozenset(state.icd.keys() - state.flagged)
        if kt is not None:
            start, end = quarter.start, quarter.end  # Kostentraeger.valid_in, computed once
            valid = [
                e
                for e in kt.entries
                if (e.valid_from is None or e.valid_from <= end)
                and (e.valid_to is None or e.valid_to >= start)
            ]
            state.kts = {e.vknr.encode(): e for e in valid}
            state.kt_known = frozenset(e.vknr.encode() for e in kt.entries)
            state.kt_plain = frozenset(
                k
                for k, e in state.kts.items()
                if e.fee_schedule is None and not e.excluded_kvs and e.group != "75"
            )
            state.iks = frozenset(ik.encode() for e in valid for ik in e.iks)
            state.iks_ok = state.iks
        state.ebm = data.ebm(quarter) is not None
        state.hgnc = data.hgnc_symbols(quarter)
        av = data.av_file(quarter)
        state.sdav = None if av is None else av.bsnrs
        state.rv = data.rv_gops(quarter)
        table = data.keytab(RV_OID, quarter)
        state.rv_keys = None if table is None else frozenset(k.encode() for k in table.keys)
        if (
            state.icd is None
            and state.kts is None
            and not state.ebm
            and state.hgnc is None
            and state.sdav is None
            and state.rv is None
        ):
            return None
        return {
            name: getattr(state, name)
            for name in (
                "icd flagged primary_codes kts kt_known kt_plain iks iks_ok ebm hgnc sdav rv "
                "rv_keys"
            ).split()
        }

    def reset_case(self) -> None:
        self.diags.clear()
        self.primary = False
        self.secondary = None


def _s(value: bytes) -> str:
    return value.decode("iso-8859-15", "replace")


# ---- ICD-10-GM (SDICD)


def diag(v: _Validator, md: State, fk: bytes, val: bytes, ln: int, hdrg: bool = False) -> None:
    """One ICD code (6001/3673; HDRG 6009/6011): rules on the code itself (R490/R492; HDRG
    R494/R498/R499); codes with age or sex limits are kept for the end of the case."""
    icd = md.icd
    if icd is None:
        return
    code = icd.get(val)
    rules = _HDRG if hdrg else _ADT
    if code is None or (hdrg and not code.billable):
        if hdrg:
            v.msg("499", ln, fk, f"ICD-Code „{_s(val)}“.")
        return
    if code.notation in ("*", "!"):
        if md.secondary is None:
            md.secondary = (val, ln)
    else:
        md.primary = True
    if not code.checked:
        return
    if code.rare:
        v.msg(rules["rare"], ln, fk, f"ICD-Code „{_s(val)}“.")
    if code.empty:
        v.msg(rules["empty"], ln, fk, f"ICD-Code „{_s(val)}“.")
    if code.age_low or code.age_high or code.sex:
        md.diags.append((code, fk, ln))


def _date(value: bytes | None) -> dt.date | None:
    if value is None or len(value) != 8 or not value.isdigit():
        return None
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def _age(birth: dt.date, on: dt.date, unit: str) -> int:
    if unit == "T":
        return (on - birth).days
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _limit(text: str | None) -> tuple[int, str] | None:
    return None if text is None else (int(text[:-1]), text[-1])


def _describe(code: IcdCode) -> str:
    parts = []
    unit = {"T": "Tage", "J": "Jahre"}
    low, high = _limit(code.age_low), _limit(code.age_high)
    if low is not None:
        parts.append(f"ab {low[0]} {unit[low[1]]}")
    if high is not None:
        parts.append(f"bis {high[0]} {unit[high[1]]}")
    return " ".join(parts)


def _age_ok(code: IcdCode, birth: dt.date, first: dt.date, last: dt.date) -> bool:
    """Minimum age at `last`, maximum age at `first` (rule text: Höchstalter zu Beginn,
    Mindestalter zum Ende)."""
    low, high = _limit(code.age_low), _limit(code.age_high)
    if low is not None and _age(birth, last, low[1]) < low[0]:
        return False
    return not (high is not None and _age(birth, first, high[1]) > high[0])


def case_end(v: _Validator, md: State, sa: bytes, seen: dict[bytes, bytes], line: int) -> None:
    """End of a case (0101-0104, 0109, hdrg1): ICD case rules and Kostenträger rules."""
    if md.secondary is not None or md.diags:  # else no ICD case rule can fire
        if md.icd is not None:
            _icd_case(v, md, sa, seen, line)
        md.reset_case()
    md.primary = False
    if md.kts is not None:
        if sa == b"hdrg1":
            _bundeswehr(v, md.kts, seen, line)
        elif seen.get(b"4111") not in md.iks_ok or (
            sa != b"0109" and seen.get(b"4104") not in md.kt_plain
        ):  # the common case (known IK, nothing to check on the VKNR) costs two lookups
            _kt_case(v, md, sa, seen, line)
    if md.sdav is not None and sa == b"0102":
        _sdav_case(v, md.sdav, seen, line)


#: BSNR prefixes that are no practice of the Arztverzeichnis: 35 Krankenhaus (Rule 061),
#: 74 KBV/SAPV (Rule 062), 77 (777777700, Rule 821), 99 KBV pseudo number.
_NOT_IN_SDAV = (b"35", b"74", b"77", b"99")


def _sdav_case(v: _Validator, bsnrs: frozenset[bytes], seen: dict[bytes, bytes], line: int) -> None:
    """KVDT-RAV (XPM, Warnung): the referrer's (N)BSNR (4218) of a Überweisung is in the
    Arztverzeichnis (SDAV, "Existenzprüfung der Betriebsstätten- und Überweiserarztnummern")."""
    bsnr = seen.get(b"4218")
    if (
        bsnr is not None
        and len(bsnr) == 9
        and bsnr.isdigit()
        and bsnr[:2] not in _NOT_IN_SDAV
        and bsnr not in bsnrs
    ):
        v.msg("KVDT-RAV", line, b"4218", f"(N)BSNR „{_s(bsnr)}“.")


def _icd_case(v: _Validator, md: State, sa: bytes, seen: dict[bytes, bytes], line: int) -> None:
    hdrg = sa == b"hdrg1"
    rules = _HDRG if hdrg else _ADT
    if md.secondary is not None and not md.primary:
        val, ln = md.secondary
        v.msg(rules["primary"], ln, b"6009" if hdrg else b"6001", f"ICD-Code „{_s(val)}“.")
    if not md.diags:
        return
    sex = seen.get(b"3110")
    exception = b"6008" in seen or b"3677" in seen
    birth = _date(v.birth)
    if hdrg:
        first, last = _date(seen.get(b"5028")), _date(seen.get(b"5029"))
        last = last or first
    else:
        q = md.quarter
        if v.case_q:
            q = Quarter(v.case_q // 10, v.case_q % 10)
        first, last = q.start, q.end
    for code, fk, ln in md.diags:
        value = f"ICD-Code „{code.code}“"
        rule = rules.get({"m": "age_m", "k": "age_k"}.get(code.age_error or "", ""))
        if (
            rule is not None
            and (code.age_low or code.age_high)
            and birth is not None
            and first is not None
            and last is not None
            and not _age_ok(code, birth, first, last)
        ):
            v.msg(rule, ln, fk, f"{value} gilt für Patienten {_describe(code)}.")
        if code.sex is None or sex is None:
            continue
        wrong = sex != code.sex.upper().encode()
        who = "männliche" if code.sex == "m" else "weibliche"
        if code.sex_error == "m" and "sex_m" in rules and wrong and not exception:
            v.msg(rules["sex_m"], ln, fk, f"{value} gilt nur für {who} Patienten.")
        elif code.sex_error == "k" and wrong:
            exempt = (b"X", b"D") if hdrg else (b"U", b"X", b"D")
            if sex not in exempt and (hdrg or not exception):
                v.msg(rules["sex_k"], ln, fk, f"{value} gilt überwiegend für {who} Patienten.")


# ---- Kostenträger (SDKT)


def _kt_case(v: _Validator, md: State, sa: bytes, seen: dict[bytes, bytes], line: int) -> None:
    """R202 (IK 4111 in the SDKT, Info), R210 (Gebührenordnung 4121 = that of the Kostenträger,
    current-quarter cases with 4122 < 80), R763 (the practice's KV not excluded)."""
    ik = seen.get(b"4111")
    iks = md.iks
    if ik is not None and iks is not None and ik not in iks and len(ik) == 9 and ik.isdigit():
        v.msg("202", line, b"4111", f"IK „{_s(ik)}“.")
    if sa == b"0109" or md.kts is None:
        return
    vknr = seen.get(b"4104")
    if vknr in md.kt_plain:  # valid, no Gebührenordnung, no excluded KV, not KT-Gruppe 75
        return
    _bundeswehr(v, md.kts, seen, line)
    entry = md.kts.get(vknr) if vknr is not None else None
    if entry is None:
        if vknr is not None and vknr in md.kt_known:
            # KVDT-RQL2 (XPM, Warnung): in the SDKT, but not valid in the billing quarter
            v.msg("KVDT-RQL2", line, b"4104", f"VKNR „{_s(vknr)}“, Quartal {md.quarter}.")
        return
    area = seen.get(b"4122")
    go = seen.get(b"4121")
    if (
        entry.fee_schedule is not None
        and go is not None
        and v.current_quarter_case
        and area is not None
        and area.isdigit()
        and int(area) < 80
        and go != entry.fee_schedule.encode()
    ):
        v.msg("210", line, b"4121", f"FK 4121 „{_s(go)}“, Kostenträger: „{entry.fee_schedule}“.")
    if entry.excluded_kvs:
        excluded = {kv.encode() for kv in entry.excluded_kvs}
        for bsnr in v.besa_bsnrs:
            kv = _KV_OF.get(bsnr[:2], bsnr[:2])
            if kv in excluded:
                v.msg("763", line, b"4104", f"KV-Bereich „{_s(kv)}“, VKNR „{_s(vknr or b'')}“.")
                break


#: R734: Personenkennziffer of the Bundeswehr, TTMMJJannnnn (birth date, letter, 5 digits).
_PKZ = re.compile(rb"(\d\d)(\d\d)(\d\d)[A-Z]\d{5}")


def _pkz_ok(value: bytes) -> bool:
    m = _PKZ.fullmatch(value)
    if m is None:
        return False
    day, month, year = (int(g) for g in m.groups())
    for century in (1900, 2000):  # TTMMJJ: either century may be meant
        try:
            dt.date(century + year, month, day)
        except ValueError:
            continue
        return True
    return False


def _bundeswehr(
    v: _Validator, kts: dict[bytes, Kostentraeger], seen: dict[bytes, bytes], line: int
) -> None:
    """R734 (ADT/HDRG-Regeltabelle, Warnung): a Kostenträger of KT-Gruppe 75 (bundesweiter
    SKT Bundeswehr, SDKT `kostentraegergruppe`) needs the Personenkennziffer in 4124."""
    vknr = seen.get(b"4104")
    entry = kts.get(vknr) if vknr is not None else None
    if entry is None or entry.group != "75":
        return
    pkz = seen.get(b"4124")
    if pkz is None or not _pkz_ok(pkz):
        found = "fehlt" if pkz is None else "hat nicht das Format TTMMJJannnnn"
        v.msg("734", line, b"4124", f"VKNR „{_s(vknr or b'')}“: FK 4124 {found}.")


# ---- Ringversuchszertifikate (S_NVV_RV_Zertifikat)


def rvsa_analytes(v: _Validator, md: State) -> None:
    """R211 (Container-Regeltabelle, XPM KVDT-FORM-R211: Warnung): each Analyt-ID (0304) of
    the rvsa record is a `key/@V` of S_NVV_RV_Zertifikat. Run once the billing quarter is
    known (adt0), for the rvsa lines read before it."""
    keys = md.rv_keys
    if keys is None:
        return
    for val, ln in v.rv_analytes:
        if val not in keys:
            v.msg("211", ln, b"0304", f"Analyt-ID „{_s(val)}“.", satzart="rvsa")


def rv_certificate(v: _Validator, md: State, gnr: bytes, svc_line: int) -> None:
    """R749: a GNR that is a `key/@gop` of S_NVV_RV_Zertifikat (key valid in the billing
    quarter) needs one of its analytes (`key/@V`) in rvsa 0304 with RV-Zertifikat 0305 = 1/2."""
    analytes = md.rv.get(gnr) if md.rv is not None else None
    if analytes and not analytes & v.rv_certs:
        names = ", ".join(sorted(_s(a) for a in analytes))
        v.msg("749", svc_line, b"5001", f"GNR „{_s(gnr)}“: Analyt-ID(s) {names}.")


# ---- HGNC key table


def hgnc(v: _Validator, md: State, val: bytes, ln: int) -> None:
    """R222: the HGNC gene symbol (5077) is a `key/@DN` of the HGNC key table; the Ersatzwert
    999999 (with a Gen-Name in 5078, R891) is always allowed."""
    symbols = md.hgnc
    if symbols is not None and val not in symbols and val != b"999999":
        v.msg("222", ln, b"5077", f"HGNC-Gensymbol „{_s(val)}“.")


# ---- EBM (SDEBM): Begründungen


def svc_value(md: State, svc_line: int, fk: bytes, val: bytes) -> None:
    """Keep 5035/5036 of the open service for R703/R704."""
    if md.svc_line != svc_line:
        md.svc_line = svc_line
        md.svc_values.clear()
    md.svc_values.append((fk, val))


def ebm_reasons(v: _Validator, md: State, entry: Gnr, gnr: bytes, svc_line: int) -> None:
    """R703: with 5035 required (R702) and an ops_liste, one 5035 should be one of its OPS;
    R704: likewise 5036 and the gnr_liste."""
    values = md.svc_values if md.svc_line == svc_line else []
    needs = {fk for _seq, fks in entry.lists for fk in fks}
    for fk, rule, allowed in (
        (b"5035", "703", entry.reason_ops),
        (b"5036", "704", entry.reason_gnrs),
    ):
        if not allowed or fk.decode() not in needs:
            continue
        given = [_s(val) for f, val in values if f == fk]
        if not given:
            continue  # missing altogether: R702
        if fk == b"5035":
            ok = any(g == a or g.startswith(a) for g in given for a in allowed)
        else:
            ok = any(g == a or (len(g) == 6 and g[:5] == a) for g in given for a in allowed)
        if not ok:
            v.msg(rule, svc_line, fk, f"GNR „{_s(gnr)}“: {', '.join(given)}.")
    md.svc_values.clear()


def hdrg_diag(v: _Validator, fk: bytes, val: bytes, ln: int) -> None:
    """An ICD code of a Hybrid-DRG case (6009/6011): the SDICD of the year of Datum Beginn der
    Leistung (5028) applies (Hybrid-DRG packages carry no billing quarter)."""
    if v.sa != b"hdrg1" or v.masterdata is None:
        return
    start = _date(v.seen.get(b"5028"))
    if start is None:
        return
    quarter = Quarter.of(start)
    md = v.md
    if md is None or md.quarter != quarter:
        if md is not None and (md.diags or md.secondary or md.primary):
            return  # a second 5028 in one case: keep the first
        others = md.others if md is not None else {}
        if quarter not in others:
            created = State.create(v.masterdata, quarter)
            if created is not None:
                created.others = others
                v.loaded_kinds = v.loaded_kinds | v.masterdata.available(quarter)
            others[quarter] = created
        md = others[quarter]
        if md is None:
            return
        v.md = md
    diag(v, md, fk, val, ln, hdrg=True)


# ---- Hybrid-DRG (SDHDRG)


def hdrg_case(v: _Validator, seen: dict[bytes, bytes], line: int) -> None:
    """R221 (HDRG-Regeltabelle, Warnung): the Hybrid-DRG (5027) of a case is in the Hybrid-DRG
    master file (SDHDRG) valid on Datum Beginn der Leistung (5028; Hybrid-DRG packages carry no
    billing quarter)."""
    data = v.masterdata
    code, start = seen.get(b"5027"), _date(seen.get(b"5028"))
    if data is None or code is None or start is None:
        return
    hdrg = data.hdrg_file(Quarter.of(start))
    if hdrg is None:
        return
    if "sdhdrg" not in v.loaded_kinds:
        v.loaded_kinds = v.loaded_kinds | {"sdhdrg"}
    if _s(code) not in hdrg.codes:
        v.msg("221", line, b"5027", f"Hybrid-DRG „{_s(code)}“.")


# ---- Rule 017 (format of the VKNR; a value list, no master file)

#: Rule 017: KV areas (nn) allowed as the first two digits of a VKNR (nnmmm).
_VKNR_AREAS = frozenset(
    b"%02d" % n
    for n in (
        *range(1, 4),
        *range(6, 22),
        24,
        25,
        27,
        28,
        31,
        *range(37, 75),
        *range(78, 82),
        83,
        *range(85, 92),
        *range(93, 97),
        98,
        99,
    )
)


def vknr_area(v: _Validator, vknr: bytes | None, line: int) -> None:
    """R017 (Fehler): the first two digits of the VKNR (4104, format nnmmm) are a KV area of
    the rule's value list (e.g. 92 and 97 are none)."""
    if vknr is not None and len(vknr) == 5 and vknr.isdigit() and vknr[:2] not in _VKNR_AREAS:
        v.msg("017", line, b"4104", f"VKNR „{_s(vknr)}“.")

"""Rules of the KVDT rule tables and XPM checks: one break and one no-break per rule.

Each case starts from the KBV's own test-practice file (valid, see test_kbv_files.py), changes
what the rule text names, and expects the rule (with the XPM catalogue's severity); the
unchanged file must not report it. Records are edited as (field id, value) lists and
written back with correct length fields, so only the named change is made.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from kvportal.kvdt import RULES, validate_file
from kvportal.members.identifiers import make_lanr

FIXTURES = Path(__file__).parent / "fixtures" / "kbv"
CHECK_DATE = dt.date(2027, 1, 15)
Record = list[list[str]]


def load(name: str) -> list[Record]:
    text = (FIXTURES / name).read_bytes().decode("iso-8859-15")
    records: list[Record] = []
    for line in text.split("\r\n")[:-1]:
        fk, val = line[3:7], line[7:]
        if fk == "8000":
            records.append([])
        records[-1].append([fk, val])
    return records


def dump(records: list[Record]) -> bytes:
    out = []
    for rec in records:
        for fk, val in rec:
            content = val.encode("iso-8859-15")
            out.append(b"%03d%s%s\r\n" % (len(content) + 9, fk.encode(), content))
    return b"".join(out)


def case(records, satzart: str, *, has=(), lacks=(), where=None) -> Record:
    for rec in records:
        fks = {fk for fk, _ in rec}
        if rec[0][1] != satzart or not set(has) <= fks or fks & set(lacks):
            continue
        if where is None or where(dict(rec)):
            return rec
    raise LookupError(satzart)


def get(rec: Record, fk: str) -> str:
    return next(v for f, v in rec if f == fk)


def put(rec: Record, fk: str, val: str, *, after: str | None = None) -> None:
    """Set the (first) field fk, or insert it after the first field `after`."""
    for item in rec:
        if item[0] == fk:
            item[1] = val
            return
    index = next(i for i, (f, _) in enumerate(rec) if f == after)
    rec.insert(index + 1, [fk, val])


def ins(rec: Record, fk: str, val: str, *, after: str) -> None:
    """Insert a field right after the first field `after` (even if fk exists)."""
    index = next(i for i, (f, _) in enumerate(rec) if f == after)
    rec.insert(index + 1, [fk, val])


def drop(rec: Record, fk: str) -> None:
    rec[:] = [item for item in rec if item[0] != fk]


def rules_of(data: bytes) -> dict[str, set[str]]:
    report = validate_file(io.BytesIO(data), today=CHECK_DATE)
    found: dict[str, set[str]] = {}
    for m in report.messages:
        found.setdefault(m.rule, set()).add(m.severity)
    return found


def card_case(r):
    return case(r, "0101", has=("4109", "3119", "3006"))


Z01 = "Z01123456699_27.10.2026_12.00.con"
Z05 = "Z05123456699_27.10.2026_12.00.con"
Z30 = "Z30123456699_27.10.2026_12.00.con"
OTHER_LANR = make_lanr("765432", "01")


def _sug28(r):
    rec = case(r, "0102", where=lambda d: d["4239"] == "27")
    put(rec, "4239", "28")
    return rec


def _m(fn: Callable[[list[Record]], None]):
    return fn


MUTATIONS: dict[str, tuple[str, Callable[[list[Record]], None]]] = {
    "307": (Z01, lambda r: drop(card_case(r), "3006")),
    "308": (Z01, lambda r: put(card_case(r), "3006", "5.3.0")),
    "309": (Z01, lambda r: put(card_case(r), "3012", "99999", after="3006")),
    "310": (
        Z01,
        lambda r: (
            put(card_case(r), "3006", "5.1.0"),
            put(card_case(r), "3012", "12345", after="3006"),
        ),
    ),
    "315": (Z01, lambda r: put(card_case(r), "4110", "20261001")),
    "782": (Z01, lambda r: put(card_case(r), "4133", "20261231")),
    "774": (Z01, lambda r: drop(card_case(r), "3116")),
    "775": (Z01, lambda r: drop(card_case(r), "4133")),
    "776a": (Z01, lambda r: drop(card_case(r), "3119")),
    "776b": (
        Z01,
        lambda r: (put(card_case(r), "4104", "37901"), drop(card_case(r), "3119")),
    ),
    "777": (Z01, lambda r: drop(card_case(r), "4134")),
    "784": (Z01, lambda r: drop(card_case(r), "3114")),
    "790": (Z01, lambda r: drop(card_case(r), "3006")),
    "841": (Z01, lambda r: drop(case(r, "0102", has=("4218",)), "4242")),
    "485": (Z01, lambda r: drop(card_case(r), "3113")),
    "850": (Z01, lambda r: drop(case(r, "0101", has=("4252",)), "4253")),
    "851": (Z01, lambda r: put(case(r, "0101", has=("4252",)), "4255", "1", after="4254")),
    "852": (
        Z01,
        lambda r: (
            put(card_case(r), "4255", "1", after="4239"),
            put(card_case(r), "4256", "35151", after="4255"),
        ),
    ),
    "897": (
        Z01,
        lambda r: (
            drop(case(r, "0101", has=("4252",)), "4253"),
            drop(case(r, "0101", has=("4235", "4234")), "4252"),
        ),
    ),
    "744": (Z01, lambda r: drop(case(r, "0102", where=lambda d: d["4239"] == "21"), "4205")),
    "755": (
        Z01,
        lambda r: (
            put(case(r, "0102", where=lambda d: d["4239"] == "21"), "4239", "27"),
            drop(case(r, "0102", where=lambda d: d["4239"] == "27"), "4205"),
        ),
    ),
    "746": (Z01, lambda r: drop(case(r, "0103", where=lambda d: d["4239"] == "31"), "4205")),
    "870": (Z01, lambda r: put(card_case(r), "4103", "3", after="4239")),
    "877": (Z01, lambda r: put(case(r, "0102", has=("4218",)), "4103", "3", after="4239")),
    "886": (
        Z01,
        lambda r: put(case(r, "0102", has=("4218",)), "4115", "20260701", after="4239"),
    ),
    "887": (
        Z01,
        lambda r: put(case(r, "0102", has=("4218",)), "4115", "20270201", after="4239"),
    ),
    "899": (Z01, lambda r: put(case(r, "0102", has=("4214",)), "4214", "20261027")),
    "900": (Z01, lambda r: put(case(r, "0102", has=("4214",)), "4214", "20260801")),
    "876": (
        Z01,
        lambda r: put(case(r, "0102", lacks=("4109",)), "3010", "20261026101010", after="3000"),
    ),
    "864": (Z01, lambda r: put(card_case(r), "3010", "20260901101010", after="3006")),
    "867": (Z01, lambda r: put(card_case(r), "3010", "20270301101010", after="3006")),
    "895": (Z01, lambda r: put(card_case(r), "4112", "1", after="4109")),
    "319": (
        Z01,
        lambda r: put(
            (rec := case(r, "0102", where=lambda d: d["4239"] == "27")),
            "4217",
            get(rec, "4218"),
            after="4205",
        ),
    ),
    "431": (
        Z01,
        lambda r: put(
            case(r, "0102", where=lambda d: d["4239"] == "21"), "4217", "951234500", after="4205"
        ),
    ),
    "432": (
        Z01,
        lambda r: put(
            case(r, "0102", where=lambda d: d["4239"] == "21"), "4229", "12345", after="4239"
        ),
    ),
    "756": (
        Z01,
        lambda r: put(
            case(r, "0102", where=lambda d: d["4239"] == "21"), "4209", "Zusatz", after="4205"
        ),
    ),
    "754": (Z01, lambda r: put(_sug28(r), "4221", "3")),
    "720": (Z01, lambda r: _sug28(r)),
    "721": (Z01, lambda r: _sug28(r)),
    "723": (Z01, lambda r: put(_sug28(r), "5099", OTHER_LANR)),
    "056": (Z01, lambda r: put(_sug28(r), "5099", OTHER_LANR[:6] + "9" + OTHER_LANR[7:])),
    "706": (Z01, lambda r: put(case(r, "0101", has=("5041",)), "5041", "B")),
    "363": (Z01, lambda r: put(case(r, "0101", has=("4125",)), "4125", "2026101520261028")),
    "778": (Z01, lambda r: put(card_case(r), "4131", "07")),
    "779": (Z01, lambda r: put(card_case(r), "4131", "06")),
    "780": (Z01, lambda r: put(case(r, "0101", where=lambda d: d["4106"] == "01"), "4131", "04")),
    "818": (Z01, lambda r: put(case(r, "0101", where=lambda d: d["4106"] == "01"), "4131", "09")),
    "827": (Z01, lambda r: put(card_case(r), "4106", "02")),
    "537": (Z01, lambda r: put(card_case(r), "3119", "T555558879")),
    "062": (Z01, lambda r: put(case(r, "0102", has=("4218",)), "4218", "741234599")),
    "857": (Z01, lambda r: drop(r[1], "0201")),
    "872": (Z01, lambda r: drop(r[1], "0227")),
    "874": (Z01, lambda r: drop(r[1], "0228")),
    "738": (
        Z01,
        lambda r: (put(r[3], "9260", "02", after="9115"), put(r[3], "9261", "03", after="9260")),
    ),
    "484": (Z01, lambda r: drop(card_case(r), "6003")),
    "484a": (Z01, lambda r: put(card_case(r), "3673", "I10.90", after="6003")),
    "KVDT-FK5001": (
        Z01,
        lambda r: ins(card_case(r), "5009", "Begründung", after="5000"),
    ),
    "KVDT-FEHL": (Z01, lambda r: drop(case(r, "0103"), "5099")),
    "KVDT-RDP1": (Z05, lambda r: r[0].remove(["9132", "3"])),
    "KVDT-RDP2": (Z01, lambda r: r[0].append(["9132", "3"])),
    "KVDT-RQL1": (Z01, lambda r: put(card_case(r), "4101", "12027")),
    "KVDT-RQL3": (Z01, lambda r: put(card_case(r), "4101", "32024")),
    "KVDT-SATZBESAHDRG": (Z30, lambda r: r.insert(1, [["8000", "besa"], ["0201", "136926300"]])),
    "212": (Z01, lambda r: put(card_case(r), "4104", "74799")),
    "710": (Z01, lambda r: put(case(r, "0101", has=("5012",)), "5012", "1000000")),
    "813": (Z01, lambda r: put(r[3], "9212", "ADT0726.01")),
    "814": (Z05, lambda r: put(case(r, "kad0"), "9212", "KADT0726.01")),
    "840": (
        Z01,
        lambda r: (put(r[3], "9102", "95"), put(r[3], "0132", "Release mit mehr als 23 Zeichen")),
    ),
    "534": (Z01, lambda r: put(card_case(r), "4131", "05")),
    "536": (Z01, lambda r: put(card_case(r), "4132", "99")),
    "316": (Z05, lambda r: put(case(r, "0109"), "4264", "20260611")),
    "317": (Z05, lambda r: put(case(r, "0109"), "4265", "20260609")),
    "318": (Z05, lambda r: put(case(r, "0109"), "4266", "20260609", after="4265")),
    "382": (
        Z05,
        lambda r: (
            put(case(r, "0109"), "4261", "3"),
            put(case(r, "0109"), "4262", "1", after="4261"),
        ),
    ),
    "383": (Z05, lambda r: put(case(r, "0109"), "4271", "1", after="4270")),
    "879": (Z05, lambda r: put(case(r, "0109"), "4276", "20260601", after="4270")),
    "880": (Z05, lambda r: put(case(r, "0109"), "4278", "20260601", after="4270")),
    "881": (
        Z05,
        lambda r: (
            put(case(r, "0109"), "4262", "1", after="4261"),
            put(case(r, "0109"), "4272", "1", after="4270"),
        ),
    ),
    "844": (
        Z01,
        lambda r: put(
            case(r, "0102", where=lambda d: d["4239"] == "27"), "4225", "001234566", after="4205"
        ),
    ),
    "845": (
        Z01,
        lambda r: (
            drop(rec := case(r, "0102", where=lambda d: d["4239"] == "21"), "4242"),
            drop(rec, "4218"),
            put(rec, "4226", "001234566", after="4205"),
        ),
    ),
    "865": (Z05, lambda r: put(case(r, "0109"), "3010", "20220801101010", after="3006")),
    "866": (Z05, lambda r: put(case(r, "0109"), "3010", "20260801101010", after="3006")),
    "023": (Z30, lambda r: put(r[2], "3103", "19610400")),
    "314": (Z30, lambda r: put(r[2], "3103", "20261201")),
    "321": (Z30, lambda r: put(r[2], "5034", "20280501")),
    "322": (Z30, lambda r: put(r[2], "5034", "20260301")),
}


@pytest.mark.parametrize("rule", sorted(MUTATIONS))
def test_rule_breaks_and_does_not_break(rule):
    name, mutate = MUTATIONS[rule]
    records = load(name)
    assert rule not in rules_of(dump(records))
    mutate(records)
    found = rules_of(dump(records))
    assert rule in found, sorted(found)
    assert found[rule] == {RULES[rule][0]}


# --------------------------------------------------------------- no false alarms


def test_sug_28_uses_warnings_723_not_errors_715():
    records = load(Z01)
    put(_sug28(records), "5099", OTHER_LANR)
    found = rules_of(dump(records))
    assert "723" in found and "715" not in found


def test_sug_28_lanr_check_digit_is_056_warning_not_050():
    records = load(Z01)
    put(_sug28(records), "5099", OTHER_LANR[:6] + "9" + OTHER_LANR[7:])
    found = rules_of(dump(records))
    assert found.get("056") == {"W"} and "050" not in found


@pytest.mark.parametrize(
    "referrer",
    ["351234567", "777777700", "741234563"],  # R061 pseudo-BSNR, R821 Ersatzwert, R062 SAPV
)
def test_special_bsnrs_the_spec_allows_are_accepted(referrer):
    records = load(Z01)
    put(case(records, "0102", has=("4218",)), "4218", referrer)
    found = rules_of(dump(records))
    assert not {"049", "062", "162"} & found.keys()


def test_asv_besa_with_hospital_ik_satisfies_r857():
    records = load(Z01)
    besa = records[1]
    besa[1] = ["0213", "260530012"]  # Krankenhaus-IK instead of the BSNR
    assert "857" not in rules_of(dump(records))


def test_quarter_dependent_rules_do_not_apply_before_their_quarter():
    """R706 (5041 "B") applies from Q1/2026, R899 from Q2/2026: a Q4/2025 file is exempt."""
    records = load(Z01)
    put(case(records, "0101", has=("5041",)), "5041", "B")
    put(case(records, "0102", has=("4214",)), "4214", "20261027")
    for rec in records:
        for item in rec:
            if item[0] in ("4101", "9204"):
                item[1] = "42025"
    found = rules_of(dump(records))
    assert "706" not in found and "899" not in found
    assert "324" in found  # the dates really are outside the changed quarter


def test_rql3_allows_eight_quarters_back():
    records = load(Z01)
    put(card_case(records), "4101", "42024")
    assert "KVDT-RQL3" not in rules_of(dump(records))


def test_kadt_and_hybrid_drg_cases_get_no_adt_rules():
    for name in (Z05, Z30):
        found = rules_of((FIXTURES / name).read_bytes())
        assert not {"486", "479", "715", "716", "837", "859", "324", "480"} & found.keys()


def test_hybrid_drg_file_name_must_start_with_z30(tmp_path):
    data = (FIXTURES / Z30).read_bytes()
    good, bad = tmp_path / Z30, tmp_path / "Z01123456699_27.10.2026_12.00.con"
    good.write_bytes(data)
    bad.write_bytes(data)
    assert "KVDT-FILEHDRG" not in validate_file(good, today=CHECK_DATE).rules()
    report = validate_file(bad, today=CHECK_DATE)
    assert {m.severity for m in report.messages if m.rule == "KVDT-FILEHDRG"} == {"W"}

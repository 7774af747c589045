"""Rules of the ADT/KADT/Hybrid-DRG rule tables and XPM checks added in issue 12, stage 3
(no master data needed): one break and one no-break per rule, from the rule text, with the
severity of the XPM catalogue (MeldungenKVDT.xml).

Each case starts from a KBV test-practice file (valid), changes exactly what the rule text
names and expects the rule; the no-break variant changes the same place so that the rule text
is satisfied and expects the rule not to be reported.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kvportal.kvdt import RULES
from tests.kvdt.test_rule_table import (
    OTHER_LANR,
    Z01,
    Z05,
    Z30,
    Record,
    _sug28,
    card_case,
    case,
    drop,
    dump,
    get,
    ins,
    load,
    put,
    rules_of,
)


def gnr_case(r) -> Record:
    """A 0101 card case; its first GNR is the one the lab rules change."""
    return card_case(r)


def set_gnr(rec: Record, code: str, *extra: tuple[str, str]) -> Record:
    """Make the first 5001 of the case `code` and put `extra` fields right after it."""
    index = next(i for i, (f, _) in enumerate(rec) if f == "5001")
    rec[index][1] = code
    for offset, (fk, val) in enumerate(extra, 1):
        rec.insert(index + offset, [fk, val])
    return rec


def only_z017(rec: Record) -> None:
    """All diagnoses (6001) of the case become Z01.7 (G), the case keeps one."""
    for item in rec:
        if item[0] == "6001":
            item[1] = "Z01.7"
        elif item[0] == "6003":
            item[1] = "G"
    rec[:] = [item for item in rec if item[0] not in ("3673", "3674")]


def kadt(r) -> Record:
    return case(r, "0109")  # Z05: 4264 20220802, 4265 20260720, one Leistungstag 20260610


def refresher(r, **fields: str) -> Record:
    rec = kadt(r)
    put(rec, "4272", "1", after="4270")
    after = "4272"
    for fk, val in fields.items():
        fk = fk.lstrip("f")
        put(rec, fk, val, after=after)
        after = fk
    return rec


Mutation = Callable[[list[Record]], object]

#: rule -> (file, break, no-break)
CASES: dict[str, tuple[str, Mutation, Mutation]] = {
    # ---- lab/genetic GNRs (ADT-Regeltabelle; GNR lists of the XPM texts)
    "770": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "11511", ("5077", "BRCA1")),
        lambda r: set_gnr(gnr_case(r), "11511", ("5077", "BRCA1"), ("5079", "1")),
    ),
    "816": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "11233", ("5079", "1"), ("5078", "Gen")),
        lambda r: set_gnr(gnr_case(r), "11233", ("5079", "1")),
    ),
    "828": (
        Z01,
        lambda r: (only_z017(rec := gnr_case(r)), set_gnr(rec, "11302")),
        lambda r: set_gnr(gnr_case(r), "11302"),
    ),
    "829": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "19421"),
        lambda r: set_gnr(gnr_case(r), "19421", ("5077", "BRCA1"), ("5079", "1")),
    ),
    "830": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "19453", ("5079", "1")),
        lambda r: set_gnr(gnr_case(r), "19453", ("5077", "BRCA1"), ("5079", "1")),
    ),
    "834": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "11513", ("5079", "1")),
        lambda r: set_gnr(gnr_case(r), "11513", ("5077", "BRCA1"), ("5079", "1")),
    ),
    "843": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "32901", ("5077", "BRCA1")),
        lambda r: set_gnr(gnr_case(r), "32901"),
    ),
    "854": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "32915", ("5079", "1")),
        lambda r: set_gnr(gnr_case(r), "32915B"),
    ),
    "847": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "19451", ("5077", "BRCA1")),
        lambda r: set_gnr(gnr_case(r), "19451", ("5077", "BRCA1"), ("5079", "1")),
    ),
    "848": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "19454", ("5077", "BRCA1")),
        lambda r: set_gnr(gnr_case(r), "19454", ("5077", "BRCA1"), ("5079", "2")),
    ),
    "891": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "01100", ("5077", "999999")),
        lambda r: set_gnr(gnr_case(r), "01100", ("5077", "999999"), ("5078", "Gen-Name")),
    ),
    "893": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "01100", ("5077", "BRCA1"), ("5078", "Gen-Name")),
        lambda r: set_gnr(gnr_case(r), "01100", ("5077", "BRCA1")),
    ),
    "894": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "01100", ("5005", "2"), ("5050", "1")),
        lambda r: set_gnr(gnr_case(r), "01100", ("5005", "2"), ("5050", "1"), ("5050", "2")),
    ),
    "707": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "01100", ("5005", "2"), ("5042", "3")),
        lambda r: set_gnr(gnr_case(r), "01100", ("5042", "3")),
    ),
    # ---- 853: a GNR at most once per field in a Psychotherapie block (DSB examples)
    "853": (
        Z01,
        lambda r: ins(case(r, "0101", has=("4253",)), "4253", "35151", after="4253"),
        lambda r: (
            put(rec := case(r, "0101", has=("4253",)), "4255", "1", after="4254"),
            put(rec, "4256", get(rec, "4253"), after="4255"),  # same GNR in 4256: allowed
        ),
    ),
    # ---- 869: 3010 with CDM 5.2.0 needs 0224 in besa for a BSNR of the case (5098)
    "869": (
        Z01,
        lambda r: (drop(r[1], "0224"), put(card_case(r), "3010", "20261026101010", after="3006")),
        lambda r: put(card_case(r), "3010", "20261026101010", after="3006"),
    ),
    # ---- KADT Kompaktkur mit Refresher (4272): Leistungstag 20260610 in a window
    "882": (
        Z05,
        lambda r: (
            put(kadt(r), "4265", "20260601"),
            refresher(r, f4276="20260701", f4277="20260710"),
        ),
        lambda r: (
            put(kadt(r), "4265", "20260601"),
            refresher(r, f4276="20260605", f4277="20260615"),
        ),
    ),
    "883": (
        Z05,
        lambda r: (
            put(kadt(r), "4266", "20260605", after="4265"),
            refresher(r, f4276="20260701", f4277="20260710"),
        ),
        lambda r: (
            put(kadt(r), "4266", "20260615", after="4265"),
            refresher(r, f4276="20260701", f4277="20260710"),
        ),
    ),
    "884": (
        Z05,
        lambda r: (
            put(kadt(r), "4265", "20260601"),
            refresher(r, f4276="20260602", f4277="20260620", f4278="20260605"),
        ),
        lambda r: (
            put(kadt(r), "4265", "20260601"),
            refresher(r, f4276="20260602", f4277="20260620", f4278="20260612"),
        ),
    ),
    "885": (
        Z05,
        lambda r: (
            put(kadt(r), "4266", "20260605", after="4265"),
            refresher(r, f4276="20260602", f4277="20260620", f4278="20260605"),
        ),
        lambda r: (
            put(kadt(r), "4266", "20260605", after="4265"),
            refresher(r, f4276="20260602", f4277="20260620", f4278="20260612"),
        ),
    ),
    # ---- 824: Hybrid-DRG version of the creation quarter (Z30: 9103 20261020 -> HDRG1026)
    "824": (
        Z30,
        lambda r: put(case(r, "hdrg0"), "9212", "HDRG0726.01"),
        lambda r: put(case(r, "hdrg0"), "9212", "HDRG1026.02"),
    ),
    "521": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "01100", ("5024", "X")),
        lambda r: set_gnr(gnr_case(r), "01100", ("5024", "N")),
    ),
    "364": (
        Z01,
        lambda r: set_gnr(case(r, "0101", has=("4125",)), "01100", ("5034", "20260901")),
        lambda r: set_gnr(
            rec := case(r, "0101", has=("4125",)), "01100", ("5034", get(rec, "4125")[:8])
        ),
    ),
    # ---- Hybrid-DRG rule table (Z30: r[2] is the first hdrg1 case)
    "365": (
        Z30,
        lambda r: put(r[2], "4125", "2020010120200331", after="4132"),
        lambda r: put(r[2], "4125", "2026010120261231", after="4132"),
    ),
    "366": (
        Z30,
        lambda r: put(r[2], "4125", get(r[2], "5028") * 2, after="4132"),
        lambda r: put(r[2], "4125", "2026010120261231", after="4132"),
    ),
    "390": (
        Z30,
        lambda r: put(r[2], "3103", get(r[2], "5028")),
        lambda r: (put(r[2], "3103", get(r[2], "5028")), put(r[2], "3111", "3200", after="3110")),
    ),
    "538": (Z30, lambda r: put(r[2], "3110", "U"), lambda r: put(r[2], "3110", "D")),
    "896": (
        Z30,
        lambda r: put(r[2], "5030", "12", after="5029"),
        lambda r: put(r[2], "5030", "0", after="5029"),
    ),
    # ---- ASV: Pseudo-LANR (5101) and ASV-Teamnummer (5100), all Info
    "839": (
        Z01,
        lambda r: set_gnr(card_case(r), "01100", ("5101", "555555123")),
        lambda r: (
            put(r[1], "0223", "555555123", after="0212"),
            set_gnr(card_case(r), "01100", ("5101", "555555123")),
        ),
    ),
    "838": (
        Z01,
        lambda r: (
            drop(rec := _sug28(r), "4218"),
            put(rec, "4226", "001234566", after="4239"),
            set_gnr(rec, get(rec, "5001"), ("5100", "001234567")),
        ),
        lambda r: (
            drop(rec := _sug28(r), "4218"),
            put(rec, "4226", "001234566", after="4239"),
            set_gnr(rec, get(rec, "5001"), ("5100", "001234566")),
        ),
    ),
    "842": (
        Z01,
        lambda r: (
            put(rec := _sug28(r), "4249", "555555123", after="4242"),
            set_gnr(rec, get(rec, "5001"), ("5101", "555555124")),
        ),
        lambda r: (
            put(rec := _sug28(r), "4249", "555555123", after="4242"),
            set_gnr(rec, get(rec, "5001"), ("5101", "555555123")),
        ),
    ),
    # ---- KADT: 5098/5099 against besa (own rule numbers, XPM: 730 F, 731 W)
    "730": (
        Z05,
        lambda r: put(kadt(r), "5098", "136926399"),
        lambda r: put(kadt(r), "5098", get(r[1], "0201")),
    ),
    "731": (
        Z05,
        lambda r: put(kadt(r), "5099", OTHER_LANR),
        lambda r: put(kadt(r), "5099", get(r[1], "0212")),
    ),
    # ---- rvsa (Z01: r[2]; 0300 = 0, 0301 = 0)
    "740": (
        Z01,
        lambda r: put(r[2], "0300", "1"),
        lambda r: (put(r[2], "0300", "1"), put(r[2], "0304", "123", after="0301")),
    ),
    "741": (
        Z01,
        lambda r: put(r[2], "0301", "1"),
        lambda r: (put(r[2], "0301", "1"), put(r[2], "0302", "Gerät", after="0301")),
    ),
    "748": (
        Z01,
        lambda r: (put(r[2], "0304", "123", after="0301"), put(r[2], "0305", "2", after="0304")),
        lambda r: (
            put(r[2], "0302", "Gerät", after="0301"),
            put(r[2], "0304", "123", after="0302"),
            put(r[2], "0305", "2", after="0304"),
        ),
    ),
    # ---- XPM checks
    "KVDT-FSATZ": (
        Z05,
        lambda r: r.remove(kadt(r)),
        lambda r: r.insert(r.index(kadt(r)), [list(item) for item in kadt(r)]),
    ),
    "KVDT-RSU": (
        Z01,
        lambda r: put(card_case(r), "4239", "99"),
        lambda r: put(card_case(r), "4239", "00"),
    ),
    "KVDT-RKAB": (
        Z01,
        lambda r: put(card_case(r), "4106", "10"),
        lambda r: put(card_case(r), "4106", "00"),
    ),
    "KVDT-DATLEN": (
        Z01,
        lambda r: put(card_case(r), "4109", "2026103"),
        lambda r: put(card_case(r), "4109", "20261029"),
    ),
    "KVDT-TIMLEN": (
        Z01,
        lambda r: put(card_case(r), "3010", "202610261010", after="3006"),
        lambda r: put(card_case(r), "3010", "20261026101010", after="3006"),
    ),
    "KVDT-FK3674": (
        Z01,
        lambda r: (
            put(rec := card_case(r), "3673", "I10.90", after="6003"),
            put(rec, "3674", "V", after="3673"),
        ),
        lambda r: (
            put(rec := card_case(r), "3673", "I10.90", after="6003"),
            put(rec, "3674", "G", after="3673"),
        ),
    ),
}


def assert_breaks_and_keeps(cases: dict[str, tuple[str, Mutation, Mutation]], rule: str) -> None:
    """The KBV file `name` has no `rule`; `breaks` makes it report `rule` with the catalogue's
    severity, `keeps` (the same place, rule text satisfied) does not."""
    name, breaks, keeps = cases[rule]
    assert rule not in rules_of(dump(load(name)))
    records = load(name)
    breaks(records)
    found = rules_of(dump(records))
    assert rule in found, sorted(found)
    assert found[rule] == {RULES[rule][0]}
    records = load(name)
    keeps(records)
    assert rule not in rules_of(dump(records))


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_breaks_and_does_not_break(rule):
    assert_breaks_and_keeps(CASES, rule)


def test_853_new_block_starts_afresh():
    """The duplicate check is per Psychotherapie-Informationsblock (4235 ff.)."""
    records = load(Z01)
    rec = case(records, "0101", has=("4253",))
    block = [item[:] for item in rec if item[0] in ("4235", "4252", "4253")]
    index = max(i for i, (f, _) in enumerate(rec) if f == "4253")
    rec[index + 1 : index + 1] = block
    assert "853" not in rules_of(dump(records))


def test_lab_rules_ignore_other_gnrs_and_vorquartal_has_no_869():
    records = load(Z01)
    set_gnr(gnr_case(records), "11510", ("5077", "BRCA1"))  # not in the 770 list
    found = rules_of(dump(records))
    assert not {"770", "834", "829"} & set(found)
    records = load(Z01)
    drop(records[1], "0224")
    rec = card_case(records)
    put(rec, "3010", "20260926101010", after="3006")
    put(rec, "4101", "32026")  # Vorquartalsfall: no check against besa
    assert "869" not in rules_of(dump(records))


@pytest.mark.parametrize(
    ("name", "satzart", "fk"),
    [
        (Z05, "kad0", "9204"),
        (Z05, "kad0", "0105"),
        (Z05, "0109", "4264"),
        (Z05, "0109", "4111"),
        (Z30, "hdrg0", "9212"),
        (Z30, "hdrg1", "5027"),
        (Z30, "hdrg1", "6009"),
    ],
)
def test_mandatory_fields_of_kadt_and_hybrid_drg_satztabellen(name, satzart, fk):
    """Feldart M of the KADT/HDRG Satztabellen: a missing field is STR-MUSS (F)."""
    records = load(name)
    drop(case(records, satzart), fk)
    report = rules_of(dump(records))
    assert report.get("STR-MUSS") == {"F"}


def test_sadt_places_and_doctors_against_besa_are_732_and_733():
    """SADT-Regeltabelle: 5098 (R732) and 5099 (R733) must be in besa; both errors."""
    import io

    from kvportal.kvdt import generate, iter_records, validate_file
    from tests.kvdt.conftest import BSNR, QUARTER, TODAY

    data = generate(8, seed=3, quarter=QUARTER, bsnr=BSNR, packages=("ADT", "SADT"))
    assert validate_file(io.BytesIO(data), today=TODAY).rules() == set()
    sad = next(r for r in iter_records(io.BytesIO(data)) if r.satzart == "sad1")
    place, doctor = sad.get("5098").encode(), sad.get("5099").encode()
    head, tail = data.split(b"8000sad1", 1)
    for fk, old, new, rule in (
        (b"5098", place, b"136926399", "732"),
        (b"5099", doctor, OTHER_LANR.encode(), "733"),
    ):
        broken = head + b"8000sad1" + tail.replace(fk + old, fk + new, 1)
        report = validate_file(io.BytesIO(broken), today=TODAY)
        assert report.rules() == {rule} and {m.severity for m in report.messages} == {"F"}

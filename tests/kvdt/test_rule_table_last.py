"""The last open rows of the coverage table (issue 12): one break and one no-break per rule,
from the rule text of the KVDT-Datensatzbeschreibung 6.03 and the XPM catalogue
(MeldungenKVDT.xml 2026.4.2), with the catalogue's severity.

- 108 (ADT-Regeltabelle, "erlaubter Inhalt 1, 2, 3, 4, 6" of 4103), F
- 496/497 ("Wenn Feldinhalt von 4121 = 3 ... Regel 035" / "= 0 oder 1 oder 2 ... Regel 042"), F
- 530 (KADT-Regeltabelle, 4131 in 0109 "erlaubter Inhalt 00, 04"), F
- 711a/711b (XPM: 5074/5075 and ASV Sachkosten before/from 1/2020), W
- KVDT-FFK/FFKW (XPM: "darf höchstens einmal zu einer GNR angegeben werden"), F/W
- KVDT-PRFNW-VK (XPM: "Der Prüfnachweis soll ... nur einmal übertragen werden"), W
- KVDT-DK03/BP03 (XPM: 4132/4131 "muss immer vorhanden sein" after 4/2017), F
- 734 (SDKT kostentraegergruppe 75: 4124 "TTMMJJannnnn"), W, with a synthetic SDKT
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kvportal.kvdt import INJECTABLE, RULES, generate
from kvportal.kvdt.masterdata import load_sdkt
from tests.kvdt.stammdaten import sdkt
from tests.kvdt.test_masterdata_kt_ebm_rules import cases, kt_entries
from tests.kvdt.test_masterdata_rules import check, hits
from tests.kvdt.test_rule_table import (
    CHECK_DATE,
    Z01,
    Z05,
    Record,
    card_case,
    case,
    drop,
    dump,
    ins,
    load,
    put,
    rules_of,
)
from tests.kvdt.test_rule_table_more import assert_breaks_and_keeps, gnr_case, kadt, set_gnr

ASV_TEAM = "001234566"  # example of the ADT-Feldtabelle (5100), valid check digit


def old_case(r, quarter: str) -> Record:
    rec = card_case(r)
    put(rec, "4101", quarter)
    return rec


def goae_case(r, code: str) -> Record:
    """A case billed after Gebührenordnung 3 (4121): every GNR becomes `code`."""
    rec = gnr_case(r)
    put(rec, "4121", "3")
    for item in rec:
        if item[0] == "5001":
            item[1] = code
    return rec


def two_stamps(r) -> Record:
    rec = card_case(r)
    put(rec, "3010", "20261030101010", after="3006")
    ins(rec, "3010", "20261030111010", after="3010")
    return rec


Mutation = Callable[[list[Record]], object]

#: rule -> (file, break, no-break)
CASES: dict[str, tuple[str, Mutation, Mutation]] = {
    "108": (
        Z01,
        lambda r: put(card_case(r), "4103", "5", after="4239"),
        lambda r: put(card_case(r), "4103", "6", after="4239"),
    ),
    "497": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "0300"),
        lambda r: set_gnr(gnr_case(r), "03000B"),
    ),
    "496": (
        Z01,
        lambda r: set_gnr(goae_case(r, "A1"), "03000"),
        lambda r: goae_case(r, "A1"),
    ),
    "042": (  # KADT (0109) has no Gebührenordnung 4121: rule 042 itself (KADT-Regeltabelle)
        Z05,
        lambda r: set_gnr(kadt(r), "0001"),
        lambda r: set_gnr(kadt(r), "00001"),
    ),
    "530": (
        Z05,
        lambda r: put(kadt(r), "4131", "06"),
        lambda r: put(kadt(r), "4131", "04"),
    ),
    "711b": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "01100", ("5011", "Implantat"), ("5074", "Firma")),
        lambda r: set_gnr(
            gnr_case(r), "01100", ("5011", "Implantat"), ("5074", "Firma"), ("5100", ASV_TEAM)
        ),
    ),
    "711a": (
        Z01,
        lambda r: set_gnr(old_case(r, "42019"), "01100", ("5011", "Stent"), ("5100", ASV_TEAM)),
        lambda r: set_gnr(
            old_case(r, "42019"),
            "01100",
            ("5011", "Stent"),
            ("5074", "Firma"),
            ("5075", "A-17"),
            ("5100", ASV_TEAM),
        ),
    ),
    "KVDT-FFK": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "01100", ("5005", "2"), ("5005", "3")),
        lambda r: set_gnr(gnr_case(r), "01100", ("5005", "2")),
    ),
    "KVDT-FFKW": (
        Z01,
        lambda r: set_gnr(gnr_case(r), "01100", ("5002", "Sono"), ("5002", "Roe")),
        lambda r: set_gnr(gnr_case(r), "01100", ("5002", "Sono"), ("5009", "a"), ("5009", "b")),
    ),
    "KVDT-PRFNW-VK": (
        Z01,
        two_stamps,
        lambda r: put(card_case(r), "3010", "20261030101010", after="3006"),
    ),
    "KVDT-DK03": (
        Z01,
        lambda r: drop(card_case(r), "4132"),
        lambda r: put(card_case(r), "4132", "00"),
    ),
    "KVDT-BP03": (
        Z05,
        lambda r: drop(kadt(r), "4131"),
        lambda r: put(kadt(r), "4131", "00"),
    ),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_breaks_and_does_not_break(rule):
    assert_breaks_and_keeps(CASES, rule)


def test_530_replaces_534_in_kadt_and_108_is_the_4103_value_rule():
    records = load(Z05)
    put(kadt(records), "4131", "05")  # in no value list: KADT reports 530, not ADT's 534
    found = rules_of(dump(records))
    assert "530" in found and "534" not in found
    records = load(Z05)
    put(card_case(records), "4131", "05")
    assert "534" in rules_of(dump(records))


def test_496_gnr_of_another_fee_schedule_is_not_497():
    records = load(Z01)
    goae_case(records, "3A")  # GOÄ numbers: rule 035 allows them, rule 042 would not
    found = rules_of(dump(records))
    assert not {"496", "497", "042"} & set(found)


def test_duplicate_place_or_doctor_of_a_gnr_is_kvdt_ffk():
    records = load(Z01)
    rec = gnr_case(records)
    index = next(i for i, (f, _) in enumerate(rec) if f == "5098")
    rec.insert(index + 1, list(rec[index]))  # the same 5098 twice for one GNR
    found = rules_of(dump(records))
    assert found.get("KVDT-FFK") == {"F"}
    records = load(Z01)
    rec = gnr_case(records)
    index = next(i for i, (f, _) in enumerate(rec) if f == "5099")
    rec.insert(index + 1, list(rec[index]))
    assert rules_of(dump(records)).get("KVDT-FFK") == {"F"}


def test_once_per_gnr_counts_per_gnr_not_per_case():
    """The same 5002 at two different GNRs is fine."""
    records = load(Z01)
    rec = gnr_case(records)
    set_gnr(rec, "01100", ("5002", "Sono"))
    second = [i for i, (f, _) in enumerate(rec) if f == "5001"][1]
    rec.insert(second + 1, ["5002", "Sono"])
    found = rules_of(dump(records))
    assert "KVDT-FFKW" not in found and "KVDT-FFK" not in found


def test_dk03_bp03_only_after_4_2017():
    """Before Q1/2018 the catalogue's DK01/BP01 apply (not applicable here): a missing 4132 of
    such an old case stays the plain mandatory-field message STR-MUSS."""
    records = load(Z01)
    rec = old_case(records, "42017")
    drop(rec, "4132")
    found = rules_of(dump(records))
    assert "KVDT-DK03" not in found and "STR-MUSS" in found


def test_generator_injects_497_and_its_clean_files_have_none_of_the_new_rules():
    from kvportal.core.quarters import Quarter

    assert "497" in INJECTABLE and "042" not in INJECTABLE
    new = {"108", "496", "497", "530", "711a", "711b", "KVDT-FFK", "KVDT-FFKW", "KVDT-PRFNW-VK"}
    new |= {"KVDT-DK03", "KVDT-BP03"}
    q = Quarter(2026, 3)
    import io

    from kvportal.kvdt import validate_file

    data = generate(60, seed=3, quarter=q, bsnr="951234500", packages=("ADT", "KADT", "SADT"))
    found = validate_file(io.BytesIO(data), today=q.end.replace(day=30)).rules()
    assert not new & found
    data = generate(30, seed=3, quarter=q, bsnr="951234500", inject=("497",))
    assert "497" in validate_file(io.BytesIO(data), today=q.end.replace(day=30)).rules()


# ---- 734 (SDKT): bundesweiter SKT Bundeswehr (kostentraegergruppe 75)


def kt_with_group(tmp_path, records, vknr: str):
    entries = [
        e.replace("</bezeichnung>", '</bezeichnung><kostentraegergruppe V="75"/>')
        if f'V="{vknr}"' in e
        else e
        for e in kt_entries(records)
    ]
    (tmp_path / "SDKT_Q4_2026.xml").write_bytes(sdkt(entries))
    return check(tmp_path, records)


def test_loader_reads_the_kostentraegergruppe(tmp_path):
    from tests.kvdt.stammdaten import kostentraeger

    path = tmp_path / "SDKT_Q4_2026.xml"
    path.write_bytes(sdkt([kostentraeger("27822", ["109999001"], group="75")]))
    (entry,) = load_sdkt(path).entries
    assert entry.group == "75"


def test_734_personenkennziffer_missing_or_malformed(tmp_path):
    records = load(Z01)
    vknr = "24602"  # one 0101 case, 4124 = "Italien"
    n = sum(1 for rec in cases(records) if dict(rec)["4104"] == vknr)
    found = hits(kt_with_group(tmp_path, records, vknr), "734")
    assert n == 1 and len(found) == 1 and found[0].severity == "W"
    assert vknr in found[0].text


def test_734_not_with_a_personenkennziffer_or_another_group(tmp_path):
    records = load(Z01)
    vknr = "24602"
    for rec in cases(records):
        if dict(rec)["4104"] == vknr:
            put(rec, "4124", "310109A14017")  # as the KBV file's Bundeswehr Überweisung
    assert not hits(kt_with_group(tmp_path, records, vknr), "734")
    records = load(Z01)
    report = kt_with_group(tmp_path, records, "99999")  # no case of group 75
    assert not hits(report, "734") and "734" not in report.not_checked


def test_734_not_checked_without_sdkt():
    records = load(Z01)
    from io import BytesIO

    from kvportal.kvdt import validate_file

    report = validate_file(BytesIO(dump(records)), today=CHECK_DATE)
    assert "734" in report.not_checked


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("310109A14017", True),
        ("290200B12345", True),  # 29.02.2000
        ("310209A14017", False),  # no 31 February
        ("310109a14017", False),
        ("310109A1401", False),
        ("3101094A4017", False),
    ],
)
def test_734_format_ttmmjjannnnn(value, ok):
    from kvportal.kvdt.mdrules import _pkz_ok

    assert _pkz_ok(value.encode()) is ok


def test_the_kbv_files_are_unchanged_by_the_new_rules():
    for name in (Z01, Z05):
        found = rules_of(dump(load(name)))
        assert not {r for r in found if RULES[r][0] == "F"}
        assert not set(CASES) & set(found)
    rec = case(load(Z01), "0102", where=lambda d: d.get("4124") == "310109A14017")
    assert rec


def test_master_data_tables_are_built_once_and_case_state_is_fresh(tmp_path):
    """The per-quarter tables are memoised on the MasterData object; every check still gets
    its own case state, so a second check with the same object gives the same report."""
    from kvportal.core.quarters import Quarter
    from kvportal.kvdt import mdrules
    from kvportal.kvdt.masterdata import load_directory

    records = load(Z01)
    first = kt_with_group(tmp_path, records, "24602")
    data = load_directory(tmp_path)
    q = Quarter(2026, 4)
    a, b = mdrules.State.create(data, q), mdrules.State.create(data, q)
    assert a is not None and b is not None and a is not b
    assert a.kts is b.kts and a.diags is not b.diags  # shared tables, own case state
    from io import BytesIO

    from kvportal.kvdt import validate_file

    reports = [
        validate_file(BytesIO(dump(records)), masterdata=data, today=CHECK_DATE) for _ in range(2)
    ]
    assert [m.to_dict() for m in reports[0].messages] == [m.to_dict() for m in reports[1].messages]
    assert [m.rule for m in first.messages] == [m.rule for m in reports[0].messages]

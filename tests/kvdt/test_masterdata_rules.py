"""Rules that need the EBM (SDEBM), OPS (SDOPS) and ICD-10-GM (SDICD) master files.

Break/no-break from the rule texts of the ADT-Regeltabelle (KVDT-Datensatzbeschreibung) with the
severities of the XPM catalogue (MeldungenKVDT.xml). The KBV test file Z01 (quarter 4/2026) is
checked against synthetic master files built in the published formats from the file's own
values, so the unchanged file is clean; each test changes what the rule text names.
"""

from __future__ import annotations

import io
import itertools

import pytest

from kvportal.core.quarters import Quarter
from kvportal.kvdt import validate_file
from kvportal.kvdt.masterdata import MasterDataError, load_directory, load_sdebm, load_sdops
from tests.kvdt.stammdaten import gnr, opscode, sdebm, sdops
from tests.kvdt.test_masterdata_sdicd import sdicd
from tests.kvdt.test_rule_table import CHECK_DATE, Z01, case, dump, get, load, put

Q = Quarter(2026, 4)
EBM_RULES = {"203", "701", "702", "868", "888", "889", "890", "892", "901"}
OPS_RULES = {"223", "705"}
MASTER_RULES = EBM_RULES | OPS_RULES | {"728"}


def file_values(records, fk: str) -> set[str]:
    return {v for rec in records for f, v in rec if f == fk}


def sides(records) -> set[str]:
    """OPS codes that the KBV file gives a Seitenlokalisation (5041 right after 5035)."""
    out = set()
    for rec in records:
        for (f, v), (g, _w) in itertools.pairwise(rec):
            if f == "5035" and g == "5041":
                out.add(v)
    return out


def icd_file(codes: set[str], *, not_billable=()) -> bytes:
    return sdicd(
        *(
            f'<diagnose><icd_code V="{c}"/>'
            f'<abrechenbar V="{"n" if c in not_billable else "j"}"/></diagnose>'
            for c in sorted(codes)
        )
    )


def check(tmp_path, records, *, ebm=None, ops=None, icd=None):
    """Z01 (edited) against master files; by default all of the file's values are valid."""
    records = records if records is not None else load(Z01)
    base = load(Z01)
    gnrs = ebm if ebm is not None else [gnr(c) for c in sorted(file_values(base, "5001"))]
    codes = ops
    if codes is None:
        with_side = sides(base)
        codes = [opscode(c, c in with_side) for c in sorted(file_values(base, "5035"))]
    diagnoses = file_values(base, "6001") | file_values(base, "3673")
    (tmp_path / "SDEBM_01.62_74_tf2026q4_nr1.xml").write_bytes(sdebm(Q, gnrs))
    (tmp_path / "SDOPS_01.00_74_tf2026q4_nr1.xml").write_bytes(sdops(Q, codes))
    (tmp_path / "ICDStamm2026.xml").write_bytes(icd if icd is not None else icd_file(diagnoses))
    report = validate_file(
        io.BytesIO(dump(records)), today=CHECK_DATE, masterdata=load_directory(tmp_path)
    )
    return report


def hits(report, rule: str) -> list:
    return [m for m in report.messages if m.rule == rule]


def service(records, gnr_code: str):
    """The first case billing `gnr_code` (5001)."""
    return next(rec for rec, code, _fields in services(records) if code == gnr_code)


def first_gnr(rec) -> str:
    return get(rec, "5001")


@pytest.fixture
def z01():
    return load(Z01)


def test_valid_master_data_gives_no_message_and_every_rule_runs(tmp_path, z01):
    report = check(tmp_path, z01)
    assert not MASTER_RULES & report.rules()
    assert not MASTER_RULES & set(report.not_checked)
    assert not [r for r in report.not_checked_reasons if "EBM/GO" in r and "eingespielt" in r]


def test_without_master_data_the_rules_are_named_as_not_checked(z01):
    report = validate_file(io.BytesIO(dump(z01)), today=CHECK_DATE)
    assert set(report.not_checked) >= MASTER_RULES
    reasons = " ".join(report.not_checked_reasons)
    assert "Stammdatei EBM/GO (SDEBM) für das Quartal 4/2026 nicht eingespielt" in reasons
    assert "Stammdatei OPS (SDOPS) für das Quartal 4/2026 nicht eingespielt" in reasons


# ---- 203: "Existenzprüfung GO-Stammdatei" (XPM KVDT-R203: Warnung)
def test_203_gnr_not_in_the_ebm_master_file(tmp_path, z01):
    codes = sorted(file_values(z01, "5001"))
    missing = "31234"
    report = check(tmp_path, z01, ebm=[gnr(c) for c in codes if c != missing])
    found = hits(report, "203")
    assert found and {m.severity for m in found} == {"W"}
    assert all(f"„{missing}“" in m.text for m in found)
    assert len(found) == sum(1 for rec in z01 for f, v in rec if f == "5001" and v == missing)


def test_203_gnr_no_longer_valid_on_the_leistungstag(tmp_path, z01):
    codes = sorted(file_values(z01, "5001"))
    ended = [gnr(c, "2008-01-01..2026-09-30" if c == "01100" else "2008-01-01..") for c in codes]
    found = hits(check(tmp_path, z01, ebm=ended), "203")
    assert found and all("01100" in m.text and "nicht gültig am" in m.text for m in found)
    # valid until the last day of the quarter: no message
    until_end = [gnr(c, "2008-01-01..2026-12-31") for c in codes]
    assert not hits(check(tmp_path, z01, ebm=until_end), "203")


def test_203_zusatznummer_falls_back_to_its_five_digit_gnr(tmp_path, z01):
    rec = service(z01, "01100")
    for item in rec:
        if item == ["5001", "01100"]:
            item[1] = "01100B"
    assert not hits(check(tmp_path, z01), "203")


def test_203_not_for_a_case_billed_under_goae(tmp_path, z01):
    """Rule text: Gebührenordnung only checked without Selektivvertrag (FK 4121 ≠ 3)."""
    rec = service(z01, "31234")
    codes = [c for c in sorted(file_values(z01, "5001")) if c != "31234"]
    before = len(hits(check(tmp_path, z01, ebm=[gnr(c) for c in codes]), "203"))
    put(rec, "4121", "3")
    after = len(hits(check(tmp_path, z01, ebm=[gnr(c) for c in codes]), "203"))
    assert after < before


# ---- 701/702/868/888/889/890/892: Zusatzangaben the EBM requires per GNR (all Warnung)
def _require(z01, target: str, lists):
    return [gnr(c, lists=lists if c == target else ()) for c in sorted(file_values(z01, "5001"))]


def services(records):
    """(case, GNR, field ids up to the next 5001/5000/diagnosis) for every 5001."""
    out = []
    for rec in records:
        current = None
        for f, v in rec:
            if f == "5001":
                current = (rec, v, set())
                out.append(current)
            elif f in ("5000", "6001", "3673"):
                current = None
            elif current is not None:
                current[2].add(f)
    return out


def _gnr_without(z01, fk: str) -> tuple[list, str]:
    """An ADT case and a GNR of it that no service of the file documents `fk` for."""
    documented = {code for _rec, code, fields in services(z01) if fk in fields}
    for rec, code, _fields in services(z01):
        if rec[0][1] in ("0101", "0102", "0103", "0104") and code not in documented:
            return rec, code
    raise LookupError(fk)


@pytest.mark.parametrize(
    ("fk", "rule"),
    [
        ("5034", "701"),
        ("5010", "868"),
        ("5050", "888"),
        ("5051", "889"),
        ("5052", "890"),
        ("5077", "892"),
    ],
)
def test_required_zusatzangabe_breaks_and_does_not_break(tmp_path, z01, fk, rule):
    _rec, code = _gnr_without(z01, fk)
    ebm = _require(z01, code, [("SEQUENZ", [fk])])
    found = hits(check(tmp_path, z01, ebm=ebm), rule)
    assert found and {m.severity for m in found} == {"W"} and all(code in m.text for m in found)
    # every 5001 of that GNR gets the field right after it: no message
    value = {"5034": "20261005", "5077": "BRCA1"}.get(fk, "1")
    for r in z01:
        for i in range(len(r) - 1, -1, -1):
            if r[i] == ["5001", code]:
                r.insert(i + 1, [fk, value])
    assert not hits(check(tmp_path, z01, ebm=ebm), rule)


def test_702_either_ops_or_gnr_as_reason(tmp_path, z01):
    _rec, code = _gnr_without(z01, "5035")
    ebm = _require(z01, code, [("AUSWAHL", ["5035", "5036"])])
    found = hits(check(tmp_path, z01, ebm=ebm), "702")
    assert found and {m.severity for m in found} == {"W"} and "5035, 5036" in found[0].text
    for r in z01:
        for i in range(len(r) - 1, -1, -1):
            if r[i] == ["5001", code]:
                r.insert(i + 1, ["5036", "02300"])  # GNR as reason: enough (rule 702)
    assert not hits(check(tmp_path, z01, ebm=ebm), "702")


def test_auswahl_needs_one_sequenz_needs_all(tmp_path, z01):
    _rec, code = _gnr_without(z01, "5034")
    choice = _require(z01, code, [("AUSWAHL", ["5034", "5010"])])
    both = _require(z01, code, [("SEQUENZ", ["5034", "5010"])])
    for r in z01:
        for i in range(len(r) - 1, -1, -1):
            if r[i] == ["5001", code]:
                r.insert(i + 1, ["5010", "CH-1"])
    assert not hits(check(tmp_path, z01, ebm=choice), "701")
    assert hits(check(tmp_path, z01, ebm=both), "701")


def test_901_4214_for_referrals_with_sug_21_27_28_only(tmp_path, z01):
    rec = case(z01, "0102", where=lambda d: d["4239"] == "27" and "4214" not in d)
    code = first_gnr(rec)
    ebm = _require(z01, code, [("SEQUENZ", ["4214"])])
    found = hits(check(tmp_path, z01, ebm=ebm), "901")
    assert found and {m.severity for m in found} == {"W"}
    put(rec, "4214", "20261001", after="4239")
    other = [m for m in hits(check(tmp_path, z01, ebm=ebm), "901") if m.case_line]
    assert len(other) < len(found)


# ---- 223 (Fehler) and 705 (Warnung): OPS master file
def test_223_ops_code_not_in_the_ops_master_file(tmp_path, z01):
    codes = sorted(file_values(z01, "5035"))
    with_side = sides(z01)
    missing = codes[0]
    ops = [opscode(c, c in with_side) for c in codes if c != missing]
    found = hits(check(tmp_path, z01, ops=ops), "223")
    assert found and {m.severity for m in found} == {"F"}
    assert all(f"„{missing}“" in m.text for m in found)


def test_705_side_required_by_kzseite(tmp_path, z01):
    codes = sorted(file_values(z01, "5035"))
    without_side = sorted(set(codes) - sides(z01))
    assert without_side
    ops = [opscode(c, True) for c in codes]  # every code needs 5041 now
    found = hits(check(tmp_path, z01, ops=ops), "705")
    assert found and {m.severity for m in found} == {"W"}
    assert {m.text.split("„")[1].split("“")[0] for m in found} == set(without_side)


# ---- 728 (Fehler): ICD code valid (abrechenbar "j") in the SDICD
def test_728_icd_code_not_billable_or_missing(tmp_path, z01):
    diagnoses = file_values(z01, "6001") | file_values(z01, "3673")
    target = sorted(file_values(z01, "6001"))[0]
    found = hits(check(tmp_path, z01, icd=icd_file(diagnoses, not_billable={target})), "728")
    assert found and {m.severity for m in found} == {"F"}
    assert all(target in m.text for m in found)
    missing = hits(check(tmp_path, z01, icd=icd_file(diagnoses - {target})), "728")
    assert len(missing) == len(found)


# ---- loaders
def test_sdebm_loader_reads_validity_and_zusatzangaben_lists(tmp_path):
    path = tmp_path / "SDEBM_01.62_74_tf2027q1_nr1.xml"
    path.write_bytes(
        sdebm(
            Quarter(2027, 1),
            [
                gnr("03000"),
                gnr("31101", "2020-01-01..2027-03-31", [("SEQUENZ", ["5034"])]),
                gnr("89111A", lists=[("AUSWAHL", ["5035", "5036"])]),
            ],
        )
    )
    ebm = load_sdebm(path)
    assert ebm.quarter == Quarter(2027, 1)
    assert set(ebm.gnrs) == {"03000", "31101", "89111A"}  # nested gnr elements are no GNRs
    assert ebm.gnrs["03000"].lists == ()  # the Aussetzungsgrund is no required Zusatzangabe
    assert ebm.gnrs["31101"].lists == ((True, ("5034",)),)
    assert ebm.gnrs["31101"].valid_on(b"20270331") and not ebm.gnrs["31101"].valid_on(b"20270401")
    assert ebm.gnrs["89111A"].lists == ((False, ("5035", "5036")),)
    assert ebm.get("03000X") is ebm.gnrs["03000"] and ebm.get("04000") is None


def test_sdops_loader_reads_kzseite_and_quarter_from_the_header(tmp_path):
    path = tmp_path / "SDOPS_Stammdatei.xml"  # no tfJJJJqQ: quarter from the header
    path.write_bytes(sdops(Quarter(2027, 2), [opscode("5-812.5", True), opscode("1-100")]))
    ops = load_sdops(path)
    assert ops.quarter == Quarter(2027, 2)
    assert ops.codes["5-812.5"].side and not ops.codes["1-100"].side


@pytest.mark.parametrize(
    ("loader", "content", "words"),
    [
        (load_sdebm, sdebm(Q, [gnr("3100")]), "GNR (V) „3100“"),
        (load_sdebm, sdebm(Q, [gnr("31101", lists=[("ODER", ["5034"])])]), "AUSWAHL oder SEQUENZ"),
        (load_sdebm, sdebm(Q, [gnr("31101", lists=[("SEQUENZ", ["50x4"])])]), "Feldkennung"),
        (load_sdebm, sdebm(Q, [gnr("31101", "2027-13-01..")]), "Gültigkeit"),
        (load_sdebm, sdebm(Q, []), "keine GNR"),
        (load_sdops, sdops(Q, []), "keinen OP-Schlüssel"),
        (load_sdops, sdops(Q, ['<opscode V="1-100"><gueltigkeit V=".."/></opscode>']), "kzseite"),
        (load_sdops, b"<ehd><body><opscode_liste>", "kein gültiges XML"),
    ],
)
def test_bad_master_files_give_a_german_message(tmp_path, loader, content, words):
    path = tmp_path / "SDEBM_tf2026q4.xml"
    path.write_bytes(content)
    with pytest.raises(MasterDataError) as exc:
        loader(path)
    assert words in str(exc.value) and path.name in str(exc.value)

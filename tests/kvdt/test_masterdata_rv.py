"""Rule 749 (ADT rule table, XPM KVDT-R749: Warnung) with the key table S_NVV_RV_Zertifikat
(OID 1.2.276.0.76.3.1.1.5.2.22).

Rule text: if 5001 equals `key/@gop` and 9204 lies within `key/@gueltigkeit`, at least one
0304 (rvsa) with the content of that key's `@V` and 0305 = 1 or 2 must be present. The table
is synthetic (no sample in the mirror); `gueltigkeit` is taken as an eHD period.
"""

from __future__ import annotations

import io

from kvportal.kvdt import validate_file
from kvportal.kvdt.masterdata import RV_OID, load_directory, load_keytab
from tests.kvdt.stammdaten import keytab
from tests.kvdt.test_rule_table import CHECK_DATE, Z01, dump, load

GNR = "01100"


def run(tmp_path, records, keys):
    (tmp_path / "S_NVV_RV_ZERTIFIKAT_V1.00.xml").write_bytes(
        keytab(RV_OID, "S_NVV_RV_ZERTIFIKAT", "1.00", keys)
    )
    return validate_file(
        io.BytesIO(dump(records)), today=CHECK_DATE, masterdata=load_directory(tmp_path)
    )


def r749(report):
    return [m for m in report.messages if m.rule == "749"]


def billed(records) -> int:
    return sum(1 for rec in records for f, v in rec if f == "5001" and v == GNR)


def certify(records, analyte: str, certificate: str):
    rvsa = next(rec for rec in records if rec[0][1] == "rvsa")
    rvsa[:] = [["8000", "rvsa"], ["0201", "136926300"], ["0300", "1"], ["0301", "0"]]
    rvsa += [["0304", analyte], ["0305", certificate]]
    return records


def test_loader_keeps_gop_and_gueltigkeit(tmp_path):
    path = tmp_path / "S_NVV_RV_ZERTIFIKAT_V1.00.xml"
    path.write_bytes(keytab(RV_OID, "S", "1.00", [("004", "Glukose", GNR, "2026-01-01..")]))
    assert load_keytab(path).gops == (("004", GNR, "2026-01-01.."),)


def test_749_gnr_without_a_certificate(tmp_path):
    records = load(Z01)
    found = r749(run(tmp_path, records, [("004", "Glukose", GNR, "2026-01-01..")]))
    assert billed(records) and len(found) == billed(records)
    assert {m.severity for m in found} == {"W"} and "004" in found[0].text
    # 0305 = 0 (no certificate) does not count
    found = r749(run(tmp_path, certify(load(Z01), "004", "0"), [("004", "G", GNR, "2026-01-01..")]))
    assert len(found) == billed(records)


def test_749_certificate_1_or_2_for_one_of_the_analytes(tmp_path):
    keys = [("004", "Glukose", GNR, "2026-01-01.."), ("007", "Kalium", GNR, "2026-01-01..")]
    for certificate in ("1", "2"):
        report = run(tmp_path, certify(load(Z01), "007", certificate), keys)
        assert not r749(report) and "749" not in report.not_checked


def test_749_key_not_valid_in_the_billing_quarter(tmp_path):
    keys = [("004", "Glukose", GNR, "2025-01-01..2026-09-30")]
    assert not r749(run(tmp_path, load(Z01), keys))


def test_749_not_checked_without_the_table():
    report = validate_file(io.BytesIO(dump(load(Z01))), today=CHECK_DATE)
    assert "749" in report.not_checked


# ---- 211 (Container-Regeltabelle, XPM KVDT-FORM-R211: Warnung): 0304 exists in the table


def test_211_analyte_not_in_the_key_table(tmp_path):
    keys = [("004", "Glukose", GNR, "2026-01-01..")]
    found = [
        m for m in run(tmp_path, certify(load(Z01), "999", "1"), keys).messages if m.rule == "211"
    ]
    assert len(found) == 1 and found[0].severity == "W" and "999" in found[0].text
    assert found[0].satzart == "rvsa"
    report = run(tmp_path, certify(load(Z01), "004", "1"), keys)
    assert not [m for m in report.messages if m.rule == "211"]

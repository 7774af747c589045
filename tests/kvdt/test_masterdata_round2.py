"""Rule 017 (VKNR value list), rule 221 (Hybrid-DRG master file SDHDRG) and KVDT-RQL2
(Kostenträger of the SDKT not valid in the billing quarter).

Break/no-break from the rule texts: 017 "Format nnmmm, nn = KV-Kennung" with the value list of
the rule (ADT/HDRG-Regeltabelle, Fehler); 221 "Existenzprüfung: ist der übermittelte Wert in der
Stammdatei für Hybrid-DRGs (SDHDRG) enthalten" (HDRG-Regeltabelle, Warnung); KVDT-RQL2 "Die
Kasse VKNR/KTUG ist zum Abrechnungszeitpunkt ungültig" (XPM catalogue, Warnung). The KBV test
files Z01 (ADT, 4/2026) and Z30 (Hybrid-DRG) are checked against synthetic master files built
in the published formats (SDHDRG 2.0.0, SDKT 1.05) from the files' own values.
"""

from __future__ import annotations

import io
import re

import pytest

from kvportal.core.quarters import Quarter
from kvportal.kvdt import validate_file
from kvportal.kvdt.masterdata import MasterDataError, load_directory, load_sdhdrg
from tests.kvdt.stammdaten import kostentraeger, sdhdrg, sdkt
from tests.kvdt.test_masterdata_rules import file_values, hits
from tests.kvdt.test_rule_table import CHECK_DATE, Z01, Z30, dump, load, put

ADT = ("0101", "0102", "0103", "0104")


def run(records, directory=None):
    masterdata = load_directory(directory) if directory is not None else None
    return validate_file(io.BytesIO(dump(records)), today=CHECK_DATE, masterdata=masterdata)


# ---- SDHDRG loader


def test_sdhdrg_loader_reads_codes_and_validity(tmp_path):
    path = tmp_path / "sdhdrg_02.0.0_74.xml"
    path.write_bytes(sdhdrg("2026-01-01..2026-12-31", ["F50M", "G09N"]))
    f = load_sdhdrg(path)
    assert f.codes == {"F50M", "G09N"}
    assert f.quarter == Quarter(2026, 1) and f.valid_to == "20261231"
    data = load_directory(tmp_path)
    assert data.hdrg_file(Quarter(2026, 4)) is not None
    assert data.hdrg_file(Quarter(2027, 1)) is None  # service_tmr ended
    assert data.hdrg_file(Quarter(2025, 4)) is None  # not yet valid
    assert "sdhdrg" in data.available(Quarter(2026, 2))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (sdhdrg("2026-01-01..2026-12-31", ["F50"]), "Hybrid-DRG (V) „F50“ muss vier Zeichen"),
        (sdhdrg("2026-01-01..2026-12-31", []), "enthält keine Hybrid-DRG"),
        (sdhdrg("2026-13-01..", ["F50M"]), "Gültigkeit „2026-13-01..“"),
        (b"<ehd><body>", "kein gültiges XML"),
    ],
)
def test_bad_sdhdrg_gives_a_german_message_naming_the_file(tmp_path, content, expected):
    path = tmp_path / "sdhdrg_02.0.0_74_tf+2026q1.xml"
    path.write_bytes(content)
    with pytest.raises(MasterDataError, match=re.escape(expected)) as err:
        load_sdhdrg(path)
    assert path.name in str(err.value)


# ---- 221: the Hybrid-DRG (5027) is in the SDHDRG valid on 5028 (Warnung)


def hdrg_run(tmp_path, records, codes, period="2026-01-01..2026-12-31"):
    (tmp_path / "sdhdrg_02.0.0_74_tf+2026q1.xml").write_bytes(sdhdrg(period, codes))
    return run(records, tmp_path)


def test_221_clean_with_every_hybrid_drg_of_the_file(tmp_path):
    records = load(Z30)
    report = hdrg_run(tmp_path, records, sorted(file_values(records, "5027")))
    assert "221" not in report.rules() and "221" not in report.not_checked


def test_221_hybrid_drg_not_in_the_master_file(tmp_path):
    records = load(Z30)
    codes = sorted(file_values(records, "5027"))
    missing = codes[0]
    n = sum(1 for rec in records if rec[0][1] == "hdrg1" and dict(rec).get("5027") == missing)
    found = hits(hdrg_run(tmp_path, records, codes[1:]), "221")
    assert n and len(found) == n and {m.severity for m in found} == {"W"}
    assert f"„{missing}“" in found[0].text and found[0].field == "5027"


def test_221_not_checked_without_an_sdhdrg_valid_on_5028(tmp_path):
    records = load(Z30)
    codes = sorted(file_values(records, "5027"))[1:]  # one missing: would break if checked
    report = hdrg_run(tmp_path, records, codes, period="2024-01-01..2024-12-31")
    assert "221" not in report.rules() and "221" in report.not_checked
    assert "221" in run(records).not_checked
    assert any("Hybrid-DRG (SDHDRG)" in r for r in run(records).not_checked_reasons)


# ---- KVDT-RQL2: the Kasse (4104) is in the SDKT but not valid in the billing quarter


def kt_run(tmp_path, records, periods):
    entries = []
    by_vknr: dict[str, set[str]] = {}
    for rec in records:
        if rec[0][1] in ADT:
            d = dict(rec)
            by_vknr.setdefault(d["4104"], set()).add(d["4111"])
    for vknr, iks in sorted(by_vknr.items()):
        entries.append(kostentraeger(vknr, sorted(iks), period=periods.get(vknr, "2020-01-01..")))
    (tmp_path / "SDKT_Q4_2026.xml").write_bytes(sdkt(entries))
    return run(records, tmp_path)


def cases_with(records, vknr):
    return sum(1 for rec in records if rec[0][1] in ADT and dict(rec)["4104"] == vknr)


def test_rql2_clean_when_every_kasse_is_valid(tmp_path):
    report = kt_run(tmp_path, load(Z01), {})
    assert not {"KVDT-RQL2", "201"} & report.rules()
    assert "KVDT-RQL2" not in report.not_checked


@pytest.mark.parametrize("period", ["2020-01-01..2026-09-30", "2027-01-01.."])
def test_rql2_kasse_ended_before_or_starting_after_the_quarter(tmp_path, period):
    records = load(Z01)
    vknr = "40101"
    found = hits(kt_run(tmp_path, records, {vknr: period}), "KVDT-RQL2")
    assert len(found) == cases_with(records, vknr) > 0
    assert {m.severity for m in found} == {"W"} and vknr in found[0].text
    assert "4/2026" in found[0].text
    # known to the SDKT: not "nicht in der Stammdatei" (201)
    assert not hits(kt_run(tmp_path, records, {vknr: period}), "201")


def test_rql2_not_checked_without_sdkt():
    assert "KVDT-RQL2" in run(load(Z01)).not_checked


# ---- 017: the first two digits of the VKNR (nnmmm) are a KV area of the value list (Fehler)


@pytest.mark.parametrize("area", ["92", "97", "00", "22", "75"])
def test_017_vknr_area_not_in_the_value_list(area):
    records = load(Z01)
    rec = next(r for r in records if r[0][1] in ADT)
    put(rec, "4104", f"{area}601")
    found = hits(run(records), "017")
    assert len(found) == 1 and found[0].severity == "F" and f"„{area}601“" in found[0].text


@pytest.mark.parametrize("area", ["01", "06", "21", "37", "74", "78", "89", "91", "93", "98", "99"])
def test_017_vknr_area_of_the_value_list(area):
    records = load(Z01)
    rec = next(r for r in records if r[0][1] in ADT)
    put(rec, "4104", f"{area}601")
    report = run(records)
    assert not hits(report, "017") and "017" not in report.not_checked


def test_017_also_in_hybrid_drg_cases():
    records = load(Z30)
    rec = next(r for r in records if r[0][1] == "hdrg1")
    put(rec, "4104", "92601")
    assert len(hits(run(records), "017")) == 1
    assert not hits(run(load(Z30)), "017")

"""Arztverzeichnis (KBV Datensatzbeschreibung SDAV 1.08) and the XPM check KVDT-RAV.

The SDAV "führt bei der Abrechnung von Überweisungen eine Existenzprüfung der
Betriebsstätten- und Überweiserarztnummern durch" (SDAV 1.1); XPM KVDT-RAV (Warnung): "Die
BSNR '%s' ist nicht in der Arztverzeichnis-Stammdatei (SDAV)." Checked here: the (N)BSNR of
the referrer (4218) of each Überweisung (0102) of the KBV test file Z01 (4/2026).
"""

from __future__ import annotations

import io

import pytest

from kvportal.core.quarters import Quarter
from kvportal.kvdt import validate_file
from kvportal.kvdt.masterdata import MasterDataError, load_directory, load_sdav
from tests.kvdt.stammdaten import sdav
from tests.kvdt.test_rule_table import CHECK_DATE, Z01, dump, load, put

Q = Quarter(2026, 4)


def referrers(records) -> list[str]:
    return [dict(rec)["4218"] for rec in records if rec[0][1] == "0102" and "4218" in dict(rec)]


def run(tmp_path, records, practices, quarter=Q):
    (tmp_path / "SDAV74_1.426").write_bytes(sdav(quarter, practices))
    return validate_file(
        io.BytesIO(dump(records)), today=CHECK_DATE, masterdata=load_directory(tmp_path)
    )


def rav(report):
    return [m for m in report.messages if m.rule == "KVDT-RAV"]


def test_loader_reads_bsnr_and_nbsnr_and_the_quarter(tmp_path):
    path = tmp_path / "SDAV74_1.426"
    path.write_bytes(sdav(Q, [("010123400", ["010123401"]), ("380000100", [])]))
    av = load_sdav(path)
    assert av.quarter == Q and av.version == "1.08"
    assert av.bsnrs == {b"010123400", b"010123401", b"380000100"}
    data = load_directory(tmp_path)
    assert data.av_file(Quarter(2027, 1)) is not None and data.av_file(Quarter(2026, 3)) is None
    assert "sdav" in data.available(Q)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"0138000AVS0\r\n014911142026\r\n", "endet nicht mit AVS9"),
        (b"0138000AVS0\r\n0138000AVS9\r\n", "Gültigkeitsquartal (9111) fehlt"),
        (
            b"0138000AVS0\r\n014911142026\r\n01380001450\r\n01202011234\r\n0138000AVS9\r\n",
            "(N)BSNR (0201) muss neun Ziffern",
        ),
    ],
)
def test_bad_files_give_a_german_message(tmp_path, content, expected):
    path = tmp_path / "SDAV74_1.426"
    path.write_bytes(content)
    with pytest.raises(MasterDataError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_sdav(path)


def test_rav_referrer_not_in_the_arztverzeichnis(tmp_path):
    records = load(Z01)
    known = sorted(set(referrers(records)))
    missing = known[0]
    report = run(tmp_path, records, [(b, []) for b in known if b != missing])
    found = rav(report)
    assert found and len(found) == referrers(records).count(missing)
    assert {m.severity for m in found} == {"W"} and missing in found[0].text
    assert {m.satzart for m in found} == {"0102"}


def test_rav_all_referrers_known_or_as_nbsnr(tmp_path):
    records = load(Z01)
    known = sorted(set(referrers(records)))
    report = run(tmp_path, records, [("999000100", known)])  # all as NBSNR of one practice
    assert not rav(report) and "KVDT-RAV" not in report.not_checked


def test_rav_not_for_hospital_and_kbv_numbers(tmp_path):
    records = load(Z01)
    rec = next(r for r in records if r[0][1] == "0102" and "4218" in dict(r))
    put(rec, "4218", "777777700")
    report = run(tmp_path, records, [(b, []) for b in referrers(records) if b != "777777700"])
    assert not rav(report)


def test_rav_not_checked_without_sdav():
    report = validate_file(io.BytesIO(dump(load(Z01))), today=CHECK_DATE)
    assert "KVDT-RAV" in report.not_checked
    assert any("Arztverzeichnis (SDAV)" in r for r in report.not_checked_reasons)

"""Kostenträger master file (KBV Schnittstelle SDKT, schema kts): loading and validity.

The fixture is synthetic, built in the published format: `kostentraeger V=VKNR` with
`gueltigkeit V="JJJJ-MM-TT..JJJJ-MM-TT"` (open ends allowed) and `ik_liste/ik V=IK`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kvportal.core.quarters import Quarter
from kvportal.kvdt.masterdata import MasterDataError, load_directory, load_sdkt

FIXTURE = Path(__file__).parent / "fixtures" / "stammdaten" / "SDKT_Q1_2027.xml"


def sdkt(*entries: str) -> bytes:
    body = "".join(entries)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<kostentraeger_liste xmlns="urn:ehd/kts/001">{body}</kostentraeger_liste>'
    ).encode()


def entry(vknr: str, period: str = "2020-01-01..", ik: str = "109999001") -> str:
    return (
        f'<kostentraeger V="{vknr}"><gueltigkeit V="{period}"/>'
        f'<ik_liste><ik V="{ik}"/></ik_liste></kostentraeger>'
    )


def test_fixture_loads_with_quarter_from_the_file_name():
    kt = load_sdkt(FIXTURE)
    assert kt.quarter == Quarter(2027, 1)
    assert [e.vknr for e in kt.entries] == ["38825", "38826", "38827"]
    assert kt.entries[0].iks == ("109999001",)


def test_validity_is_per_quarter():
    data = load_directory(FIXTURE.parent)
    # 38826 ends 2026-12-31, 38827 starts 2027-04-01
    assert data.vknrs(Quarter(2026, 4)) is None  # no file valid yet in 2026Q4
    # R201 ("nicht in der Stammdatei") looks at the whole file; a Kostenträger of the file not
    # valid in the quarter is KVDT-RQL2, and only the valid ones give IKs (R202)
    assert data.vknrs(Quarter(2027, 1)) == {b"38825", b"38826", b"38827"}
    assert data.iks(Quarter(2027, 1)) == {b"109999001"}
    assert data.iks(Quarter(2027, 2)) == {b"109999001", b"109999003"}


def test_newest_file_valid_in_the_quarter_is_used(tmp_path):
    (tmp_path / "SDKT_Q1_2027.xml").write_bytes(sdkt(entry("38825")))
    (tmp_path / "SDKT_Q2_2027.xml").write_bytes(sdkt(entry("38830")))
    data = load_directory(tmp_path)
    assert data.vknrs(Quarter(2027, 1)) == {b"38825"}
    assert data.vknrs(Quarter(2027, 3)) == {b"38830"}


def test_quarter_from_validity_when_not_in_the_name(tmp_path):
    path = tmp_path / "kostentraeger.xml"
    path.write_bytes(sdkt(entry("38825", "2027-02-01..")))
    assert load_sdkt(path).quarter == Quarter(2027, 1)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (sdkt(entry("3882")), "SDKT_Q1_2027.xml, Kostenträger Nr. 1: VKNR (V) „3882“"),
        (sdkt(entry("38825", ik="12345")), "IK „12345“ muss neun Ziffern haben"),
        (sdkt(entry("38825", "2027-13-01..")), "Gültigkeit „2027-13-01..“"),
        (sdkt(), "enthält keinen Kostenträger"),
        (b"<kostentraeger_liste><kostentraeger V='38825'>", "Zeile 1"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><kostentraeger_liste/>',
            "DOCTYPE/ENTITY-Angaben sind nicht erlaubt",
        ),
    ],
)
def test_bad_files_give_a_german_message_naming_file_and_place(tmp_path, content, expected):
    path = tmp_path / "SDKT_Q1_2027.xml"
    path.write_bytes(content)
    with pytest.raises(MasterDataError, match=re.escape(expected)):
        load_sdkt(path)


# --- rule 201: "Die Abrechnungs-VKNR (4104) muss in der Kostenträger-Stammdatei des Quartals
# stehen" (existence check against the Kassendatei SDKT) ---------------------------------------

Z01 = Path(__file__).parent / "fixtures" / "kbv" / "Z01123456699_27.10.2026_12.00.con"
#: the Abrechnungs-VKNR (4104) of the KBV test file's cases (quarter 4/2026)
FILE_VKNR = ["02402", "19969", "24602", "25984", "27606", "27822", "37601", "40101", "49402",
             "64808", "73310", "78818"]  # fmt: skip


def test_rule_201_runs_only_with_the_sdkt(tmp_path):
    import datetime as dt

    from kvportal.kvdt import validate_file

    today = dt.date(2027, 1, 15)
    without = validate_file(Z01, today=today)
    assert "201" in without.not_checked and "201" not in without.rules()
    (tmp_path / "SDKT_Q4_2026.xml").write_bytes(sdkt(*(entry(v) for v in FILE_VKNR)))
    full = validate_file(Z01, today=today, masterdata=load_directory(tmp_path))
    assert "201" not in full.rules() and "201" not in full.not_checked
    # 40101 unknown: break exactly once (one case carries it)
    (tmp_path / "SDKT_Q4_2026.xml").write_bytes(
        sdkt(*(entry(v) for v in FILE_VKNR if v != "40101"))
    )
    broken = validate_file(Z01, today=today, masterdata=load_directory(tmp_path))
    hits = [m for m in broken.messages if m.rule == "201"]
    # XPM catalogue (KVDT-R201): "Info" - a temporary Kostenträger is no error
    assert len(hits) == 1 and hits[0].severity == "I" and "40101" in hits[0].text
    # a Kostenträger whose validity ended before the quarter is in the Stammdatei: not 201,
    # but KVDT-RQL2 ("zum Abrechnungszeitpunkt ungültig")
    (tmp_path / "SDKT_Q4_2026.xml").write_bytes(
        sdkt(
            *(
                entry(v, "2020-01-01..2026-09-30" if v == "40101" else "2020-01-01..")
                for v in FILE_VKNR
            )
        )
    )
    ended = validate_file(Z01, today=today, masterdata=load_directory(tmp_path))
    assert [m.rule for m in ended.messages].count("201") == 0
    assert [m.rule for m in ended.messages].count("KVDT-RQL2") == 1

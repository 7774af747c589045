"""ICD-10-GM master file (KBV Schnittstelle SDICD, schema icd): loading and validity per year.

The fixture is synthetic, built in the published format: `diagnose` with `icd_code V`,
`abrechenbar V=j|n`, optional `geschlechtsbezug V=m|w`; a nested `diagnosen_liste` holds the
sub-codes, so a code with one is not terminal.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kvportal.core.quarters import Quarter
from kvportal.kvdt.masterdata import MasterDataError, load_directory, load_sdicd

FIXTURE = Path(__file__).parent / "fixtures" / "stammdaten" / "ICDStamm2027.xml"


def sdicd(*diagnoses: str) -> bytes:
    return (
        '<icd_stammdaten xmlns="urn:ehd/icd/001"><kapitel_liste><kapitel><gruppen_liste><gruppe>'
        f"<diagnosen_liste>{''.join(diagnoses)}</diagnosen_liste>"
        "</gruppe></gruppen_liste></kapitel></kapitel_liste></icd_stammdaten>"
    ).encode()


def test_fixture_codes_billability_and_terminality():
    icd = load_sdicd(FIXTURE)
    assert icd.year == 2027
    assert set(icd.codes) == {"J06", "J06.9", "N40"}
    assert not icd.codes["J06"].terminal and not icd.codes["J06"].billable
    assert icd.codes["J06.9"].terminal and icd.codes["J06.9"].billable
    assert icd.codes["N40"].sex == "m" and icd.codes["J06.9"].sex is None


def test_valid_in_the_quarters_of_its_year_only():
    data = load_directory(FIXTURE.parent)
    assert "J06.9" in data.icd_codes(Quarter(2027, 3))
    assert data.icd_codes(Quarter(2026, 4)) is None
    assert data.icd_codes(Quarter(2028, 1)) is None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (sdicd('<diagnose><icd_code V="J6"/><abrechenbar V="j"/></diagnose>'), "ICD-Code „J6“"),
        (
            sdicd('<diagnose><icd_code V="J06.9"/><abrechenbar V="x"/></diagnose>'),
            "abrechenbar muss j oder n sein",
        ),
        (sdicd('<diagnose><icd_code V="J06.9"/></diagnose>'), "ohne icd_code oder abrechenbar"),
        (sdicd(), "enthält keine Diagnose"),
        (b"<icd_stammdaten><diagnose>", "kein gültiges XML"),
    ],
)
def test_bad_files_give_a_german_message_naming_file_and_line(tmp_path, content, expected):
    path = tmp_path / "ICDStamm2027.xml"
    path.write_bytes(content)
    with pytest.raises(MasterDataError, match=re.escape(expected)) as info:
        load_sdicd(path)
    assert "ICDStamm2027.xml" in str(info.value)


def test_year_must_be_known(tmp_path):
    path = tmp_path / "ICDStamm.xml"
    path.write_bytes(sdicd('<diagnose><icd_code V="J06.9"/><abrechenbar V="j"/></diagnose>'))
    with pytest.raises(MasterDataError, match="Jahr der ICD-10-GM-Version"):
        load_sdicd(path)
    assert load_sdicd(path, year=2027).year == 2027

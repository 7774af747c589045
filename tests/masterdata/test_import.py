"""Import of KBV master files into the database and `selectors.for_quarter`."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from kvportal.audit.models import AccessLogEntry
from kvportal.core.quarters import Quarter
from kvportal.kvdt.management.commands.kvdt import Command
from kvportal.kvdt.masterdata import MasterDataError
from kvportal.masterdata import selectors
from kvportal.masterdata.models import MasterFile
from kvportal.masterdata.services import import_directory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parents[1] / "kvdt" / "fixtures" / "stammdaten"


@pytest.fixture
def directory(tmp_path):
    for path in FIXTURES.iterdir():
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    command = Command(stdout=out, stderr=err)
    call_command(command, "stammdaten", *args)
    return command.exit_code, out.getvalue(), err.getvalue()


def test_import_is_idempotent_and_audited(directory):
    first = import_directory(None, directory=directory)
    assert sorted(first.imported) == ["ICDStamm2027.xml", "SDKT_Q1_2027.xml"]
    second = import_directory(None, directory=directory)
    assert second.imported == [] and sorted(second.unchanged) == sorted(first.imported)
    assert MasterFile.objects.count() == 2
    assert AccessLogEntry.objects.filter(object_type="masterdata.MasterFile").count() == 1


def test_for_quarter_gives_the_data_valid_in_the_quarter(directory):
    import_directory(None, directory=directory)
    data = selectors.for_quarter(Quarter(2027, 2))
    assert data is not None
    assert data.vknrs(Quarter(2027, 2)) == {b"38825", b"38826", b"38827"}  # the whole file
    assert data.iks(Quarter(2027, 2)) == {b"109999001", b"109999003"}  # valid in the quarter
    assert data.icd_codes(Quarter(2027, 2))["J06.9"].terminal
    assert selectors.for_quarter(Quarter(2026, 4)) is None


def test_a_bad_file_imports_nothing(directory):
    import_directory(None, directory=directory)
    before = list(MasterFile.objects.values_list("sha256", flat=True).order_by("pk"))
    (directory / "SDKT_Q1_2027.xml").write_text("<kostentraeger_liste>", encoding="utf-8")
    (directory / "ICDStamm2027.xml").write_text(  # changed, valid: must not be written either
        '<icd_stammdaten><diagnose><icd_code V="A00"/><abrechenbar V="n"/></diagnose>'
        "</icd_stammdaten>",
        encoding="utf-8",
    )
    with pytest.raises(MasterDataError, match=r"SDKT_Q1_2027\.xml, Zeile 1"):
        import_directory(None, directory=directory)
    assert list(MasterFile.objects.values_list("sha256", flat=True).order_by("pk")) == before


def test_quarter_option_imports_only_files_valid_in_it(directory):
    result = import_directory(None, directory=directory, quarter=Quarter(2028, 1))
    assert result.imported == ["SDKT_Q1_2027.xml"]  # ICD 2027 is not valid in 2028
    with pytest.raises(MasterDataError, match="keine Stammdatei für das Quartal"):
        import_directory(None, directory=directory, quarter=Quarter(2026, 4))


def test_command_messages_are_german_and_name_the_file(directory):
    code, out, err = run("import", str(directory), "--quarter", "1/2027")
    assert code == 0 and "importiert: SDKT_Q1_2027.xml" in out
    code, out, _ = run("import", str(directory))
    assert code == 0 and "unverändert: SDKT_Q1_2027.xml" in out
    (directory / "ICDStamm2027.xml").write_text("<x", encoding="utf-8")
    code, _, err = run("import", str(directory))
    assert code == 64 and "ICDStamm2027.xml, Zeile 1" in err and "nichts importiert" in err
    assert "Traceback" not in err
    code, _, err = run("import")
    assert code == 64 and "Aufruf: kvportal kvdt stammdaten import" in err
    code, _, err = run("import", str(directory), "--quarter", "Q9/2027")
    assert code == 64 and "Fehler:" in err


def test_ebm_and_ops_files_are_imported_and_read_back(tmp_path):
    """SDEBM/SDOPS (published eHD formats, synthetic content) survive the database round trip."""
    from kvportal.kvdt.masterdata import load_directory
    from tests.kvdt.stammdaten import gnr, opscode, sdebm, sdops

    q = Quarter(2027, 1)
    (tmp_path / "SDEBM_01.62_74_tf2027q1_nr1.xml").write_bytes(
        sdebm(q, [gnr("03000"), gnr("31101", "2020-01-01..2027-03-31", [("SEQUENZ", ["5034"])])])
    )
    (tmp_path / "SDOPS_01.00_74_tf2027q1_nr1.xml").write_bytes(
        sdops(q, [opscode("5-812.5", True), opscode("1-100")])
    )
    result = import_directory(None, directory=tmp_path)
    assert len(result.imported) == 2
    data = selectors.for_quarter(Quarter(2027, 2))
    direct = load_directory(tmp_path)
    assert data.ebm(Quarter(2027, 2)).gnrs == direct.ebm_files[0].gnrs
    assert data.ops(Quarter(2027, 2)).codes == direct.ops_files[0].codes
    assert data.available(Quarter(2027, 2)) == {"sdebm", "sdops"}
    assert selectors.for_quarter(Quarter(2026, 4)) is None


def test_properties_the_rules_use_survive_the_database(tmp_path):
    """SDICD age/sex/notation flags, SDKT fee schedule and excluded KVs, SDEBM Begründungen:
    the check on imported data sees what the check on the directory sees."""
    from kvportal.kvdt.masterdata import load_directory
    from tests.kvdt.stammdaten import diagnose, gnr, kostentraeger, sdebm, sdicd, sdkt

    q = Quarter(2027, 1)
    (tmp_path / "ICDStamm2027.xml").write_bytes(
        sdicd(
            [
                diagnose(
                    "P07.3",
                    sex="w",
                    sex_error="m",
                    age_high=(28, "Tag"),
                    age_error="k",
                    notation="+",
                    rare=True,
                    empty=True,
                    reportable=True,
                )
            ]
        )
    )
    (tmp_path / "SDKT_Q1_2027.xml").write_bytes(
        sdkt(
            [
                kostentraeger(
                    "38825", ["109999001"], fee_schedule="1", excluded_kvs=["17"], group="75"
                )
            ]
        )
    )
    (tmp_path / "SDEBM_01.62_74_tf2027q1_nr1.xml").write_bytes(
        sdebm(q, [gnr("31196", ops=["5-530"], reasons=["31100"])])
    )
    import_directory(None, directory=tmp_path)
    stored = selectors.for_quarter(q)
    direct = load_directory(tmp_path)
    assert stored is not None
    assert stored.icd_codes(q) == direct.icd_codes(q)
    assert stored.kt_file(q).entries == direct.kt_file(q).entries
    assert stored.ebm(q).gnrs == direct.ebm(q).gnrs
    assert stored.kt_file(q).entries[0].excluded_kvs == ("17",)
    assert stored.kt_file(q).entries[0].group == "75"  # Kostenträgergruppe (R734) is kept


def test_hgnc_key_table_is_imported_for_every_quarter(tmp_path):
    from kvportal.kvdt.masterdata import HGNC_OID
    from tests.kvdt.stammdaten import keytab

    (tmp_path / "S_KBV_HGNC_V1.05.xml").write_bytes(
        keytab(HGNC_OID, "S_KBV_HGNC", "1.05", [("HGNC:1097", "BRAF")])
    )
    # an unrelated key table in the same directory is read but not stored
    (tmp_path / "S_KBV_SCHEINART_V1.02.xml").write_bytes(
        keytab("1.2.276.0.76.5.235", "S_KBV_SCHEINART", "1.02", [("00", "ambulant")])
    )
    result = import_directory(None, directory=tmp_path)
    assert result.imported == ["S_KBV_HGNC_V1.05.xml"]
    for q in (Quarter(2026, 4), Quarter(2027, 3)):
        data = selectors.for_quarter(q)
        assert data is not None and data.hgnc_symbols(q) == frozenset({b"BRAF"})


def test_sdav_is_imported_and_versioned_by_quarter(tmp_path):
    from tests.kvdt.stammdaten import sdav

    (tmp_path / "SDAV74_1.426").write_bytes(sdav(Quarter(2026, 4), [("010123400", ["010123401"])]))
    (tmp_path / "SDAV74_1.127").write_bytes(sdav(Quarter(2027, 1), [("380000100", [])]))
    import_directory(None, directory=tmp_path)
    q4 = selectors.for_quarter(Quarter(2026, 4))
    q1 = selectors.for_quarter(Quarter(2027, 2))
    assert q4.av_file(Quarter(2026, 4)).bsnrs == {b"010123400", b"010123401"}
    assert q1.av_file(Quarter(2027, 2)).bsnrs == {b"380000100"}
    assert selectors.for_quarter(Quarter(2026, 3)) is None


def test_rv_key_table_keeps_gop_and_gueltigkeit_in_the_database(tmp_path):
    from kvportal.kvdt.masterdata import RV_OID
    from tests.kvdt.stammdaten import keytab

    (tmp_path / "S_NVV_RV_ZERTIFIKAT_V1.00.xml").write_bytes(
        keytab(RV_OID, "S_NVV_RV_ZERTIFIKAT", "1.00", [("004", "Glukose", "32057", "2026-01-01..")])
    )
    import_directory(None, directory=tmp_path)
    q = Quarter(2026, 4)
    data = selectors.for_quarter(q)
    assert data is not None and data.rv_gops(q) == {b"32057": frozenset({b"004"})}


def test_sdhdrg_is_imported_and_valid_for_its_service_period(tmp_path):
    from tests.kvdt.stammdaten import sdhdrg

    (tmp_path / "sdhdrg_02.0.0_74_tf+2026q1.xml").write_bytes(
        sdhdrg("2026-01-01..2026-12-31", ["F50M", "G09N"])
    )
    assert import_directory(None, directory=tmp_path).imported == ["sdhdrg_02.0.0_74_tf+2026q1.xml"]
    data = selectors.for_quarter(Quarter(2026, 3))
    assert data is not None
    hdrg = data.hdrg_file(Quarter(2026, 3))
    assert hdrg is not None and hdrg.codes == {"F50M", "G09N"}
    assert "sdhdrg" in data.available(Quarter(2026, 3))
    # the service_tmr ended with 2026: nothing valid in 2027
    assert selectors.for_quarter(Quarter(2027, 1)) is None

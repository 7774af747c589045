"""HGNC key table (KBV Schlüsseltabelle, OID 1.2.276.0.76.3.1.1.5.2.117) and rule 222.

Rule 222 (ADT rule table, "Existenzprüfung Datei HGNC-Schlüsseltabelle", XPM KVDT-R222:
Fehler): the HGNC gene symbol in FK 5077 must be a `key/@DN` of the table. The Ersatzwert
999999 is a key of the table itself (Anforderungskatalog KVDT, KP2-621) and always allowed.
"""

from __future__ import annotations

import io

import pytest

from kvportal.core.quarters import Quarter
from kvportal.kvdt import validate_file
from kvportal.kvdt.masterdata import HGNC_OID, MasterDataError, load_directory, load_keytab
from tests.kvdt.stammdaten import keytab
from tests.kvdt.test_rule_table import CHECK_DATE, Z01, dump, load

KEYS = [
    ("HGNC:5", "A1BG"),
    ("HGNC:1097", "BRAF"),
    ("KBV:1::2", "BCR::ABL1"),
    ("KBV:999999", "999999"),
]


def with_gene(records, *symbols: str, gnr: str = "31196"):
    """Put the gene symbols (5077) on the first service `gnr`."""
    for rec in records:
        for i, (f, v) in enumerate(rec):
            if f == "5001" and v == gnr:
                for s in reversed(symbols):
                    rec.insert(i + 1, ["5077", s])
                return records
    raise LookupError(gnr)


def run(tmp_path, records, keys=KEYS, name="S_KBV_HGNC_V1.05.xml"):
    (tmp_path / name).write_bytes(keytab(HGNC_OID, "S_KBV_HGNC", "1.05", keys))
    return validate_file(
        io.BytesIO(dump(records)), today=CHECK_DATE, masterdata=load_directory(tmp_path)
    )


def r222(report):
    return [m for m in report.messages if m.rule == "222"]


def test_loader_reads_oid_name_version_and_keys(tmp_path):
    path = tmp_path / "S_KBV_HGNC_V1.05.xml"
    path.write_bytes(keytab(HGNC_OID, "S_KBV_HGNC", "1.05", KEYS))
    table = load_keytab(path)
    assert (table.oid, table.name, table.version, table.quarter) == (
        HGNC_OID,
        "S_KBV_HGNC",
        "1.05",
        None,
    )
    assert table.keys["HGNC:1097"] == "BRAF"
    data = load_directory(tmp_path)
    assert b"BCR::ABL1" in data.hgnc_symbols(Quarter(2026, 4))
    assert "hgnc" in data.available(Quarter(2026, 4))


def test_newest_version_wins(tmp_path):
    (tmp_path / "S_KBV_HGNC_V1.04.xml").write_bytes(
        keytab(HGNC_OID, "S_KBV_HGNC", "1.04", KEYS[:1])
    )
    (tmp_path / "S_KBV_HGNC_V1.10.xml").write_bytes(keytab(HGNC_OID, "S_KBV_HGNC", "1.10", KEYS))
    assert b"BRAF" in load_directory(tmp_path).hgnc_symbols(None)


def test_bad_key_table_gives_a_german_message(tmp_path):
    path = tmp_path / "S_KBV_HGNC.xml"
    path.write_bytes(b'<keytabs xmlns="urn:ehd/001"><keytab S="1.2" SN="X" SV="1"/></keytabs>')
    with pytest.raises(MasterDataError, match="keine Schlüsseltabelle"):
        load_keytab(path)


def test_222_symbol_not_in_the_table(tmp_path):
    found = r222(run(tmp_path, with_gene(load(Z01), "BRAF", "NOTAGENE")))
    assert len(found) == 1 and found[0].severity == "F" and "NOTAGENE" in found[0].text


def test_222_known_symbols_fusion_genes_and_the_ersatzwert_pass(tmp_path):
    records = with_gene(load(Z01), "A1BG", "BCR::ABL1", "999999")
    report = run(tmp_path, records)
    assert not r222(report) and "222" not in report.not_checked


def test_222_not_checked_without_the_table(tmp_path):
    report = validate_file(io.BytesIO(dump(with_gene(load(Z01), "NOTAGENE"))), today=CHECK_DATE)
    assert not r222(report) and "222" in report.not_checked
    assert any("HGNC-Schlüsseltabelle" in r for r in report.not_checked_reasons)

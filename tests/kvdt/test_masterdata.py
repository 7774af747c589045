"""Master-data layer: the PLZ master file (KBV Datensatzbeschreibung SDPLZ) and rules 478/783.

The SDPLZ files here are synthetic, built in the published format (plz0 with 9111/9212,
2150 records with 0150/3116/3117, plz9).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from kvportal.core.quarters import Quarter
from kvportal.kvdt import cli, validate_file
from kvportal.kvdt.masterdata import MasterDataError, load_directory, load_plz

FIXTURES = Path(__file__).parent / "fixtures" / "kbv"
Z01 = FIXTURES / "Z01123456699_27.10.2026_12.00.con"
CHECK_DATE = dt.date(2027, 1, 15)
#: PLZ of the KBV test file's cases without a card read (0102/0104 etc.)
FILE_PLZ = ["51105", "50999", "50997", "51469", "37213", "56070", "50668", "08064", "50859",
            "50877", "26723", "42799", "50854", "12157"]  # fmt: skip


def line(fk: str, value: str) -> bytes:
    return b"%03d%s%s\r\n" % (len(value) + 9, fk.encode(), value.encode("ascii"))


def sdplz(quarter: str, postcodes: list[str]) -> bytes:
    out = [line("8000", "plz0"), line("9103", "01102026"), line("9106", "3")]
    out += [line("9111", quarter), line("9212", "PLZ1016.01")]
    for plz in postcodes:
        out += [line("8000", "2150"), line("0150", plz), line("3116", "38"), line("3117", "27")]
    out.append(line("8000", "plz9"))
    return b"".join(out)


def test_loader_reads_the_published_format(tmp_path):
    path = tmp_path / "PLZ74_1.426"
    path.write_bytes(sdplz("42026", ["01067", "51105"]))
    plz = load_plz(path)
    assert plz.quarter == Quarter(2026, 4)
    assert plz.version == "PLZ1016.01"
    assert plz.postcodes == {b"01067", b"51105"}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"0138000plz0\r\n014911142026\r\n", "plz9"),
        (b"0138000plz0\r\n0138000plz9\r\n", "9111"),
        (b"xx\r\n", "Zeile 1"),
    ],
)
def test_broken_master_file_gives_a_german_message(tmp_path, content, words):
    path = tmp_path / "PLZ74_1.426"
    path.write_bytes(content)
    with pytest.raises(MasterDataError, match=words):
        load_plz(path)


def test_versioned_by_quarter(tmp_path):
    (tmp_path / "PLZ74_1.326").write_bytes(sdplz("32026", ["11111"]))
    (tmp_path / "PLZ74_1.426").write_bytes(sdplz("42026", ["22222"]))
    (tmp_path / "PLZ74_1.127").write_bytes(sdplz("12027", ["33333"]))
    data = load_directory(tmp_path)
    assert data.postcodes(Quarter(2026, 4)) == {b"22222"}
    assert data.postcodes(Quarter(2026, 3)) == {b"11111"}
    assert data.postcodes(Quarter(2026, 2)) is None


def test_rule_478_runs_only_with_master_data(tmp_path):
    without = validate_file(Z01, today=CHECK_DATE)
    assert "478" not in without.rules()
    assert "478" in without.not_checked and "783" in without.not_checked
    (tmp_path / "PLZ74_1.426").write_bytes(sdplz("42026", FILE_PLZ))
    full = validate_file(Z01, today=CHECK_DATE, masterdata=load_directory(tmp_path))
    assert "478" not in full.rules() and "478" not in full.not_checked
    (tmp_path / "PLZ74_1.426").write_bytes(sdplz("42026", FILE_PLZ[1:]))  # 51105 missing
    broken = validate_file(Z01, today=CHECK_DATE, masterdata=load_directory(tmp_path))
    messages = [m for m in broken.messages if m.rule == "478"]
    assert messages and {m.severity for m in messages} == {"F"}
    assert all("51105" not in m.text for m in messages)  # the patient's PLZ is not repeated


def test_cli_stammdaten_option(tmp_path):
    (tmp_path / "PLZ74_1.426").write_bytes(sdplz("42026", FILE_PLZ[1:]))
    out, err = io.StringIO(), io.StringIO()
    args = ["check", str(Z01), "--today", "2027-01-15", "--json", "--stammdaten", str(tmp_path)]
    code = cli.main(args, stdout=out, stderr=err)
    assert code == 2
    assert "478" in {m["rule"] for m in json.loads(out.getvalue())["messages"]}
    code = cli.main(["check", str(Z01), "--stammdaten", str(tmp_path / "nope")], stdout=out,
                    stderr=err)  # fmt: skip
    assert code == 64 and "Stammdaten-Verzeichnis" in err.getvalue()

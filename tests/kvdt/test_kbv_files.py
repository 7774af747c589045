"""The KBV's own test-practice files (XPM KVDT Praxis 2026.4.x) pass without errors."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from kvportal.kvdt import validate_file
from kvportal.kvdt.messages import FEHLER, INFO, WARNUNG

FIXTURES = Path(__file__).parent / "fixtures" / "kbv"
#: Pinned check date: after the test quarter 4/2026 and after every date in the files.
CHECK_DATE = dt.date(2027, 1, 15)

FILES = {
    "Z05123456699_27.10.2026_12.00.con": (21197, {"adt0", "kad0"}),
    "Z01123456699_27.10.2026_12.00.con": (19819, {"adt0"}),
    "Z30123456699_27.10.2026_12.00.con": (3688, {"hdrg0"}),
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_fixture_is_a_faithful_iso_8859_15_crlf_copy(name):
    data = (FIXTURES / name).read_bytes()
    size, _packages = FILES[name]
    assert len(data) == size
    assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
    for line in data.split(b"\r\n")[:-1]:
        assert int(line[:3]) == len(line) + 2, line[:7]


@pytest.mark.parametrize("name", sorted(FILES))
def test_kbv_test_file_has_no_error(name):
    report = validate_file(FIXTURES / name, today=CHECK_DATE)
    errors = [(m.rule, m.line) for m in report.messages if m.severity == FEHLER]
    assert errors == []
    assert report.status in (0, 1)
    # every field id of the current test files is known to the field table
    assert not [m for m in report.messages if m.severity == INFO]


def test_z05_only_warns_about_versicherten_id_check_digits_and_the_recipient():
    report = validate_file(FIXTURES / "Z05123456699_27.10.2026_12.00.con", today=CHECK_DATE)
    warnings = {m.rule for m in report.messages if m.severity == WARNUNG}
    # R054 "kann" check digit (warning); KV-EMPFAENGER: the file is addressed to another KV
    assert warnings == {"054", "KV-EMPFAENGER"}
    # the KADT case (0109) is not measured against the last ADT case's quarter (no leak)
    kadt = [m for m in report.messages if m.satzart == "0109"]
    assert {m.rule for m in kadt} == {"054"}


def test_a_leaking_kadt_state_would_be_seen():
    """Break: a KADT case whose Leistungstag goes backwards is an error (KVDT-FSORT)."""
    data = (FIXTURES / "Z05123456699_27.10.2026_12.00.con").read_bytes()
    broken = data.replace(
        b"017500020260610\r\n014500101100\r\n",
        b"017500020260610\r\n014500101100\r\n017500020260601\r\n014500101100\r\n",
    )
    assert broken != data
    report = validate_file(io.BytesIO(broken), today=CHECK_DATE)
    assert "STR-SORT" in {m.rule for m in report.messages if m.severity == FEHLER}

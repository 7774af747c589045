"""Single format rules, checked through the validator on one field of a clean file."""

import io

import pytest

from kvportal.kvdt import validate_file
from kvportal.kvdt.validator import _kvnr_ok

from .conftest import TODAY


def line(fk: str, value: str) -> bytes:
    content = value.encode("iso-8859-15")
    return b"%03d%s%s\r\n" % (9 + len(content), fk.encode(), content)


KVNRS = [
    ("X110319454", True),
    ("G123456744", True),
    ("X110319455", False),
    ("x110319454", False),
    ("X11031945", False),
    ("1110319454", False),
]


@pytest.mark.parametrize(("kvnr", "ok"), KVNRS)
def test_versicherten_id_check_digit(kvnr, ok):
    assert _kvnr_ok(kvnr.encode()) is ok


def _replace_first(data: bytes, fk: str, value: str) -> bytes:
    start = data.index(fk.encode(), data.index(b"8000010")) - 3
    end = data.index(b"\r\n", start) + 2
    return data[:start] + line(fk, value) + data[end:]


@pytest.mark.parametrize(
    ("fk", "value", "rule"),
    [
        ("3103", "00000000", None),  # KBV substitute values for unknown birth dates
        ("3103", "19640800", None),
        ("3103", "19640000", None),
        ("3103", "19640230", "021"),
        ("6001", "J06.9", None),
        ("6001", "I10.90", None),
        ("6001", "R51", None),
        ("6001", "M54.-", "022"),
        ("6001", "M5.4", "022"),
        ("5001", "03000", None),
        ("5001", "88194A", None),
        ("5001", "03000a", "497"),  # generated cases carry 4121 = 0 (rule 497)
        ("4101", "02026", "016"),
        ("3110", "D", None),
        ("3110", "w", "533"),
        ("3119", "T555558879", "537"),  # the KBV dummy ID bills no services (rule 537)
        ("5099", "999999900", None),  # substitute value (Ersatzwert)
        ("5099", "888888800", "762"),
        ("5099", "59518533²", "050"),  # "²" is a digit for str.isdigit(), not for KVDT
        ("5098", "95123450²", "049"),
        ("5098", "041234500", "162"),
    ],
)
def test_single_field_formats(clean_file, fk, value, rule):
    data = _replace_first(clean_file, fk, value)
    rules = validate_file(io.BytesIO(data), today=TODAY).rules()
    assert rules == ({rule} if rule else set()) or (fk == "4101" and rule in rules)

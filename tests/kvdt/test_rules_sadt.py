"""SADT package (KVDT-Datensatzbeschreibung ch. 5, Schwangerschaftsabbruch NRW): Satztabellen
sad0-sad3, hierarchy as for ADT, rules 048, 048a and 709 on the Kennziffer SA (3005), with the
severities of the XPM catalogue (R048/R048a Fehler; R709 has no catalogue message: the SADT
rule table says W).

Files come from the generator (`packages=("ADT", "SADT")`), valid under all implemented
rules; each test changes what the rule text names.
"""

from __future__ import annotations

import io
import re

import pytest

from kvportal.kvdt import generate, validate_file
from tests.kvdt.conftest import BSNR, QUARTER, TODAY


def _file(*inject: str, packages=("ADT", "SADT")) -> bytes:
    return generate(8, seed=5, quarter=QUARTER, bsnr=BSNR, inject=inject, packages=packages)


def _found(data: bytes) -> dict[str, set[str]]:
    report = validate_file(io.BytesIO(data), today=TODAY)
    found: dict[str, set[str]] = {}
    for m in report.messages:
        found.setdefault(m.rule, set()).add(m.severity)
    return found


def _line(fk: str, value: str) -> bytes:
    content = value.encode("iso-8859-15")
    return b"%03d%s%s\r\n" % (len(content) + 9, fk.encode(), content)


def _set_kennziffer(data: bytes, value: str, *, nth: int = 0) -> bytes:
    """Replace the nth Kennziffer SA (3005) line by `value`."""
    lines = [m for m in re.finditer(rb"\d{3}3005[^\r]*\r\n", data)]
    m = lines[nth]
    return data[: m.start()] + _line("3005", value) + data[m.end() :]


def _kennziffer(data: bytes, nth: int = 0) -> str:
    return re.findall(rb"\d{3}3005([^\r]*)\r\n", data)[nth].decode()


@pytest.mark.parametrize("packages", [("SADT",), ("ADT", "SADT"), ("ADT", "KADT", "SADT")])
def test_generated_sadt_packages_are_clean(packages):
    data = _file(packages=packages)
    assert b"8000sad1" in data and b"3005" in data
    assert _found(data) == {}


@pytest.mark.parametrize("rule", ["048", "048a", "709"])
def test_inject_breaks_exactly_that_rule(rule):
    assert set(_found(_file(rule))) == {rule}


# -- R048: nddddddnnnnnnnnnnnnna[a][a][a][a][a][a] -------------------------------------------
@pytest.mark.parametrize(
    "change",
    [
        lambda k: "2" + k[1:],  # Stelle 1 only 0 or 1
        lambda k: k[:12] + "A" + k[13:],  # Stellen 8-20 numeric
        lambda k: k[:20],  # at least one alphanumeric character at Stelle 21
        lambda k: k[:20] + "-",  # Stellen 21-27 alphanumeric
    ],
)
def test_048_format_break(change):
    data = _file()
    data = _set_kennziffer(data, change(_kennziffer(data)))
    assert _found(data).get("048") == {"F"}


@pytest.mark.parametrize("tail", ["A", "ABCDEFG", "1234567"])
def test_048_no_break_for_every_allowed_length(tail):
    data = _file()
    data = _set_kennziffer(data, _kennziffer(data)[:20] + tail)
    assert "048" not in _found(data)


def test_048_value_is_not_shown():
    """The Kennziffer SA carries the birth date: the message never quotes it."""
    data = _file()
    bad = "2" + _kennziffer(data)[1:]
    report = validate_file(io.BytesIO(_set_kennziffer(data, bad)), today=TODAY)
    (message,) = [m for m in report.messages if m.rule == "048"]
    assert bad not in message.text and bad[1:7] not in message.text


# -- R048a: Stellen 2-7 TTMMJJ ----------------------------------------------------------------
@pytest.mark.parametrize("date", ["310426", "300226", "001226", "011326"])
def test_048a_break_no_date(date):
    data = _file()
    k = _kennziffer(data)
    found = _found(_set_kennziffer(data, k[0] + date + k[7:]))
    assert found.get("048a") == {"F"} and "048" not in found


@pytest.mark.parametrize("date", ["290224", "311226", "010100"])
def test_048a_no_break_valid_date(date):
    data = _file()
    k = _kennziffer(data)
    assert "048a" not in _found(_set_kennziffer(data, k[0] + date + k[7:]))


# -- R709: 1. Stelle "0" -> no billing over SADT (W) -----------------------------------------
def test_709_break_first_digit_zero():
    data = _file()
    found = _found(_set_kennziffer(data, "0" + _kennziffer(data)[1:]))
    assert found == {"709": {"W"}}


def test_709_no_break_first_digit_one():
    data = _file()
    assert _kennziffer(data)[0] == "1"
    assert "709" not in _found(data)


# -- Satztabellen and hierarchy ---------------------------------------------------------------
def _drop_first(data: bytes, fk: str, after: bytes = b"8000sad1") -> bytes:
    start = data.index(after)
    m = re.compile(rb"\d{3}" + fk.encode() + rb"[^\r]*\r\n").search(data, start)
    assert m is not None
    return data[: m.start()] + data[m.end() :]


@pytest.mark.parametrize("fk", ["3005", "4101", "4104", "4111", "5000", "5001"])
def test_mandatory_fields_of_sad1(fk):
    found = _found(_drop_first(_file(), fk))
    assert "STR-MUSS" in found or "KVDT-FEHL" in found


@pytest.mark.parametrize("fk", ["5098", "5099"])
def test_every_gnr_of_sad1_needs_place_and_doctor(fk):
    """Satztabelle 5.4.3: 5098 and 5099 are M under each 5001 (XPM KVDT-FEHL)."""
    assert _found(_drop_first(_file(), fk)).get("KVDT-FEHL") == {"F"}


def test_sad2_needs_its_referral_fields():
    data = _file()
    start = data.index(b"8000sad1")
    data = data[:start] + data[start:].replace(b"8000sad1", b"8000sad2", 1)
    found = _found(data)
    assert "STR-MUSS" in found  # 4205, 4218, 4220 are M in sad2
    # with them the record is complete
    m = re.compile(rb"\d{3}4111[^\r]*\r\n").search(data, start)
    fixed = (
        data[: m.end()]
        + _line("4205", "Auftrag")
        + _line("4218", BSNR)
        + _line("4220", "Gynäkologie")
        + data[m.end() :]
    )
    assert "STR-MUSS" not in _found(fixed)


def test_service_field_belongs_behind_its_gnr_in_sadt():
    """Satztabelle 5.4.3: 5009 (Begründungstext) is level 3 under 5001 – after the GNR it is
    fine, before it (directly after 5000) it is XPM KVDT-FK5001."""
    data = _file()
    start = data.index(b"8000sad1")
    m = re.compile(rb"\d{3}5001[^\r]*\r\n").search(data, start)
    after = data[: m.end()] + _line("5009", "Begründung") + data[m.end() :]
    assert _found(after) == {}
    before = data[: m.start()] + _line("5009", "Begründung") + data[m.start() :]
    assert _found(before) == {"KVDT-FK5001": {"F"}}


def test_sadt_quarter_rule_324():
    """SADT rule table 324: the Leistungstag lies in the quarter of 4101."""
    data = _file()
    start = data.index(b"8000sad1")
    m = re.compile(rb"\d{3}5000[^\r]*\r\n").search(data, start)
    before = QUARTER.start.replace(day=1).toordinal() - 1
    import datetime as dt

    day = dt.date.fromordinal(before).strftime("%Y%m%d")
    assert _found(data[: m.start()] + _line("5000", day) + data[m.end() :]).get("324") == {"F"}

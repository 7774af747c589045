"""The validator's speed caches (issue 12: line cache, fast path) change no result.

A line that passed the format check silently is remembered whole; a line that passed with a
message (pseudo-LANR warning, blanks around a value) must be reported every time it occurs,
and every file must give the same report with the caches switched off.
"""

from __future__ import annotations

import io

import pytest

from kvportal.kvdt import generate, validate_file
from kvportal.kvdt import validator as V
from tests.kvdt.conftest import BSNR, QUARTER, TODAY
from tests.kvdt.test_rule_table import CHECK_DATE, Z01, case, dump, load


def _messages(data: bytes, today=CHECK_DATE) -> list[tuple]:
    report = validate_file(io.BytesIO(data), today=today)
    return [(m.rule, m.severity, m.line, m.field, m.text) for m in report.messages]


def _gnr_case(records):
    return case(records, "0101", has=("5099",), where=lambda d: True)


def test_a_warned_lanr_is_reported_on_every_line():
    """Pseudo-LANR (999999…) in 5099 only warns (R050 W) – on each of its lines."""
    records = load(Z01)
    rec = _gnr_case(records)
    lanr_lines = [item for item in rec if item[0] == "5099"]
    for item in lanr_lines:
        item[1] = "999999900"[:6] + "123"
    found = [m for m in _messages(dump(records)) if m[0] == "050"]
    assert len(found) == len(lanr_lines) >= 1
    # a second, identical case: its lines are reported again
    records.insert(records.index(rec) + 1, [list(item) for item in rec])
    found = [m for m in _messages(dump(records)) if m[0] == "050"]
    assert len(found) == 2 * len(lanr_lines)


def test_blanks_around_a_value_are_reported_every_time():
    records = load(Z01)
    rec = _gnr_case(records)
    rec.append(["4205", "Auftrag "])
    for _ in range(3):  # the first line takes the slow path, the others the fast one
        records.insert(records.index(rec) + 1, [list(item) for item in rec])
    found = [m for m in _messages(dump(records)) if m[0] == "SYN-BLANK" and m[3] == "4205"]
    assert len(found) == 4


@pytest.fixture
def no_caches(monkeypatch):
    """Validate without the line cache and with a cold fast path."""

    def _run(data: bytes, today) -> list[tuple]:
        with monkeypatch.context() as m:
            m.setattr(V, "_LINE_FIELDS", frozenset())
            m.setattr(V, "_FAST", {})
            return _messages(data, today)

    return _run


@pytest.mark.parametrize(
    "inject",
    [(), ("050", "054", "715", "716"), ("SYN-BLANK", "STR-ZUORDNUNG", "324", "480"), ("859",)],
)
def test_same_report_with_and_without_caches(inject, no_caches):
    data = generate(30, seed=11, quarter=QUARTER, bsnr=BSNR, inject=inject)
    data += data[: len(data) // 3]  # repeated lines after con9: more cache hits, more messages
    assert _messages(data, TODAY) == no_caches(data, TODAY)


def test_same_report_for_the_kbv_file_with_and_without_caches(no_caches):
    data = dump(load(Z01))
    assert _messages(data) == no_caches(data, CHECK_DATE)

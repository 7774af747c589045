"""Pseudo-LANR for hospital doctors in ASV billing, format 555555nff (issue 12): rule 063 (F)
on 0223 (Container-Regeltabelle) and 5101 (ADT-Feldtabelle), rule 064 (W) on 4248 and 4249
(ADT-Feldtabelle); severities as in the XPM catalogue (KVDT-R063 Fehler, KVDT-R064 Warnung).

Each case starts from the KBV test-practice file Z01 (valid) and adds the field once with a
number that does not start with 555555 (break) and once with 555555nff (no break).
"""

from __future__ import annotations

import pytest

from tests.kvdt.test_rule_table import Z01, card_case, case, dump, ins, load, rules_of

WRONG = "123456701"  # nine digits, not 555555nff
RIGHT = "555555101"  # 555555, Ordnungsnummer 1, Fachgruppe 01


def _besa(records, value):
    ins(case(records, "besa"), "0223", value, after="0212")


def _service(records, value):
    ins(card_case(records), "5101", value, after="5001")


def _referral(fk):
    def _put(records, value):
        ins(case(records, "0102"), fk, value, after="4239")

    return _put


@pytest.mark.parametrize(
    ("rule", "severity", "place"),
    [
        ("063", "F", _besa),
        ("063", "F", _service),
        ("064", "W", _referral("4248")),
        ("064", "W", _referral("4249")),
    ],
    ids=["0223", "5101", "4248", "4249"],
)
def test_pseudo_lanr_asv_format(rule, severity, place):
    broken = load(Z01)
    place(broken, WRONG)
    assert rules_of(dump(broken)).get(rule) == {severity}
    fine = load(Z01)
    place(fine, RIGHT)
    assert rule not in rules_of(dump(fine))


def test_the_kbv_file_itself_has_neither():
    found = rules_of(dump(load(Z01)))
    assert "063" not in found and "064" not in found

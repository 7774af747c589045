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


# -- R059: ASV-Teamnummer 00nnnnnnP (Info) ----------------------------------------------------
def _team(six: str) -> str:
    """A valid ASV-Teamnummer: 00, six digits, check digit by the LANR procedure (4/9)."""
    total = sum(int(d) * w for d, w in zip(six, (4, 9, 4, 9, 4, 9), strict=True))
    return f"00{six}{(10 - total % 10) % 10}"


def _besa_team(records, value):
    ins(case(records, "besa"), "0222", value, after="0212")


def _service_team(records, value):
    ins(card_case(records), "5100", value, after="5001")


@pytest.mark.parametrize("place", [_besa_team, _service_team], ids=["0222", "5100"])
@pytest.mark.parametrize(
    "wrong",
    [
        lambda ok: ok[:8] + str((int(ok[8]) + 1) % 10),  # wrong check digit
        lambda ok: "10" + ok[2:],  # does not start with 00
    ],
    ids=["check-digit", "prefix"],
)
def test_059_asv_team_number(place, wrong):
    good = _team("123456")
    assert good == "001234566"  # weights 4,9: 4+18+12+36+20+54 = 144 -> 10 - 4 = 6
    broken = load(Z01)
    place(broken, wrong(good))
    assert rules_of(dump(broken)).get("059") == {"I"}
    fine = load(Z01)
    place(fine, good)
    assert "059" not in rules_of(dump(fine))


# -- R862: each 0225 value at most once per (N)BSNR (besides R858: exactly once) --------------
def test_862_duplicate_ti_application():
    broken = load(Z01)
    besa = case(broken, "besa")
    first = next(i for i, (fk, _) in enumerate(besa) if fk == "0225")
    besa.insert(first + 2, list(besa[first]))  # the same 0225 value again, with its 0226
    besa.insert(first + 3, list(besa[first + 1]))
    found = rules_of(dump(broken))
    assert found.get("862") == {"F"} and found.get("858") == {"F"}


def test_862_not_for_a_missing_ti_application():
    """A value that is missing breaks only 'exactly once' (858), not 'at most once' (862)."""
    broken = load(Z01)
    besa = case(broken, "besa")
    first = next(i for i, (fk, _) in enumerate(besa) if fk == "0225")
    del besa[first : first + 2]
    found = rules_of(dump(broken))
    assert found.get("858") == {"F"} and "862" not in found
    assert "862" not in rules_of(dump(load(Z01)))

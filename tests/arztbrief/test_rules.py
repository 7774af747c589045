"""GOP 86900/86901 checks, table-driven from the EBM text (shared/reference/kvdt.md § 4):
86900 Versand 0,28 € je Empfänger-Praxis, 86901 Empfang 0,27 €, only with QES over KIM,
together at most 23,40 € per doctor and quarter."""

from __future__ import annotations

import pytest

from kvportal.arztbrief.rules import CAP_CENTS, LetterCounts, check_earztbrief

A, B = "123456601", "234567801"
PLENTY = LetterCounts(sent=500, received=500)


@pytest.mark.parametrize(
    ("sent", "received", "billed_sent", "billed_received", "codes"),
    [
        # within the counted letters and the cap
        (10, 10, 10, 10, []),
        (10, 10, 0, 0, []),
        # more billed than sent / received over the portal's KIM
        (3, 10, 4, 0, ["over_sent"]),
        (10, 2, 0, 3, ["over_received"]),
        (0, 0, 1, 1, ["over_sent", "over_received"]),
        # cap: 83 × 0,28 € = 23,24 € fits, 84 × 0,28 € = 23,52 € does not
        (500, 500, 83, 0, []),
        (500, 500, 84, 0, ["over_cap"]),
        # cap: 86 × 0,27 € = 23,22 € fits, 87 × 0,27 € = 23,49 € does not
        (500, 500, 0, 86, []),
        (500, 500, 0, 87, ["over_cap"]),
        # together: 40 × 0,28 + 45 × 0,27 = 23,35 € fits; one more receipt = 23,62 €
        (500, 500, 40, 45, []),
        (500, 500, 40, 46, ["over_cap"]),
        # both kinds of warning at once
        # 45 × 0,28 + 40 × 0,27 = 23,40 € exactly: the cap is reached, not exceeded
        (40, 40, 45, 40, ["over_sent"]),
        (10, 500, 10, 80, ["over_cap"]),
        (10, 10, 90, 0, ["over_sent", "over_cap"]),
    ],
)
def test_table(sent, received, billed_sent, billed_received, codes):
    warnings = check_earztbrief(
        counted={A: LetterCounts(sent=sent, received=received)},
        billed={A: {"86900": billed_sent, "86901": billed_received}},
    )
    assert [w.code for w in warnings] == codes
    assert all(w.lanr == A for w in warnings)


def test_cap_is_per_doctor_not_per_practice():
    # two doctors of one practice each at 80 letters: 2 × 22,40 € — each within his cap
    warnings = check_earztbrief(
        counted={A: PLENTY, B: PLENTY},
        billed={A: {"86900": 80}, B: {"86900": 80}},
    )
    assert warnings == []


def test_counts_are_per_doctor():
    # B's letters do not cover A's billing
    warnings = check_earztbrief(
        counted={B: LetterCounts(sent=5)},
        billed={A: {"86900": 1}},
    )
    assert [(w.code, w.lanr, w.billed, w.allowed) for w in warnings] == [("over_sent", A, 1, 0)]


def test_texts_are_german_and_name_doctor_and_figures():
    (sent, cap) = check_earztbrief(
        counted={A: LetterCounts(sent=2, received=500)},
        billed={A: {"86900": 3, "86901": 84}},
    )
    assert "LANR 123456601" in sent.text and "3-mal" in sent.text and "nur 2" in sent.text
    assert cap.code == "over_cap" and cap.allowed == CAP_CENTS
    assert "23,52 €" in cap.text and "23,40 €" in cap.text  # 3×0,28 + 84×0,27 = 23,52 €


def test_other_gops_and_doctors_without_earztbrief_are_ignored():
    assert check_earztbrief(counted={}, billed={A: {"03000": 5, "40110": 2}}) == []


def test_billed_gops_take_the_lanr_of_the_following_5099():
    from kvportal.arztbrief.rules import billed_gops

    fields = [
        ("8000", "0101"),
        ("5000", "01012026"),
        ("5001", "86900"),
        ("5098", "123456700"),
        ("5099", "123456601"),
        ("5001", "03000"),  # other GOPs are not counted
        ("5099", "123456601"),
        ("5001", "86901"),
        ("5099", "223456601"),
        ("5001", "86900"),  # no 5099 before the next record
        ("8000", "0101"),
        ("5001", "86901"),
        ("5099", "123456601"),
    ]
    assert billed_gops(fields) == {
        "123456601": {"86900": 1, "86901": 1},
        "223456601": {"86901": 1},
        "": {"86900": 1},
    }

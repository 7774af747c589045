import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvportal.members.identifiers import (
    check_bsnr,
    check_lanr,
    fachgruppe_of,
    lanr_check_digit,
    make_lanr,
)


@pytest.mark.parametrize("lanr", ["123456640", "123456641", "776299002", "004110101", "838382202"])
def test_known_valid_lanrs_pass(lanr):
    assert check_lanr(lanr).ok
    assert not check_lanr(lanr).warnings


@pytest.mark.parametrize("lanr", ["123456740", "776299102", "004110201"])
def test_wrong_check_digit_is_rejected_with_position(lanr):
    result = check_lanr(lanr)
    assert not result.ok
    assert "Prüfziffer" in result.errors[0]


@pytest.mark.parametrize(
    "lanr", ["12345664", "1234566400", "12345664a", "", "59518533²", "１２３４５６６４０"]
)
def test_lanr_format(lanr):
    assert check_lanr(lanr).errors == ["Die LANR muss aus genau neun Ziffern bestehen."]


@pytest.mark.parametrize("lanr", ["999999900", "555555101", "999999999"])
def test_pseudo_lanrs_warn_but_do_not_reject(lanr):
    result = check_lanr(lanr)
    assert result.ok
    assert "Pseudo-Arztnummer" in result.warnings[0]


def test_check_digit_ten_becomes_zero():
    # 4*1+9*1+4*1+9*1+4*1+9*0 = 30 → 10 - 0 = 10 → 0
    assert lanr_check_digit("111110") == 0


@given(st.from_regex(r"[0-8][0-9]{5}", fullmatch=True), st.from_regex(r"[0-9]{2}", fullmatch=True))
def test_make_lanr_always_valid_and_single_digit_change_detected(six, fg):
    lanr = make_lanr(six, fg)
    assert check_lanr(lanr).ok
    assert fachgruppe_of(lanr) == fg
    wrong = lanr[:6] + str((int(lanr[6]) + 1) % 10) + lanr[7:]
    assert not check_lanr(wrong).ok


@pytest.mark.parametrize(
    ("bsnr", "own", "ok"),
    [
        ("953000100", True, True),
        ("983000100", True, True),
        ("723000100", False, True),
        ("723000100", True, False),
        ("003000100", False, False),
        ("97300010", False, False),
    ],
)
def test_bsnr_region(bsnr, own, ok):
    assert check_bsnr(bsnr, own_kv_only=own).ok is ok


@pytest.mark.parametrize("bsnr", ["95300010²", "９５３０００１００"])
def test_bsnr_rejects_non_ascii_digits(bsnr):
    assert not check_bsnr(bsnr).ok

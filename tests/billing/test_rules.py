"""Pure billing rules: windows, timing, file names, sizes, content, replacement, overview."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvportal.billing import rules
from kvportal.billing.rules import FileKind, QuarterState, Replacement, Timing
from kvportal.core.quarters import Quarter

D = dt.date


@pytest.mark.parametrize(
    ("quarter", "early", "starts", "ends"),
    [
        (Quarter(2026, 1), D(2026, 3, 15), D(2026, 3, 30), D(2026, 4, 15)),
        (Quarter(2026, 2), D(2026, 6, 15), D(2026, 6, 30), D(2026, 7, 15)),
        (Quarter(2026, 3), D(2026, 9, 15), D(2026, 9, 30), D(2026, 10, 15)),
        (Quarter(2026, 4), D(2026, 12, 15), D(2026, 12, 30), D(2027, 1, 15)),
    ],
)
def test_default_windows_are_kv_sachsen_dates(quarter, early, starts, ends):
    window = rules.default_window(quarter)
    assert (window.early_from, window.starts, window.ends) == (early, starts, ends)
    assert window.problems() == []


@given(st.builds(Quarter, st.integers(2000, 2100), st.integers(1, 4)))
def test_default_window_is_consistent_for_any_quarter(quarter):
    window = rules.default_window(quarter)
    assert window.problems() == []
    assert (window.starts - window.early_from).days == 15
    assert window.ends.day == 15
    assert Quarter.of(window.ends) == quarter.next()


@pytest.mark.parametrize(
    ("day", "timing"),
    [
        (D(2026, 3, 14), Timing.TOO_EARLY),
        (D(2026, 3, 15), Timing.EARLY),
        (D(2026, 3, 29), Timing.EARLY),
        (D(2026, 3, 30), Timing.ON_TIME),
        (D(2026, 4, 15), Timing.ON_TIME),
        (D(2026, 4, 16), Timing.LATE),
        (D(2027, 1, 1), Timing.LATE),
    ],
)
def test_classify_timing_boundaries(day, timing):
    assert rules.classify_timing(rules.default_window(Quarter(2026, 1)), day) is timing


def test_q4_window_crosses_the_year():
    window = rules.default_window(Quarter(2026, 4))
    assert rules.classify_timing(window, D(2027, 1, 15)) is Timing.ON_TIME
    assert rules.classify_timing(window, D(2027, 1, 16)) is Timing.LATE


def test_too_early_is_a_problem_with_the_date():
    window = rules.default_window(Quarter(2026, 2))
    [problem] = rules.timing_problems(window, D(2026, 6, 1))
    assert problem.code == "too_early"
    assert problem.params["early_from"] == D(2026, 6, 15)
    assert rules.timing_problems(window, D(2026, 8, 1)) == []


def test_edited_window_problems():
    q = Quarter(2026, 1)
    bad = rules.SubmissionWindow(
        q, early_from=D(2026, 4, 1), starts=D(2026, 3, 30), ends=D(2026, 3, 20)
    )
    codes = {p.code for p in bad.problems()}
    assert codes == {"window_early_after_start", "window_start_after_end", "window_end_in_quarter"}
    before = rules.SubmissionWindow(
        q, early_from=D(2025, 12, 1), starts=D(2026, 3, 30), ends=D(2026, 4, 20)
    )
    assert [p.code for p in before.problems()] == ["window_early_before_quarter"]


def test_submittable_quarters_include_late_ones_and_respect_opening():
    # 20.03.2026: Q1 early submission is open, Q2 is not; Q4/2025 etc. are late but allowed
    day = D(2026, 3, 20)
    assert rules.submittable_quarters(day, back=2) == [
        Quarter(2026, 1),
        Quarter(2025, 4),
        Quarter(2025, 3),
    ]
    assert rules.submittable_quarters(day, opens=Quarter(2025, 4), back=4) == [
        Quarter(2026, 1),
        Quarter(2025, 4),
    ]
    # 10.03.2026: Q1 not yet open
    assert rules.submittable_quarters(D(2026, 3, 10), back=0) == []


def test_submittable_quarters_use_edited_windows():
    q = Quarter(2026, 1)
    edited = rules.SubmissionWindow(
        q, early_from=D(2026, 3, 1), starts=D(2026, 3, 30), ends=D(2026, 4, 15)
    )
    assert rules.submittable_quarters(D(2026, 3, 10), {q: edited}, back=0) == [q]


def test_billing_open():
    assert rules.billing_open_problems(Quarter(2026, 2), Quarter(2026, 2)) == []
    assert rules.billing_open_problems(Quarter(2026, 3), Quarter(2026, 2)) == []
    [p] = rules.billing_open_problems(Quarter(2026, 1), Quarter(2026, 2))
    assert p.code == "billing_not_open" and p.params == {"quarter": "1/2026", "opens": "2/2026"}
    [p] = rules.billing_open_problems(Quarter(2026, 1), None)
    assert p.code == "billing_not_open_no_password_change"


def test_parse_standard_filenames():
    info = rules.parse_filename("Z01270439900_06.02.2025_19.36.CON")
    assert info.kind is FileKind.PLAIN
    assert info.bsnr == "270439900"
    assert info.packages == "01"
    assert info.created == dt.datetime(2025, 2, 6, 19, 36)
    enc = rules.parse_filename(r"C:\Praxis\Abrechnung\z05123456699_24.03.2021_10.25.con.XKM")
    assert enc.name == "z05123456699_24.03.2021_10.25.con.XKM"
    assert enc.kind is FileKind.ENCRYPTED
    assert enc.bsnr == "123456699"
    assert enc.standard


def test_parse_nonstandard_and_impossible_dates():
    info = rules.parse_filename("abrechnung.con")
    assert info.kind is FileKind.PLAIN and not info.standard
    bad_date = rules.parse_filename("Z01123456699_31.02.2025_10.25.con")
    assert bad_date.standard and bad_date.created is None


@pytest.mark.parametrize(
    ("name", "codes"),
    [
        ("Z01123456699_24.03.2021_10.25.con", []),
        ("abrechnung.con", []),
        ("Z01123456699_24.03.2021_10.25.con.xkm", []),
        ("abrechnung.con.xkm", ["filename_xkm_not_standard"]),
        ("Z01999999999_24.03.2021_10.25.con.xkm", ["filename_bsnr_mismatch"]),
        ("abrechnung.pdf", ["filename_extension"]),
        ("abrechnung.xkm", ["filename_extension"]),
        ("abrechnung.con.zip", ["filename_extension"]),
        ("", ["filename_empty"]),
        ("a\x01b.con", ["filename_chars"]),
        ("x" * 300 + ".con", ["filename_too_long"]),
    ],
)
def test_filename_problems(name, codes):
    found = rules.filename_problems(name, chosen_bsnr="123456699")
    assert [p.code for p in found] == codes


def test_plain_filename_bsnr_is_not_binding():
    # the besa decides for readable files; the name may come from a Nebenbetriebsstätte
    assert (
        rules.filename_problems("Z01999999999_24.03.2021_10.25.con", chosen_bsnr="123456699") == []
    )


def test_size_problems():
    assert rules.size_problems(10, 100) == []
    assert rules.size_problems(100, 100) == []
    assert [p.code for p in rules.size_problems(0, 100)] == ["file_empty"]
    [p] = rules.size_problems(101, 100)
    assert p.code == "file_too_large" and p.params == {"size": 101, "max": 100}


def test_content_problems():
    q = Quarter(2026, 1)
    ok = rules.content_problems(
        chosen_bsnr="123456699",
        chosen_quarter=q,
        file_bsnrs=["123456699", "173456600"],
        file_quarter=q,
    )
    assert ok == []
    found = rules.content_problems(
        chosen_bsnr="123456699",
        chosen_quarter=q,
        file_bsnrs=["999999999"],
        file_quarter=Quarter(2025, 4),
    )
    assert [p.code for p in found] == ["besa_bsnr_mismatch", "quarter_mismatch"]
    assert found[0].params == {"found": "999999999", "chosen": "123456699"}
    assert found[1].params == {"found": "4/2025", "chosen": "1/2026"}
    missing = rules.content_problems(
        chosen_bsnr="1", chosen_quarter=q, file_bsnrs=[], file_quarter=None
    )
    assert [p.code for p in missing] == ["besa_bsnr_mismatch", "quarter_missing"]
    assert missing[0].params["found"] == "–"
    # the chosen BSNR only as a Nebenbetriebsstätte (not first in besa) is not enough
    second = rules.content_problems(
        chosen_bsnr="173456600",
        chosen_quarter=q,
        file_bsnrs=["123456699", "173456600"],
        file_quarter=q,
    )
    assert [p.code for p in second] == ["besa_bsnr_mismatch"]


def test_check_accepts_only_ok_and_warnings():
    assert [rules.check_accepts(s) for s in range(4)] == [True, True, False, False]


@pytest.mark.parametrize(
    ("timing", "has_current", "expected"),
    [
        (Timing.EARLY, False, Replacement.FIRST),
        (Timing.LATE, False, Replacement.FIRST),
        (Timing.EARLY, True, Replacement.REPLACES),
        (Timing.ON_TIME, True, Replacement.REPLACES),
        (Timing.LATE, True, Replacement.SUPPLEMENT),
    ],
)
def test_decide_replacement(timing, has_current, expected):
    assert rules.decide_replacement(timing, has_current=has_current) is expected


def test_quarter_state():
    w = rules.default_window(Quarter(2026, 1))
    assert rules.quarter_state(w, D(2026, 2, 1), submitted=False) is QuarterState.NOT_YET
    assert rules.quarter_state(w, D(2026, 3, 20), submitted=False) is QuarterState.OPEN
    assert rules.quarter_state(w, D(2026, 4, 16), submitted=False) is QuarterState.OVERDUE
    assert rules.quarter_state(w, D(2026, 4, 16), submitted=True) is QuarterState.SUBMITTED
    assert (
        rules.quarter_state(w, D(2026, 4, 16), submitted=True, late=True)
        is QuarterState.SUBMITTED_LATE
    )


def test_expected_quarters():
    day = D(2026, 5, 1)
    assert rules.expected_quarters(day, opens=None, count=3) == [
        Quarter(2026, 2),
        Quarter(2026, 1),
        Quarter(2025, 4),
    ]
    assert rules.expected_quarters(day, opens=Quarter(2026, 1), count=8) == [
        Quarter(2026, 2),
        Quarter(2026, 1),
    ]
    assert rules.expected_quarters(day, opens=Quarter(2026, 3)) == []


@given(st.integers(-5, 10**9), st.integers(-5, 10**9))
def test_progress_percent_is_bounded(done, total):
    value = rules.progress_percent(done, total)
    assert 0 <= value <= 100
    assert (value == 100) == (total > 0 and done >= total)


@given(st.text(max_size=300), st.sampled_from([None, "123456699"]))
def test_filename_rules_never_crash(name, chosen):
    info = rules.parse_filename(name)
    assert "/" not in info.name and "\\" not in info.name
    found = rules.filename_problems(name, chosen_bsnr=chosen)
    assert all(isinstance(p, rules.Problem) for p in found)
    if info.kind is None:
        assert found

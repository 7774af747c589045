"""Generator: deterministic, realistic, streaming; round trip through the record reader."""

import io
from collections import Counter

import pytest

from kvportal.core.quarters import Quarter
from kvportal.kvdt import generate, iter_generate, iter_records, validate_file
from kvportal.members.identifiers import check_lanr

from .conftest import BSNR, QUARTER, TODAY


def test_deterministic_for_a_seed():
    a = generate(30, seed=11, quarter=QUARTER, bsnr=BSNR)
    b = generate(30, seed=11, quarter=QUARTER, bsnr=BSNR)
    c = generate(30, seed=12, quarter=QUARTER, bsnr=BSNR)
    assert a == b
    assert a != c


def test_round_trip_records(clean_file):
    records = list(iter_records(io.BytesIO(clean_file)))
    kinds = [r.satzart for r in records]
    assert kinds[:4] == ["con0", "besa", "rvsa", "adt0"]
    assert kinds[-2:] == ["adt9", "con9"]
    cases = [r for r in records if r.satzart in ("0101", "0102", "0103", "0104")]
    assert len(cases) == 12
    assert {"0101", "0102", "0103", "0104"} <= {r.satzart for r in cases}
    besa = records[1]
    lanrs = besa.get_all("0212")
    assert len(set(lanrs)) >= 3
    assert all(check_lanr(lanr).ok for lanr in lanrs)
    assert besa.get_all("0201")[0] == BSNR
    for case in cases:
        assert case.get("4101") == QUARTER.kvdt
        assert case.get_all("5001")
        assert case.get_all("6001")
        for day in case.get_all("5000"):
            assert QUARTER.start.strftime("%Y%m%d") <= day <= QUARTER.end.strftime("%Y%m%d")
    services = Counter(len(c.get_all("5001")) for c in cases)
    assert max(services) >= 2  # several services per case
    report = validate_file(io.BytesIO(clean_file), today=TODAY)
    assert report.stats["cases"] == 12
    assert report.stats["services"] == sum(len(c.get_all("5001")) for c in cases)
    assert report.stats["diagnoses"] == sum(
        len(c.get_all("6001")) + len(c.get_all("3673")) for c in cases
    )
    assert report.stats["lines"] == clean_file.count(b"\r\n")


def test_streaming_to_file_and_path(tmp_path):
    expected = generate(40, seed=2, quarter=QUARTER, bsnr=BSNR)
    buf = io.BytesIO()
    assert generate(40, seed=2, quarter=QUARTER, bsnr=BSNR, out=buf) == len(expected)
    assert buf.getvalue() == expected
    path = tmp_path / "x.con"
    assert generate(40, seed=2, quarter=QUARTER, bsnr=BSNR, out=path) == len(expected)
    assert path.read_bytes() == expected
    assert b"".join(iter_generate(40, seed=2, quarter=QUARTER, bsnr=BSNR)) == expected


def test_other_quarter_and_bsnr_pass():
    data = generate(10, seed=5, quarter=Quarter(2025, 4), bsnr="981112200")
    report = validate_file(io.BytesIO(data), today=TODAY, expected_bsnr="981112200")
    assert report.status == 0, report.messages
    assert report.quarter == Quarter(2025, 4)


def test_encoding_is_iso_8859_15(clean_file):
    # synthetic names contain umlauts; each is a single byte
    assert b"\xc3" not in clean_file  # no UTF-8 lead bytes
    assert any(ch in clean_file for ch in (b"\xfc", b"\xf6", b"\xdf"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"inject": ["nope"]}, "Unbekannte Regel"),
        ({"bsnr": "12"}, "keine gültige BSNR"),
        ({"inject": ["331"], "cases": 2}, "mindestens 4 Fälle"),
    ],
)
def test_bad_arguments(kwargs, message):
    args = {"cases": 5, "seed": 1, "quarter": QUARTER, "bsnr": BSNR} | kwargs
    cases = args.pop("cases")
    with pytest.raises(ValueError, match=message):
        generate(cases, **args)


def test_valid_file_covers_the_scheinuntergruppen_and_passes_all_rules():
    import io
    import re

    from kvportal.kvdt import validate_file

    from .conftest import BSNR, QUARTER, TODAY

    data = generate(300, seed=11, quarter=QUARTER, bsnr=BSNR)
    sugs = set(re.findall(rb"\r\n0114239(\d\d)", data))
    expected = {b"00", b"20", b"21", b"23", b"24", b"26", b"30", b"31", b"32"}
    expected |= {b"41", b"42", b"43", b"44", b"45", b"46"}
    assert expected <= sugs
    report = validate_file(io.BytesIO(data), today=TODAY)
    assert report.messages == [] and report.status == 0

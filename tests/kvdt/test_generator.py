"""Generator: deterministic, realistic, streaming; round trip through the record reader."""

import datetime as dt
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


# ---- issue 12, stage 4: every Scheinuntergruppe, KADT/SADT/Hybrid-DRG packages
ALL_SUGS = {"00", "20", "21", "23", "24", "26", "27", "28", "30", "31", "32"} | {
    f"{n}" for n in range(41, 47)
}


def _sugs_and_satzarten(data: bytes) -> tuple[set[str], list[str]]:
    records = list(iter_records(io.BytesIO(data)))
    return {r.get("4239") for r in records if r.get("4239")}, [r.satzart for r in records]


def test_every_scheinuntergruppe_and_every_package_is_valid():
    data = generate(40, seed=11, quarter=QUARTER, bsnr=BSNR, packages=("ADT", "KADT", "SADT"))
    sugs, satzarten = _sugs_and_satzarten(data)
    assert sugs == ALL_SUGS
    assert {"adt0", "kad0", "0109", "kad9", "sad0", "sad1", "sad9"} <= set(satzarten)
    report = validate_file(io.BytesIO(data), today=TODAY)
    assert report.messages == [] and report.status == 0
    # a Kompaktkur with Refresher is among the KADT cases (R882 ff. are exercised)
    assert b"01042721\r\n" in data


def test_sug_27_and_28_follow_their_rules():
    data = generate(8, seed=2, quarter=QUARTER, bsnr=BSNR)
    records = list(iter_records(io.BytesIO(data)))
    lab = {r.get("4239"): r for r in records if r.get("4239") in ("27", "28")}
    assert set(lab) == {"27", "28"}
    assert lab["27"].get("4205") and lab["27"].get("4102") and lab["27"].get("4221")
    assert lab["28"].get_all("5098") == [lab["28"].get("4218")] * len(lab["28"].get_all("5098"))
    assert set(lab["28"].get_all("5099")) == {lab["28"].get("4242")}
    assert lab["28"].get("4221") in ("1", "2", "4")


def test_hybrid_drg_file_for_a_quarter_from_the_clock():
    quarter = Quarter.of(dt.date.today()).previous()
    data = generate(5, seed=4, quarter=quarter, bsnr=BSNR, packages=["HDRG"])
    _sugs, satzarten = _sugs_and_satzarten(data)
    assert satzarten == ["con0", "hdrg0", *["hdrg1"] * 5, "hdrg9", "con9"]
    report = validate_file(io.BytesIO(data))  # today: the clock the test runs under
    assert report.messages == [] and report.status == 0


def test_packages_are_checked():
    with pytest.raises(ValueError, match="Unbekanntes Datenpaket: XDT"):
        generate(4, seed=1, quarter=QUARTER, bsnr=BSNR, packages=("XDT",))
    with pytest.raises(ValueError, match="allein"):
        generate(4, seed=1, quarter=QUARTER, bsnr=BSNR, packages=("ADT", "HDRG"))
    with pytest.raises(ValueError, match="kein --inject"):
        generate(4, seed=1, quarter=QUARTER, bsnr=BSNR, packages=("HDRG",), inject=["324"])
    with pytest.raises(ValueError, match="ADT-Datenpaket"):
        generate(4, seed=1, quarter=QUARTER, bsnr=BSNR, packages=("KADT",), inject=["324"])


def test_inject_882_adds_the_kadt_package():
    data = generate(8, seed=1, quarter=QUARTER, bsnr=BSNR, inject=["882"])
    assert b"8000kad0" in data
    assert validate_file(io.BytesIO(data), today=TODAY).rules() == {"882"}

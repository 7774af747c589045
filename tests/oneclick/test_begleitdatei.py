"""Begleitdatei (kv.digital V1.0.3): parse, build, validate against the published XSD, German
refusals naming line and element. No database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kvportal.core.quarters import Quarter
from kvportal.oneclick import begleitdatei as bd

EXAMPLE = (Path(__file__).parent / "fixtures" / "Beispiel_begleitdatei_abrechnung.xml").read_bytes()


def test_published_example_parses():
    parsed = bd.parse(EXAMPLE)
    assert parsed.bsnr == "935100898"
    assert parsed.quartal == Quarter(2024, 3)
    assert parsed.testdaten is True
    assert parsed.vollstaendig is True
    assert parsed.dokumenten_typ == bd.ABRECHNUNG and parsed.with_billing
    assert not parsed.with_sammelerklaerung
    assert parsed.anhaenge == ("Z01935100898_18.09.2024_13.10.con.XKM",)
    assert parsed.guid == "f3d61ee2-1c3d-4416-9489-03c51d42ccf7" and parsed.version == 1
    assert parsed.lieferungs_zeitpunkt.utcoffset() == dt.timedelta(hours=2)


def _one(data: bytes) -> bd.Problem:
    with pytest.raises(bd.BegleitdateiError) as caught:
        bd.parse(data)
    assert caught.value.problems
    return caught.value.problems[0]


@pytest.mark.parametrize(
    ("old", "new", "line", "path", "words"),
    [
        ('V="935100898"', 'V="93510089X"', 5, "einlieferung/bsnr", ["93510089X", "9-stellig"]),
        ('V="935100898"', 'V="93510089"', 5, "einlieferung/bsnr", ["9 Stellen"]),
        ('<quartal V="2024-3"/>', "", 10, "einlieferung/vollstaendig", ["quartal"]),
        ('<quartal V="2024-3"/>', '<quartal V="2024-5"/>', 9, "einlieferung/quartal", ["JJJJ-Q"]),
        (
            "2024-09-19T13:10:17+02:00",
            "19.09.2024",
            7,
            "einlieferung/lieferungs_zeitpunkt",
            ["19.09.2024", "Uhrzeit"],
        ),
        (
            '<dokumenten_typ V="ABRECHNUNG"/>',
            '<dokumenten_typ V="DMP"/>',
            8,
            "einlieferung/dokumenten_typ",
            ["DMP", "1-Click"],
        ),
        (
            '<dokumenten_typ V="ABRECHNUNG"/>',
            '<dokumenten_typ V="RECHNUNG"/>',
            8,
            "einlieferung/dokumenten_typ",
            ["RECHNUNG", "SAMMELERKLÄRUNG"],
        ),
        ('<testdaten V="true"/>', '<testdaten V="ja"/>', 6, "einlieferung/testdaten", ["„ja“"]),
        ('V="f3d61ee2-1c3d-4416-9489-03c51d42ccf7"', 'V="123"', 4, "einlieferung/guid", ["GUID"]),
        (
            '<anhang V="Z01935100898_18.09.2024_13.10.con.XKM"/>',
            "<anhang/>",
            11,
            "einlieferung/anhang",
            ["Attribut „V“ fehlt"],
        ),
        (
            '<anhang V="Z01935100898_18.09.2024_13.10.con.XKM"/>',
            '<anhang V="begleitdatei.xml"/>',
            11,
            "einlieferung/anhang",
            ["selbst"],
        ),
        (
            '<anhang V="Z01935100898_18.09.2024_13.10.con.XKM"/>',
            "",
            2,  # reported at the parent, which lacks the child
            "einlieferung",
            ["fehlt", "anhang"],
        ),
    ],
)
def test_refusals_name_line_and_element(old, new, line, path, words):
    assert old.encode() in EXAMPLE
    problem = _one(EXAMPLE.replace(old.encode(), new.encode()))
    assert problem.line == line
    assert problem.path == path
    assert f"Zeile {line}" in problem.text and path in problem.text
    for word in words:
        assert word in problem.text, problem.text


def test_not_well_formed_names_line():
    problem = _one(EXAMPLE.replace(b'<vollstaendig V="true"/>', b'<vollstaendig V="true">'))
    assert problem.code == "syntax" and problem.line == 12  # where the parser notices
    assert "kein wohlgeformtes XML" in problem.text


def test_not_utf8_is_refused():
    latin = EXAMPLE.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-15"')
    assert "UTF-8" in _one(latin).text and "ISO-8859-15" in _one(latin).text
    broken = EXAMPLE.replace(b"ABRECHNUNG", "ABRECHNUNG\u00c4".encode("latin-1"))
    problem = _one(broken)
    assert problem.code == "encoding" and problem.line == 8


def test_wrong_root_and_empty():
    assert "einlieferung" in _one(b"<?xml version='1.0'?><lieferung/>").text
    assert _one(b"  ").code == "empty"


def test_build_roundtrip_validates_and_refers_to_schema_without_path():
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
    quarter = Quarter.of(stamp.date())
    original = bd.Begleitdatei(
        bsnr="198212400",
        quartal=quarter,
        testdaten=False,
        anhaenge=("Z01198212400_05.04.2026_10.30.con", "ese.xml"),
        dokumenten_typ=bd.ABRECHNUNG_UND_SAMMELERKLAERUNG,
        vollstaendig=False,
        lieferungs_zeitpunkt=stamp,
    )
    data = bd.build(original)
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert f"{bd.NS} {bd.SCHEMA_FILE}".encode() in data  # BGD0101: no path
    assert bd.parse(data) == original


def test_build_refuses_what_the_schema_refuses():
    bad = bd.Begleitdatei(bsnr="12345", quartal=Quarter(2026, 1), testdaten=True, anhaenge=("a",))
    with pytest.raises(bd.BegleitdateiError, match="9 Stellen"):
        bd.build(bad, now=dt.datetime.now(dt.UTC))


def test_attachments_compared_case_insensitively():
    parsed = bd.parse(EXAMPLE)
    assert parsed.listed("z01935100898_18.09.2024_13.10.CON.xkm")  # BGD0910
    assert bd.missing(parsed, ["Z01935100898_18.09.2024_13.10.con.xkm"]) == []
    assert bd.missing(parsed, []) == ["Z01935100898_18.09.2024_13.10.con.XKM"]
    assert bd.unlisted(parsed, ["other.con"]) == ["other.con"]

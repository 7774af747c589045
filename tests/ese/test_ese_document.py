"""eSE document (issue 16): built for both published KV profiles, the body validated with lxml
against the published eSE_body.xsd, the header checked after the KBV examples; the published
KV Nordrhein example is accepted; refusals name what is wrong and where. No database."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from kvportal.core.quarters import Quarter
from kvportal.oneclick import ese

FIXTURES = Path(__file__).parents[1] / "oneclick" / "fixtures"
EXAMPLE = FIXTURES / "ese_1.21_274412300_tf+2026q2_du+Arzt.xml"


def document(profile="38", **kw) -> ese.EseDocument:
    today = dt.date.today()
    values = dict(
        profile=ese.PROFILES[profile],
        quarter=Quarter.of(today).previous(),
        lanr="123456701",
        bsnr="981234500",
        given_name="Erika",
        family_name="Beispiel",
        title="Dr. med.",
        practice_name="Praxis Beispiel (synthetisch)",
        created=today,
        declaration_texts=("Ich erkläre, dass die abgerechneten Leistungen erbracht wurden.",),
        case_count=412,
    )
    values.update(kw)
    return ese.EseDocument(**values)


def body_valid(data: bytes) -> bool:
    schema = etree.XMLSchema(etree.parse(str(ese.SCHEMA_DIR / "eSE_body.xsd")))
    root = etree.fromstring(data)
    body = root.find(f"{{{ese.EHD}}}body/{{{ese.ESE}}}ese_data")
    return schema.validate(etree.fromstring(etree.tostring(body)))


def test_published_example_is_accepted():
    doc = ese.parse(EXAMPLE.read_bytes())
    assert doc.profile.kv_name == "KV Nordrhein"
    assert doc.quarter == Quarter(2026, 2) and doc.bsnr == "274412300" and doc.lanr == "123456789"
    assert (doc.given_name, doc.family_name, doc.title) == ("Hans", "Test", "Dr. med.")
    assert doc.case_count == 2754 and doc.declared


@pytest.mark.parametrize("profile", ["01", "38"])
def test_built_document_round_trips_and_body_is_schema_valid(profile):
    built = document(profile)
    data = ese.build(built)
    assert data.startswith(b"<?xml version='1.0' encoding='ISO-8859-15'?>")
    assert body_valid(data)
    back = ese.parse(data)
    assert back.profile == ese.PROFILES[profile]
    assert (back.quarter, back.lanr, back.bsnr) == (built.quarter, built.lanr, built.bsnr)
    assert back.declaration_texts == built.declaration_texts and back.declared
    root = etree.fromstring(data)
    kv = root.find(f"{{{ese.EHD}}}header/{{{ese.EHD}}}originator/{{{ese.EHD}}}organization")
    assert kv.find(f"{{{ese.EHD}}}id").get("EX") == profile
    # KV Nordrhein carries the case statistics, KVSH does not
    assert (back.case_count == 412) is (profile == "38")


def test_schema_rejects_a_body_the_published_xsd_forbids():
    data = EXAMPLE.read_bytes().replace(b'<anzahl_gesamt V="2754"/>', b"<anzahl V='1'/>")
    with pytest.raises(ese.EseError) as exc:
        ese.parse(data)
    (problem,) = exc.value.problems
    assert problem.code == "schema" and "eSE_body.xsd" in problem.text and "anzahl" in problem.text


def test_bad_period_is_refused_with_line_and_element():
    data = EXAMPLE.read_bytes().replace(b"2026-04-01..2026-06-30", b"2026-04-01..2026-05-31")
    with pytest.raises(ese.EseError) as exc:
        ese.parse(data)
    text = exc.value.texts[0]
    assert "genau ein Quartal" in text and "Zeile" in text and "header/service_tmr" in text


def test_unknown_kv_and_malformed_lanr_are_named():
    data = (
        EXAMPLE.read_bytes()
        .replace(b'EX="38"', b'EX="98"')
        .replace(
            b'<ehd:id EX="123456789" RT="1.2.276.0.76.4.16"/>',
            b'<ehd:id EX="12345" RT="1.2.276.0.76.4.16"/>',
        )
    )
    with pytest.raises(ese.EseError) as exc:
        ese.parse(data)
    codes = [p.code for p in exc.value.problems]
    assert codes == ["kv", "lanr"]
    assert "„98“" in exc.value.texts[0] and "01 (KV Schleswig-Holstein)" in exc.value.texts[0]


def test_explicit_refusal_of_the_declaration():
    with pytest.raises(ese.EseError) as exc:
        ese.build(document(declared=False))
    assert [p.code for p in exc.value.problems] == ["not_declared"]


def test_not_xml_and_wrong_root():
    with pytest.raises(ese.EseError) as exc:
        ese.parse(b"<ehd")
    assert "kein wohlgeformtes XML" in exc.value.texts[0]
    with pytest.raises(ese.EseError) as exc:
        ese.parse(b"<einlieferung/>")
    assert "ehd:ehd" in exc.value.texts[0]


def test_file_name_follows_the_kbv_examples():
    doc = document()
    q = doc.quarter
    assert ese.filename(doc) == f"ese_1.21_981234500_tf+{q.year}q{q.quarter}_nr+1.xml"
    assert ese.is_ese_name(ese.filename(doc)) and not ese.is_ese_name("begleitdatei.xml")


def test_ese_module_loads_no_django():
    code = (
        "import sys, pathlib\n"
        "from kvportal.oneclick import ese\n"
        f"ese.parse(pathlib.Path({str(EXAMPLE)!r}).read_bytes())\n"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"

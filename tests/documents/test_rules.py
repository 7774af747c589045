"""Pure rules of the document archive: deletion date, delivery date, manifest parsing."""

import datetime as dt
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from kvportal.core.quarters import Quarter
from kvportal.documents import rules
from kvportal.members.identifiers import make_lanr

LANR = make_lanr("123456", "01")
LANR2 = make_lanr("654321", "79")
BSNR = "941234500"
TODAY = dt.date(2026, 11, 23)


# --------------------------------------------------------------------------- deletion date


@pytest.mark.parametrize(
    ("quarter", "expected"),
    [
        (Quarter(2025, 1), dt.date(2035, 12, 31)),
        (Quarter(2025, 4), dt.date(2035, 12, 31)),
        (Quarter(2026, 1), dt.date(2036, 12, 31)),
        (Quarter(2016, 4), dt.date(2026, 12, 31)),
    ],
)
def test_deletion_date_is_end_of_year_plus_ten(quarter, expected):
    assert rules.deletion_date(quarter, "honorarbescheid") == expected


def test_deletion_date_year_boundary_q4_and_next_q1_differ_by_a_year():
    q4 = rules.deletion_date(Quarter(2025, 4), "richtigstellung")
    q1 = rules.deletion_date(Quarter(2026, 1), "richtigstellung")
    assert q4 == dt.date(2035, 12, 31)
    assert q1 == dt.date(2036, 12, 31)


def test_is_due_only_after_the_deletion_date():
    last = dt.date(2035, 12, 31)
    assert not rules.is_due(last, dt.date(2035, 12, 30))
    assert not rules.is_due(last, dt.date(2035, 12, 31))
    assert rules.is_due(last, dt.date(2036, 1, 1))


def test_deletion_date_configurable_per_type():
    overrides = {"pruefprotokoll": 5}
    assert rules.deletion_date(Quarter(2025, 2), "pruefprotokoll", overrides) == dt.date(
        2030, 12, 31
    )
    # other types keep the default
    assert rules.deletion_date(Quarter(2025, 2), "honorarbescheid", overrides) == dt.date(
        2035, 12, 31
    )


@pytest.mark.parametrize("years", [11, 20])
def test_retention_longer_than_ten_years_is_refused(years):
    with pytest.raises(ValueError, match="§ 304 SGB V"):
        rules.deletion_date(Quarter(2025, 1), "beschluss", {"beschluss": years})


@pytest.mark.parametrize("years", [0, -1, "5", True])
def test_retention_must_be_a_positive_int(years):
    with pytest.raises(ValueError, match="ganze Zahl"):
        rules.retention_years("beschluss", {"beschluss": years})


# --------------------------------------------------------------------------- delivery date


def test_delivery_date_is_fourth_day_after_notice():
    sent = dt.datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert rules.delivery_date(sent) == dt.date(2026, 3, 6)


def test_delivery_date_uses_german_calendar_day():
    # 23:30 UTC on 31 Dec is already 1 Jan in Germany
    sent = dt.datetime(2025, 12, 31, 23, 30, tzinfo=dt.UTC)
    assert rules.delivery_date(sent) == dt.date(2026, 1, 5)
    # naive datetimes are taken as UTC
    assert rules.delivery_date(dt.datetime(2025, 12, 31, 22, 30)) == dt.date(2026, 1, 4)


def test_delivery_date_crosses_month_and_leap_day():
    assert rules.delivery_date(dt.date(2028, 2, 26)) == dt.date(2028, 3, 1)
    assert rules.delivery_date(dt.date(2027, 2, 26)) == dt.date(2027, 3, 2)


def test_delivery_date_is_not_moved_off_weekends():
    # Tuesday 2026-11-24 + 4 = Saturday 2026-11-28
    assert rules.delivery_date(dt.date(2026, 11, 24)) == dt.date(2026, 11, 28)


# --------------------------------------------------------------------------- types and amounts


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Honorarbescheid", "honorarbescheid"),
        ("honorarbescheid", "honorarbescheid"),
        ("Nachweis zur Punktzahlbegrenzung", "punktzahlbegrenzung"),
        ("Prüfprotokoll", "pruefprotokoll"),
        ("pruefprotokoll", "pruefprotokoll"),
        ("RLV-Mitteilung", "rlv_mitteilung"),
        ("  Sonstiges ", "sonstiges"),
    ],
)
def test_parse_doc_type(text, code):
    assert rules.parse_doc_type(text) == code


def test_parse_doc_type_unknown():
    with pytest.raises(ValueError, match="kein bekannter Dokumenttyp"):
        rules.parse_doc_type("Liebesbrief")


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("12345,67", Decimal("12345.67")),
        ("12.345,67", Decimal("12345.67")),
        ("12345.67", Decimal("12345.67")),
        ("12.345", Decimal("12345")),
        ("-250,50 €", Decimal("-250.50")),
        (1234.5, Decimal("1234.5")),
        (1000, Decimal("1000")),
    ],
)
def test_parse_amount(text, amount):
    assert rules.parse_amount(text) == amount


@pytest.mark.parametrize("text", ["zwölf", "1,2,3", "12,345", True, "1e5", "10000000000"])
def test_parse_amount_rejects(text):
    with pytest.raises(ValueError):
        rules.parse_amount(text)


@pytest.mark.parametrize("name", ["/etc/passwd.pdf", "../x.pdf", "a/../../x.pdf", "C:\\x.pdf"])
def test_file_names_outside_the_directory_are_refused(name):
    with pytest.raises(ValueError, match=r"absolut|außerhalb"):
        rules.check_file_name(name)


def test_file_name_must_be_pdf_and_is_normalised():
    assert rules.check_file_name("q1\\bescheid.PDF") == "q1/bescheid.PDF"
    assert rules.check_file_name("./a/b.pdf") == "a/b.pdf"
    with pytest.raises(ValueError, match="keine PDF"):
        rules.check_file_name("bescheid.docx")


# --------------------------------------------------------------------------- manifests

CSV_HEADER = "Datei;BSNR;LANR;Quartal;Typ;Titel;Betrag\n"


def test_csv_manifest_good_rows():
    text = (
        CSV_HEADER
        + f"hb.pdf;{BSNR};;12026;Honorarbescheid;Honorarbescheid 1/2026;12.345,67\n"
        + f"rs.pdf;{BSNR};{LANR};1/2026;Richtigstellung;Richtigstellung Dr. A;\n"
    )
    result = rules.parse_manifest(text.encode(), name="manifest.csv", today=TODAY)
    assert result.ok, [str(e) for e in result.errors]
    first, second = result.rows
    assert first.row == 2
    assert first.lanr is None
    assert first.quarter == Quarter(2026, 1)
    assert first.doc_type == "honorarbescheid"
    assert first.amount == Decimal("12345.67")
    assert second.lanr == LANR
    assert second.amount is None
    assert second.row == 3


def test_csv_manifest_comma_separated_with_english_header_and_bom():
    text = (
        "file,bsnr,lanr,quarter,type,title,amount\n"
        f"a.pdf,{BSNR},{LANR},2026-2,honorarzusammenstellung,Zusammenstellung,\n"
    )
    result = rules.parse_manifest(("\ufeff" + text).encode())
    assert result.ok
    assert result.rows[0].quarter == Quarter(2026, 2)


def test_csv_manifest_cp1252_is_decoded():
    text = CSV_HEADER + f"a.pdf;{BSNR};;12026;Prüfprotokoll;Prüfprotokoll Ä;\n"
    result = rules.parse_manifest(text.encode("cp1252"))
    assert result.ok
    assert result.rows[0].title == "Prüfprotokoll Ä"


def test_csv_manifest_reports_each_bad_field_in_german():
    text = (
        CSV_HEADER
        + f"ok.pdf;{BSNR};;12026;Honorarbescheid;Gut;\n"
        + "bad.pdf;12345;123456789;52026;Liebesbrief;;zwölf\n"
    )
    result = rules.parse_manifest(text, today=TODAY)
    assert [r.row for r in result.rows] == [2]
    by_field = {e.field: str(e) for e in result.errors}
    assert set(by_field) == {"bsnr", "lanr", "quarter", "doc_type", "title", "amount"}
    assert all(e.row == 3 for e in result.errors)
    assert (
        by_field["bsnr"] == "Zeile 3, Feld „BSNR“: Die BSNR muss aus genau neun Ziffern bestehen."
    )
    assert "Prüfziffer" in by_field["lanr"]
    assert "Quartal 5 gibt es nicht" in by_field["quarter"]
    assert by_field["title"] == "Zeile 3, Feld „Titel“: Angabe fehlt."
    assert "Betrag" in by_field["amount"]


def test_csv_manifest_missing_columns_is_fatal():
    result = rules.parse_manifest("Datei;BSNR;Titel\na.pdf;941234500;x\n")
    assert not result.ok
    assert result.rows == []
    assert "„Quartal“" in result.fatal[0] and "„Typ“" in result.fatal[0]


def test_csv_manifest_wrong_column_count_and_blank_lines():
    text = CSV_HEADER + "\n" + f"a.pdf;{BSNR};;12026\n"
    result = rules.parse_manifest(text)
    assert result.rows == []
    assert result.errors[0].row == 3
    assert "4 Spalten" in result.errors[0].message


def test_manifest_rejects_quarters_past_retention_or_far_future():
    text = (
        CSV_HEADER
        + f"old.pdf;{BSNR};;42015;Honorarbescheid;Alt;\n"
        + f"edge.pdf;{BSNR};;12016;Honorarbescheid;Gerade noch;\n"
        + f"future.pdf;{BSNR};;12028;RLV-Mitteilung;Zukunft;\n"
        + f"next.pdf;{BSNR};;42027;RLV-Mitteilung;Nächstes Jahr;\n"
    )
    result = rules.parse_manifest(text, today=TODAY)
    assert [r.file for r in result.rows] == ["edge.pdf", "next.pdf"]
    messages = {e.row: e.message for e in result.errors}
    assert "Aufbewahrungsfrist" in messages[2]
    assert "Zukunft" in messages[4]


def test_manifest_duplicate_rows_are_reported():
    line = f"a.pdf;{BSNR};{LANR};12026;Honorarbescheid;Titel;\n"
    result = rules.parse_manifest(CSV_HEADER + line + line)
    assert len(result.rows) == 1
    assert result.errors[0].row == 3
    assert "Zeile 2" in result.errors[0].message


def test_manifest_same_file_for_two_doctors_is_fine():
    text = (
        CSV_HEADER
        + f"a.pdf;{BSNR};{LANR};12026;Sonstiges;Titel;\n"
        + f"a.pdf;{BSNR};{LANR2};12026;Sonstiges;Titel;\n"
    )
    assert rules.parse_manifest(text).ok


def test_json_manifest():
    data = {
        "documents": [
            {
                "file": "a.pdf",
                "bsnr": BSNR,
                "lanr": LANR,
                "quarter": "12026",
                "type": "Honorarbescheid",
                "title": "Bescheid",
                "amount": 1234.5,
            },
            {"file": "b.pdf", "bsnr": BSNR, "quarter": "1/2026", "type": "x", "title": "T"},
            "kaputt",
        ]
    }
    result = rules.parse_manifest(json.dumps(data).encode(), name="m.json")
    assert [r.file for r in result.rows] == ["a.pdf"]
    assert result.rows[0].amount == Decimal("1234.5")
    assert str(result.errors[0]).startswith("Eintrag 2, Feld „Typ“")
    assert str(result.errors[1]) == "Eintrag 3: Der Eintrag ist kein Objekt."


def test_json_manifest_plain_list_with_null_lanr_and_german_keys():
    data = [
        {
            "Datei": "a.pdf",
            "BSNR": BSNR,
            "LANR": None,
            "Quartal": "2026-1",
            "Typ": "sonstiges",
            "Titel": "T",
        }
    ]
    result = rules.parse_manifest(json.dumps(data))
    assert result.ok
    assert result.rows[0].lanr is None


@pytest.mark.parametrize("text", ["{kaputt", "42", '{"x": 1}'])
def test_json_manifest_fatal(text):
    result = rules.parse_json_manifest(text)
    assert result.fatal and not result.rows


def test_empty_manifest_is_fatal():
    assert rules.parse_manifest(b"").fatal == ["Das Manifest ist leer."]


def test_document_key_distinguishes_addressees():
    base = {"sha256": "ab" * 32, "bsnr": BSNR, "quarter": Quarter(2026, 1), "doc_type": "x"}
    assert rules.document_key(**base, lanr=None) != rules.document_key(**base, lanr=LANR)
    assert rules.document_key(**base, lanr=None) == rules.document_key(**base, lanr=None)


def test_last_quarters_crosses_years():
    qs = rules.last_quarters(Quarter(2026, 2), 8)
    assert qs[0] == Quarter(2024, 3)
    assert qs[-1] == Quarter(2026, 2)
    assert len(qs) == 8

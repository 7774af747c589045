"""The two application types of seeds 002/004: modes, required fields, attachments, rules."""

from decimal import Decimal as D

import pytest

from kvportal.admission.rules.definitions import ValidationContext, clean_data, validate
from kvportal.admission.rules.types import (
    ERHOEHUNG_ARZT,
    ERHOEHUNG_PSYCHOTHERAPEUT,
    REGISTRY,
    get_type,
)
from tests.admission.sample import (
    APPLICANT_LANR,
    EMPLOYEE_LANR,
    PARTNER_LANRS,
    SESSIONS,
    TODAY,
    anlage1_rows,
    valid_data,
)

ALL_ATTACHMENTS = frozenset(
    {"arbeitsvertrag", "taetigkeitsnachweise", "erklaerung_leistungsbeschraenkung"}
)


def ctx(**kw):
    kw.setdefault("today", TODAY)
    kw.setdefault("sessions", SESSIONS)
    kw.setdefault("attachments", ALL_ATTACHMENTS)
    return ValidationContext(**kw)


MODE_DATA = {
    "nachbesetzung": {"nachbesetzung_name": "Dr. Hans Vorgänger"},
    "uebernahme": {"uebernahme_name": "Dr. Sitz Abgeber", "chiffre": "", "anlage1":
                   anlage1_rows(), "anlage1_waitlist": "nein"},
    "planungsbereich": {"planungsbereich": "Dresden, Stadt", "anlage1": anlage1_rows(),
                        "anlage1_waitlist": "ja", "anlage1_waitlist_pb": "Dresden, Stadt"},
    "leistungsbeschraenkung": {"lb_name": "Dr. Gebunden", "lb_fach": "Allgemeinmedizin"},
}  # fmt: skip


def mode_data(mode, **extra):
    data = valid_data(mode=mode, **MODE_DATA[mode])
    data.update(extra)
    return clean_data(ERHOEHUNG_ARZT, data)


@pytest.mark.parametrize("app_type", [ERHOEHUNG_ARZT, ERHOEHUNG_PSYCHOTHERAPEUT])
@pytest.mark.parametrize("mode", list(MODE_DATA))
def test_valid_application_per_mode(app_type, mode):
    result = validate(app_type, mode_data(mode), ctx())
    assert result.errors == {}
    assert result.computed["weekly_hours"] == D("25")
    assert result.computed["min_consultation_hours"] == D("18.75")


@pytest.mark.parametrize(
    ("mode", "field"),
    [
        ("nachbesetzung", "nachbesetzung_name"),
        ("uebernahme", "uebernahme_name"),
        ("uebernahme", "anlage1_waitlist"),
        ("planungsbereich", "planungsbereich"),
        ("planungsbereich", "anlage1_waitlist_pb"),
        ("leistungsbeschraenkung", "lb_name"),
        ("leistungsbeschraenkung", "lb_fach"),
    ],
)
def test_mode_required_fields(mode, field):
    data = mode_data(mode)
    data[field] = ""
    result = validate(ERHOEHUNG_ARZT, data, ctx())
    assert list(result.errors) == [field]
    assert result.errors[field][0].startswith("Bitte „")


def test_optional_chiffre_and_other_modes_fields_ignored():
    data = mode_data("uebernahme", chiffre="A-2026-17", lb_name="", planungsbereich="")
    assert validate(ERHOEHUNG_ARZT, data, ctx()).errors == {}


def test_clean_data_drops_fields_of_other_modes():
    data = clean_data(ERHOEHUNG_ARZT, valid_data(mode="nachbesetzung", lb_name="x "))
    assert "lb_name" not in data and data["nachbesetzung_name"] == "Dr. Hans Vorgänger"


@pytest.mark.parametrize(
    ("mode", "required"),
    [
        ("nachbesetzung", {"arbeitsvertrag"}),
        ("uebernahme", {"arbeitsvertrag", "taetigkeitsnachweise"}),
        ("planungsbereich", {"arbeitsvertrag", "taetigkeitsnachweise"}),
        ("leistungsbeschraenkung", {"arbeitsvertrag", "erklaerung_leistungsbeschraenkung"}),
    ],
)
def test_required_attachments_per_mode(mode, required):
    result = validate(ERHOEHUNG_ARZT, mode_data(mode), ctx(attachments=frozenset()))
    assert {a.kind for a in result.required_attachments} == required
    assert {k for k in result.errors} == {f"attachment.{k}" for k in required}


def test_evidence_attachment_not_needed_when_all_in_arztregister():
    rows = anlage1_rows()
    rows[1]["evidence"] = "arztregister"
    result = validate(
        ERHOEHUNG_ARZT, mode_data("uebernahme", anlage1=rows), ctx(attachments=frozenset())
    )
    assert {a.kind for a in result.required_attachments} == {"arbeitsvertrag"}


def test_anlage1_required_only_for_uebernahme_and_planungsbereich():
    data = mode_data("uebernahme", anlage1=[])
    assert "Bitte tragen Sie" in validate(ERHOEHUNG_ARZT, data, ctx()).errors["anlage1"][0]
    gap = anlage1_rows()
    gap[1]["start"] = "2021-02-01"
    errors = validate(ERHOEHUNG_ARZT, mode_data("planungsbereich", anlage1=gap), ctx()).errors
    assert "Lücke vom 01.01.2021 bis 31.01.2021" in errors["anlage1.1"][0]
    assert validate(ERHOEHUNG_ARZT, mode_data("nachbesetzung", anlage1=[]), ctx()).ok


def test_leistungsbeschraenkung_needs_identical_fachgebiet():
    data = mode_data("leistungsbeschraenkung", lb_fach="Innere Medizin")
    errors = validate(ERHOEHUNG_ARZT, data, ctx()).errors
    assert "Fachgebietsidentität" in errors["lb_fach"][0]
    same = mode_data("leistungsbeschraenkung", lb_fach="  allgemeinmedizin ")
    assert validate(ERHOEHUNG_ARZT, same, ctx()).ok


def test_leistungsbeschraenkung_notice_announces_kv_computation():
    result = validate(ERHOEHUNG_ARZT, mode_data("leistungsbeschraenkung"), ctx())
    assert any("Berechnung Ihrer Leistungsbeschränkung" in n for n in result.notices)


@pytest.mark.parametrize(
    ("overrides", "field", "part"),
    [
        ({"factor_from": "0.75", "factor_to": "0.75"}, "factor_to", "nur auf 1,0"),
        ({"hours": "31"}, "hours", "Faktor 1,0, nicht 0,75"),
        ({"hours": "20,25"}, "hours", "keiner Spanne"),
        ({"hours": "zwanzig"}, "hours", "Zahl"),
        ({"hours": "100", "hours_unit": "monat"}, None, None),  # 23.00 h/Woche
        ({"hours": "87", "hours_unit": "monat"}, "hours", "87,0 Stunden pro Monat × 0,23"),
        ({"effective_date": "2027-01-01"}, "effective_date", "frühestens ab dem 01.02.2027"),
        ({"effective_date": "2027-02-15"}, "effective_date", "Monatsbeginn"),
        ({"effective_date": "15.02.2027"}, "effective_date", "Monatsbeginn"),
        ({"effective_date": "2026-11-01"}, "effective_date", "rückwirkende"),
        ({"effective_date": "morgen"}, "effective_date", "TT.MM.JJJJ"),
        ({"bsnr": "123"}, "bsnr", "neun Ziffern"),
        ({"bsnr": "721234500"}, "bsnr", "nicht zur KV Sachsen"),
        ({"employee_lanr": "123456901"}, "employee_lanr", "Prüfziffer"),
        ({"email": "keine-mail"}, "email", "keine gültige E-Mail"),
        ({"sitz_plz": "0106"}, "sitz_plz", "fünf Ziffern"),
        ({"phone": "abc"}, "phone", "Telefonnummer"),
        ({"bezirk": "berlin"}, "bezirk", "angebotenen"),
        ({"related": "ja", "related_text": ""}, "related_text", "Welche?"),
        ({"representative_name": ""}, "representative_name", "Vertretungsberechtigte"),
    ],
)
def test_field_rules(overrides, field, part):
    result = validate(ERHOEHUNG_ARZT, clean_data(ERHOEHUNG_ARZT, valid_data(**overrides)), ctx())
    if field is None:
        assert result.errors == {}
    else:
        assert list(result.errors) == [field], result.errors
        assert part in result.errors[field][0]


def test_registered_factor_must_match():
    result = validate(ERHOEHUNG_ARZT, valid_data(), ctx(registered_factor=D("0.25")))
    assert "Laut Arztregister" in result.errors["factor_from"][0]
    assert validate(ERHOEHUNG_ARZT, valid_data(), ctx(registered_factor=D("0.5"))).ok


def test_bezirk_mismatch_with_bsnr_warns():
    result = validate(ERHOEHUNG_ARZT, valid_data(bsnr="941234500"), ctx())
    assert result.ok
    assert any("Bezirksstelle Chemnitz" in w for w in result.warnings)


def test_pseudo_lanr_warns_only():
    result = validate(ERHOEHUNG_ARZT, valid_data(employee_lanr="999999901"), ctx())
    assert result.ok and any("Pseudo-Arztnummer" in w for w in result.warnings)


def test_earliest_session_computed():
    result = validate(ERHOEHUNG_ARZT, valid_data(), ctx())
    assert str(result.computed["earliest_session"].date) == "2027-01-13"
    # psychotherapy committee has its own sessions
    result = validate(ERHOEHUNG_PSYCHOTHERAPEUT, valid_data(), ctx())
    assert str(result.computed["earliest_session"].date) == "2027-01-20"


def test_bag_signatories_need_contact():
    partners = [
        {"name": "Dr. Anna Partner", "lanr": PARTNER_LANRS[0], "email": "anna@example.org"},
        {"name": "Dr. Bernd Partner", "lanr": PARTNER_LANRS[1], "email": ""},
    ]
    data = valid_data(
        applicant_kind="bag",
        applicant_name="BAG Partner & Partner",
        representative_name="Dr. Anna Partner",
        representative_lanr=PARTNER_LANRS[0],
        representative_email="anna@example.org",
        partners=partners,
        employee_email="",
    )
    result = validate(ERHOEHUNG_ARZT, data, ctx())
    assert "Dr. Bernd Partner" in result.errors["partners"][0]
    assert "Einmalcode" in result.errors["employee_email"][0]
    assert len(result.signatories) == 3
    # with portal logins, no e-mail is needed
    known = frozenset({PARTNER_LANRS[1], EMPLOYEE_LANR})
    assert validate(ERHOEHUNG_ARZT, data, ctx(known_logins=known)).ok


def test_einzelpraxis_applicant_signs_with_contact_email():
    data = valid_data(
        applicant_kind="einzelpraxis",
        applicant_name="Anna Einzel",
        applicant_title="Dr.",
        applicant_lanr=APPLICANT_LANR,
        representative_name="",
    )
    data = clean_data(ERHOEHUNG_ARZT, data)
    result = validate(ERHOEHUNG_ARZT, data, ctx())
    assert result.ok, result.errors
    assert [s.person.name for s in result.signatories] == ["Dr. Anna Einzel", "Dr. Erika Beispiel"]


@pytest.mark.parametrize(
    ("mode", "fee"), [("nachbesetzung", D("60.00")), ("planungsbereich", D("120.00"))]
)
def test_fees_shown_before_submitting(mode, fee):
    result = validate(ERHOEHUNG_ARZT, mode_data(mode), ctx())
    assert result.fees.application_fee == fee


def test_duplicate_key_identifies_same_change():
    a = ERHOEHUNG_ARZT.duplicate_key(valid_data())
    assert a == ERHOEHUNG_ARZT.duplicate_key(valid_data(hours="26", effective_date="2027-03-01"))
    assert a != ERHOEHUNG_ARZT.duplicate_key(valid_data(factor_to="1.0"))
    assert a != ERHOEHUNG_PSYCHOTHERAPEUT.duplicate_key(valid_data())


def test_psychotherapist_wording_and_committee():
    t = get_type("erhoehung_psychotherapeut")
    assert t.committee == "psychotherapie"
    assert t.field("applicant_fach").label == "Approbation / Richtlinienverfahren"
    assert t.field("lb_fach").label == "Gebunden an: Approbation / Richtlinienverfahren"
    assert "Vertragspsychotherapeutensitz" in t.field("sitz_strasse").label
    assert t.title.endswith("Psychotherapeuten")
    assert ERHOEHUNG_ARZT.field("applicant_fach").label.startswith("Fachgebiets-")
    assert set(REGISTRY) == {"erhoehung_arzt", "erhoehung_psychotherapeut"}
    with pytest.raises(KeyError):
        get_type("zulassung")


def test_every_field_section_exists():
    for t in REGISTRY.values():
        keys = {s.key for s in t.sections}
        assert {f.section for f in t.fields} <= keys
        names = [f.name for f in t.fields]
        assert len(names) == len(set(names))


def test_earliest_session_shown_before_a_date_is_entered():
    result = validate(ERHOEHUNG_ARZT, valid_data(effective_date=""), ctx())
    assert result.errors["effective_date"] == ["Bitte „Die Änderung soll erfolgen ab dem“ angeben."]
    assert str(result.computed["earliest_date"]) == "2027-02-01"


def test_rules_do_not_import_django():
    import subprocess
    import sys

    code = (
        "import sys, kvportal.admission.rules.types, kvportal.admission.rules.lifecycle; "
        "sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

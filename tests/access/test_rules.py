"""Unit tests of the pure access-application rules (no database)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from kvportal.access import rules
from kvportal.access.rules import (
    ApplicationData,
    LanrStatus,
    Level,
    Person,
    Right,
    Role,
    Status,
    Variant,
)
from kvportal.members.identifiers import make_lanr

BSNR = "941234500"
LANR_LEITER = make_lanr("123456", "01")
LANR_ARZT = make_lanr("234567", "02")
LANR_ARZT2 = make_lanr("345678", "03")


def gf(**kw) -> Person:
    values = {
        "role": Role.TRAEGER,
        "last_name": "Groß",
        "first_name": "Gerda",
        "email": "gf@example.org",
        "listed": False,
    }
    values.update(kw)
    return Person(**values)


def leiter(**kw) -> Person:
    values = {
        "role": Role.LEITER,
        "last_name": "Lehmann",
        "first_name": "Lea",
        "email": "lehmann@example.org",
        "lanr": LANR_LEITER,
        "rights": frozenset({Right.DOCS_BSNR}),
    }
    values.update(kw)
    return Person(**values)


def arzt(**kw) -> Person:
    values = {
        "role": Role.ARZT,
        "last_name": "Albrecht",
        "first_name": "Anton",
        "email": "albrecht@example.org",
        "lanr": LANR_ARZT,
        "rights": frozenset({Right.DOCS_LANR}),
    }
    values.update(kw)
    return Person(**values)


def mvz(*persons: Person, **kw) -> ApplicationData:
    values = {
        "variant": Variant.MVZ,
        "practice_name": "MVZ Am Markt",
        "bsnr": BSNR,
        "traeger_name": "MVZ Am Markt GmbH",
        "persons": persons or (gf(), leiter(), arzt()),
    }
    values.update(kw)
    return ApplicationData(**values)


def messages(findings, field=None, level=None):
    return [
        f.message
        for f in findings
        if (field is None or f.field == field) and (level is None or f.level is level)
    ]


class FakeRegistry:
    def __init__(self, known_bsnrs=(BSNR,), active=()):
        self.known = set(known_bsnrs)
        self.active = {(lanr, bsnr) for lanr, bsnr in active}
        self.all_lanrs = {lanr for lanr, _ in self.active}

    def bsnr_known(self, bsnr):
        return bsnr in self.known

    def lanr_status(self, lanr, bsnr):
        if (lanr, bsnr) in self.active:
            return LanrStatus.ACTIVE
        if lanr in self.all_lanrs:
            return LanrStatus.INACTIVE
        return LanrStatus.UNKNOWN


def test_valid_mvz_application_has_no_findings():
    registry = FakeRegistry(active=[(LANR_LEITER, BSNR), (LANR_ARZT, BSNR)])
    assert rules.check_application(mvz(), registry) == []


# --- BSNR / header ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bsnr", "fragment"),
    [
        ("94123", "genau neun Ziffern"),
        ("94123450X", "genau neun Ziffern"),
        ("041234500", "kein gültiger KV-Bereich"),
        ("721234500", "nicht zur KV Sachsen"),
        ("", "Betriebsstättennummer (BSNR) an"),
    ],
)
def test_bsnr_format_and_region(bsnr, fragment):
    found = messages(rules.check_application(mvz(bsnr=bsnr)), "bsnr")
    assert any(fragment in m for m in found), found


@pytest.mark.parametrize("prefix", ["94", "95", "96", "98"])
def test_bsnr_of_kv_sachsen_accepted(prefix):
    assert messages(rules.check_application(mvz(bsnr=f"{prefix}1234500")), "bsnr") == []


def test_practice_and_traeger_name_required():
    found = rules.check_application(mvz(practice_name=" ", traeger_name=""))
    assert messages(found, "practice_name") == ["Bitte geben Sie den Namen des MVZ an."]
    assert messages(found, "traeger_name")


def test_traeger_name_not_required_for_einzelpraxis():
    data = ApplicationData(
        Variant.EINZELPRAXIS,
        "Praxis Dr. Albrecht",
        BSNR,
        (arzt(role=Role.INHABER),),
    )
    assert rules.check_application(data) == []


# --- LANR ------------------------------------------------------------------------------------


def test_lanr_format_and_check_digit():
    wrong_digit = LANR_ARZT[:6] + str((int(LANR_ARZT[6]) + 1) % 10) + LANR_ARZT[7:]
    found = rules.check_application(mvz(gf(), leiter(), arzt(lanr=wrong_digit)))
    assert any("Prüfziffer" in m for m in messages(found, "persons.2.lanr"))
    found = rules.check_application(mvz(gf(), leiter(), arzt(lanr="12345")))
    assert any("neun Ziffern" in m for m in messages(found, "persons.2.lanr"))


def test_doctor_needs_lanr_but_geschaeftsfuehrer_does_not():
    found = rules.check_application(mvz(gf(), leiter(), arzt(lanr="")))
    assert messages(found, "persons.2.lanr") == ["Albrecht, Anton: Bitte die LANR angeben."]
    assert messages(found, "persons.0.lanr") == []


def test_pseudo_lanr_cannot_get_an_account():
    found = rules.check_application(mvz(gf(), leiter(), arzt(lanr="999999901")))
    assert any("Pseudo-Arztnummer" in m for m in messages(found, "persons.2.lanr", Level.ERROR))


# --- persons ---------------------------------------------------------------------------------


def test_no_person_twice_by_lanr():
    found = rules.check_application(mvz(gf(), leiter(), arzt(), arzt(email="other@example.org")))
    assert any("nur einmal" in m for m in messages(found, "persons.3.lanr"))


def test_no_person_twice_by_name_without_lanr():
    found = rules.check_application(
        mvz(
            gf(),
            leiter(),
            arzt(),
            gf(
                last_name="GROSS",
                email="x@example.org",
                listed=True,
                rights=frozenset({Right.DOCS_BSNR}),
            ),
        )
    )
    assert any("nur einmal" in m for m in messages(found, "persons.3.last_name"))


def test_each_person_needs_own_email():
    found = rules.check_application(mvz(gf(), leiter(), arzt(email="LEHMANN@example.org")))
    assert any("eigene Adresse" in m for m in messages(found, "persons.2.email"))


def test_invalid_email():
    found = rules.check_application(mvz(gf(), leiter(), arzt(email="kein-at")))
    assert any("keine gültige E-Mail" in m for m in messages(found, "persons.2.email"))


def test_at_least_one_right_per_listed_person():
    found = rules.check_application(mvz(gf(), leiter(), arzt(rights=frozenset())))
    assert messages(found, "persons.2.rights") == [
        "Albrecht, Anton: Bitte mindestens eine Berechtigung ankreuzen."
    ]


def test_unlisted_geschaeftsfuehrer_needs_no_right_but_listed_one_does():
    assert (
        messages(
            rules.check_application(mvz(gf(listed=False), leiter(), arzt())), "persons.0.rights"
        )
        == []
    )
    found = rules.check_application(mvz(gf(listed=True), leiter(), arzt()))
    assert messages(found, "persons.0.rights")


def test_mvz_needs_exactly_one_traeger_and_one_leiter():
    found = rules.check_application(mvz(leiter(), arzt()))
    assert "Bitte geben Sie den Träger (Geschäftsführer) an." in messages(found, "persons")
    second = leiter(lanr=LANR_ARZT2, last_name="Zweit", email="z@example.org")
    found = rules.check_application(mvz(gf(), leiter(), second))
    assert "Es darf nur einen Ärztlichen Leiter geben." in messages(found, "persons")


def test_role_not_allowed_in_variant():
    data = mvz(gf(), leiter(), arzt(role=Role.PARTNER))
    assert messages(rules.check_application(data), "persons.2.role")


def test_bag_needs_two_partners():
    one = ApplicationData(Variant.BAG, "BAG Nord", BSNR, (arzt(role=Role.PARTNER),))
    assert any(
        "mindestens zwei Partner" in m for m in messages(rules.check_application(one), "persons")
    )
    two = dataclasses.replace(one, persons=(arzt(role=Role.PARTNER), leiter(role=Role.PARTNER)))
    assert rules.check_application(two) == []


# --- Ärztlicher Leiter -----------------------------------------------------------------------


def test_leiter_always_gets_billing_right():
    person = leiter(rights=frozenset({Right.DOCS_LANR}))
    assert rules.effective_rights(person) == {Right.BILLING, Right.DOCS_LANR}
    assert rules.effective_rights(arzt()) == {Right.DOCS_LANR}


def test_leiter_without_ticked_right_is_valid_and_gets_account():
    data = mvz(gf(), leiter(rights=frozenset(), listed=False), arzt())
    assert rules.check_application(data) == []
    accounts = dict((p.role, r) for p, r in rules.accounts_to_create(data))
    assert accounts[Role.LEITER] == {Right.BILLING}
    assert Role.TRAEGER not in accounts


def test_leiter_must_work_at_the_mvz_is_a_staff_flag():
    # an error would tell any applicant whether a LANR works at a BSNR (finding 8)
    registry = FakeRegistry(active=[(LANR_LEITER, "951111100"), (LANR_ARZT, BSNR)])
    found = rules.check_application(mvz(), registry)
    assert rules.errors(found) == []
    flagged = [f for f in found if f.field == "persons.1.lanr" and f.level is Level.FLAG]
    assert flagged and "muss Arzt des MVZ sein" in flagged[0].message and flagged[0].registry
    applicant = rules.for_applicant(mvz(), found)
    assert not any("muss Arzt" in f.message for f in applicant)
    assert messages(applicant, "persons.1.lanr") == [
        f"{mvz().persons[1].display_name}: {rules.NEUTRAL_PERSON_NOTE}"
    ]


def test_leiter_unknown_bsnr_is_only_flagged():
    registry = FakeRegistry(known_bsnrs=(), active=[])
    found = rules.check_application(mvz(), registry)
    assert rules.errors(found) == []
    assert messages(found, "bsnr", Level.FLAG)


# --- Arztregister ----------------------------------------------------------------------------


def test_unknown_lanr_flagged_not_accepted_silently():
    registry = FakeRegistry(active=[(LANR_LEITER, BSNR)])
    found = rules.check_application(mvz(), registry)
    assert rules.errors(found) == []
    flagged = messages(found, "persons.2.lanr", Level.FLAG)
    assert flagged and "nicht bekannt" in flagged[0]


def test_lanr_inactive_at_bsnr_flagged():
    registry = FakeRegistry(active=[(LANR_LEITER, BSNR), (LANR_ARZT, "951111100")])
    flagged = messages(rules.check_application(mvz(), registry), "persons.2.lanr", Level.FLAG)
    assert flagged and "nicht aktiv" in flagged[0]


@pytest.mark.parametrize(
    "registry",
    [
        FakeRegistry(active=[(LANR_LEITER, BSNR), (LANR_ARZT, BSNR)]),  # all in order
        FakeRegistry(active=[(LANR_LEITER, BSNR)]),  # doctor unknown
        FakeRegistry(active=[(LANR_LEITER, BSNR), (LANR_ARZT, "951111100")]),  # elsewhere
        FakeRegistry(active=[(LANR_LEITER, "951111100"), (LANR_ARZT, BSNR)]),  # ÄL elsewhere
        FakeRegistry(known_bsnrs=(), active=[]),  # BSNR unknown
    ],
)
def test_applicants_learn_nothing_from_the_registry(registry):
    """Whatever the Arztregister holds, the applicant sees the same findings (finding 8)."""
    data = mvz()
    everything_known = FakeRegistry(active=[(LANR_LEITER, BSNR), (LANR_ARZT, BSNR)])
    baseline = rules.for_applicant(data, rules.check_application(data, everything_known))
    seen = rules.for_applicant(data, rules.check_application(data, registry))
    assert seen == baseline
    assert {f.message for f in seen} >= {
        rules.NEUTRAL_PRACTICE_NOTE,
        f"{data.persons[2].display_name}: {rules.NEUTRAL_PERSON_NOTE}",
    }
    assert not any("nicht bekannt" in f.message or "nicht aktiv" in f.message for f in seen)


# --- confirmations ---------------------------------------------------------------------------


def test_required_confirmations_mvz():
    data = mvz()
    required = [p.role for p in rules.required_confirmations(data)]
    assert required == [Role.TRAEGER, Role.LEITER, Role.ARZT]


def test_required_confirmations_bag_and_einzelpraxis():
    bag = ApplicationData(
        Variant.BAG,
        "BAG",
        BSNR,
        (
            arzt(role=Role.PARTNER),
            leiter(role=Role.PARTNER),
            arzt(lanr=LANR_ARZT2, last_name="Angestellt", email="a@example.org"),
        ),
    )
    assert [p.role for p in rules.required_confirmations(bag)] == [
        Role.PARTNER,
        Role.PARTNER,
        Role.ARZT,
    ]
    ep = ApplicationData(Variant.EINZELPRAXIS, "EP", BSNR, (arzt(role=Role.INHABER),))
    assert [p.role for p in rules.required_confirmations(ep)] == [Role.INHABER]


def test_completeness_requires_every_confirmation():
    data = mvz()
    fp = rules.content_fingerprint(data)
    keys = [rules.person_key(p) for p in rules.required_confirmations(data)]
    confirmed = {keys[0]: fp, keys[1]: fp}
    missing = rules.missing_confirmations(data, confirmed)
    assert [p.last_name for p in missing] == ["Albrecht"]
    assert not rules.is_complete(data, confirmed)
    confirmed[keys[2]] = fp
    assert rules.is_complete(data, confirmed)


def test_change_of_content_voids_confirmations():
    data = mvz()
    fp = rules.content_fingerprint(data)
    confirmed = {rules.person_key(p): fp for p in rules.required_confirmations(data)}
    changed = mvz(gf(), leiter(), arzt(rights=frozenset({Right.DOCS_BSNR})))
    assert rules.content_fingerprint(changed) != fp
    assert len(rules.missing_confirmations(changed, confirmed)) == 3


def test_fingerprint_ignores_insignificant_whitespace_and_email_case():
    a = mvz()
    b = mvz(gf(email="GF@example.org "), leiter(), arzt(), practice_name=" MVZ Am Markt")
    assert rules.content_fingerprint(a) == rules.content_fingerprint(b)


# --- workflow --------------------------------------------------------------------------------


def test_transitions():
    rules.check_transition(Status.ENTWURF, Status.BESTAETIGUNG)
    rules.check_transition(Status.EINGEREICHT, Status.NACHBESSERUNG)
    rules.check_transition(Status.NACHBESSERUNG, Status.BESTAETIGUNG)
    with pytest.raises(rules.TransitionError, match="Genehmigt"):
        rules.check_transition(Status.GENEHMIGT, Status.ABGELEHNT)
    with pytest.raises(rules.TransitionError):
        rules.check_transition(Status.ENTWURF, Status.GENEHMIGT)


def test_initial_password_expiry():
    issued = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert not rules.initial_password_expired(issued, issued + dt.timedelta(days=29, hours=23), 30)
    assert rules.initial_password_expired(issued, issued + dt.timedelta(days=30), 30)
    assert rules.initial_password_valid_until(issued, 7) == issued + dt.timedelta(days=7)


def test_doctor_documents_need_a_lanr():
    found = rules.check_application(
        mvz(gf(listed=True, rights=frozenset({Right.DOCS_LANR})), leiter(), arzt())
    )
    assert any("nur für Personen mit LANR" in m for m in messages(found, "persons.0.rights"))

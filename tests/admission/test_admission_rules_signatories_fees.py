"""Signatories and fees."""

from decimal import Decimal as D

import pytest

from kvportal.admission.rules.fees import FeeRule, compute_fees
from kvportal.admission.rules.signatories import Person, required_signatories
from kvportal.admission.rules.types import ERHOEHUNG_ARZT

EMP = Person("Dr. Erika Beispiel", "erika@example.org", "123456001")
A = Person("Dr. Anna Partner", "anna@example.org", "111111001")
B = Person("Dr. Bernd Partner", "bernd@example.org", "222222001")
C = Person("Clara Partner", "clara@example.org", "333333001")


def names(check):
    return [(s.person.name, tuple(s.roles)) for s in check.signatories]


def test_einzelpraxis():
    check = required_signatories(
        applicant_kind="einzelpraxis", applicant=A, representative=None, employee=EMP, partners=[]
    )
    assert check.errors == {}
    assert names(check) == [(A.name, ("antragsteller",)), (EMP.name, ("angestellter",))]


def test_bag_all_partners_and_representative_merged():
    check = required_signatories(
        applicant_kind="bag", applicant=None, representative=A, employee=EMP, partners=[A, B, C]
    )
    assert check.errors == {}
    assert names(check) == [
        (A.name, ("vertretungsberechtigter", "gesellschafter")),
        (B.name, ("gesellschafter",)),
        (C.name, ("gesellschafter",)),
        (EMP.name, ("angestellter",)),
    ]
    assert check.signatories[0].label == "Vertretungsberechtigte(r) und Gesellschafter(in) der BAG"


def test_mvz_representative_and_employee():
    rep = Person("Max Geschäftsführer", "gf@example.org")
    check = required_signatories(
        applicant_kind="mvz", applicant=None, representative=rep, employee=EMP, partners=[]
    )
    assert check.errors == {}
    assert len(check.signatories) == 2


@pytest.mark.parametrize(
    ("kind", "rep", "partners", "employee", "field"),
    [
        ("bag", A, [A], EMP, "partners"),  # a BAG has at least two partners
        ("bag", None, [A, B], EMP, "representative_name"),
        ("mvz", None, [], EMP, "representative_name"),
        ("mvz", A, [B], EMP, "partners"),
        ("einzelpraxis", None, [B], EMP, "partners"),
        ("bag", A, [A, EMP], EMP, "employee_name"),  # employee cannot be a partner
        ("bag", A, [A, B], None, "employee_name"),
        ("", A, [], EMP, "applicant_kind"),
    ],
)
def test_signatory_errors(kind, rep, partners, employee, field):
    check = required_signatories(
        applicant_kind=kind, applicant=A, representative=rep, employee=employee, partners=partners
    )
    assert field in check.errors


RULE = ERHOEHUNG_ARZT.fee_rule


@pytest.mark.parametrize(
    ("mode", "fee", "admin", "halved"),
    [
        ("nachbesetzung", "60.00", "0.00", True),
        ("uebernahme", "120.00", "400.00", False),
        ("planungsbereich", "120.00", "400.00", False),
        ("leistungsbeschraenkung", "120.00", "400.00", False),
    ],
)
def test_fees_per_mode(mode, fee, admin, halved):
    schedule = compute_fees(RULE, mode)
    assert (schedule.application_fee, schedule.admin_fee_after_final, schedule.halved) == (
        D(fee),
        D(admin),
        halved,
    )
    assert schedule.lines[0].startswith(f"Antragsgebühr {fee.replace('.', ',')} €")
    assert (len(schedule.lines) == 2) is (admin != "0.00")


def test_fee_rule_halves_admin_fee_when_not_exempt():
    rule = FeeRule(halved_modes=frozenset({"x"}))
    schedule = compute_fees(rule, "x")
    assert schedule.application_fee == D("60.00")
    assert schedule.admin_fee_after_final == D("200.00")

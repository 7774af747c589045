"""Holders create Praxispersonal accounts with rights they hold and that are delegable."""

import pytest
from django.core.exceptions import PermissionDenied

from kvportal.accounts import scope, services
from kvportal.accounts.constants import AccountKind, Right
from kvportal.accounts.models import PortalRight
from kvportal.audit.models import AccessLogEntry, Activity
from kvportal.members.constants import Role
from tests.factories import BetriebsstaetteFactory, doctor_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def practice():
    return BetriebsstaetteFactory()


@pytest.fixture
def holder(practice):
    return doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_LANR)


def test_holder_creates_staff_account_with_held_delegable_right(holder, practice):
    staff_user, password = services.create_praxispersonal(
        actor=holder,
        betriebsstaette=practice,
        first_name="Mia",
        last_name="Helfer",
        email="mia@praxis.example",
        rights=[Right.BILLING],
    )
    assert staff_user.kind == AccountKind.PRAXISPERSONAL
    assert staff_user.must_change_password and staff_user.check_password(password)
    assert scope.has_right(staff_user, practice, Right.BILLING)
    assert AccessLogEntry.objects.filter(activity=Activity.RIGHT_GRANTED, user=holder).exists()


@pytest.mark.parametrize(
    ("right", "reason"),
    [(Right.DOCS_BSNR, "selbst"), (Right.DOCS_LANR, "persönlich")],
)
def test_holder_cannot_delegate_rights_not_held_or_not_delegable(holder, practice, right, reason):
    with pytest.raises(PermissionDenied, match=reason):
        services.create_praxispersonal(
            actor=holder,
            betriebsstaette=practice,
            first_name="Mia",
            last_name="Helfer",
            email="",
            rights=[right],
        )
    assert not PortalRight.objects.filter(user__kind=AccountKind.PRAXISPERSONAL).exists()


def test_praxispersonal_cannot_delegate_further(holder, practice):
    staff_user, _ = services.create_praxispersonal(
        actor=holder,
        betriebsstaette=practice,
        first_name="A",
        last_name="B",
        email="",
        rights=[Right.BILLING],
    )
    with pytest.raises(PermissionDenied, match="Praxispersonal"):
        services.create_praxispersonal(
            actor=staff_user,
            betriebsstaette=practice,
            first_name="C",
            last_name="D",
            email="",
            rights=[Right.BILLING],
        )


def test_no_delegation_for_another_practice(holder):
    other = BetriebsstaetteFactory()
    with pytest.raises(PermissionDenied):
        services.create_praxispersonal(
            actor=holder,
            betriebsstaette=other,
            first_name="A",
            last_name="B",
            email="",
            rights=[Right.BILLING],
        )


def test_aerztlicher_leiter_may_delegate_the_implied_billing_right():
    mvz = BetriebsstaetteFactory(mvz=True)
    leiter = doctor_account(mvz, Role.AERZTLICHER_LEITER, Right.DOCS_BSNR)
    staff_user, _ = services.create_praxispersonal(
        actor=leiter,
        betriebsstaette=mvz,
        first_name="A",
        last_name="B",
        email="",
        rights=[Right.BILLING, Right.DOCS_BSNR],
    )
    assert scope.has_right(staff_user, mvz, Right.BILLING)


def test_withdraw_any_time_via_page(client, holder, practice):
    staff_user, _ = services.create_praxispersonal(
        actor=holder,
        betriebsstaette=practice,
        first_name="A",
        last_name="B",
        email="",
        rights=[Right.BILLING],
    )
    right = PortalRight.objects.get(user=staff_user)
    client.force_login(holder)
    page = client.get("/konto/mitarbeiter/").content.decode()
    assert staff_user.username in page
    client.post(f"/konto/mitarbeiter/recht/{right.pk}/entziehen/")
    assert not scope.has_right(staff_user, practice, Right.BILLING)
    assert AccessLogEntry.objects.filter(activity=Activity.RIGHT_REVOKED).exists()


def test_staff_accounts_page_creates_account_and_shows_password_once(client, holder, practice):
    client.force_login(holder)
    response = client.post(
        "/konto/mitarbeiter/",
        {
            "betriebsstaette": practice.pk,
            "first_name": "Mia",
            "last_name": "Helfer",
            "email": "",
            "rights": ["billing"],
        },
    )
    html = response.content.decode()
    assert "Initialpasswort" in html and "helfer.m" in html
    again = client.get("/konto/mitarbeiter/").content.decode()
    assert "Initialpasswort (wird nur jetzt angezeigt" not in again


def test_staff_accounts_page_rejects_non_held_right_with_german_message(client, holder, practice):
    client.force_login(holder)
    response = client.post(
        "/konto/mitarbeiter/",
        {
            "betriebsstaette": practice.pk,
            "first_name": "Mia",
            "last_name": "Helfer",
            "email": "",
            "rights": ["docs_bsnr"],
        },
    )
    assert "nur Rechte weitergeben, die Sie selbst" in response.content.decode()


def test_api_token_scopes_members_versus_abrechnung_staff():
    from django.core.exceptions import ValidationError

    from tests.factories import kv_staff

    member = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    token, raw = services.create_api_token(actor=member, name="PVS", scopes=["billing"])
    assert raw.startswith("kvp_") and raw not in token.token_hash
    with pytest.raises(ValidationError):
        services.create_api_token(actor=member, name="x", scopes=["documents_import"])
    abrechnung = kv_staff("Abrechnung", username="kv.abr.api")
    services.create_api_token(actor=abrechnung, name="Import", scopes=["documents_import"])
    with pytest.raises(ValidationError):
        services.create_api_token(actor=abrechnung, name="x", scopes=["billing"])
    # Arztregister (the KV as KIM card issuer, issue 15): only the directory administration
    register = kv_staff("Arztregister", username="kv.reg.api")
    services.create_api_token(actor=register, name="VZD", scopes=["kim_admin"])
    with pytest.raises(ValidationError):
        services.create_api_token(actor=register, name="x", scopes=["documents_import"])
    zulassung = kv_staff("Zulassung", username="kv.zul.api")
    with pytest.raises(PermissionDenied):
        services.create_api_token(actor=zulassung, name="x", scopes=["documents_import"])

"""Permission matrix: several users × several practices × every foundation page and object.

Nothing of a practice the user holds no right for may appear on any page, and objects of
other practices are answered with 404 whatever id is tried."""

import pytest
from django.urls import reverse

from kvportal.accounts import services
from kvportal.accounts.constants import Right
from kvportal.accounts.models import ApiToken, PortalRight
from kvportal.members.constants import Role
from tests.factories import BetriebsstaetteFactory, doctor_account, kv_staff

pytestmark = pytest.mark.django_db

MEMBER_PAGES = [
    "core:home",
    "accounts:access_log",
    "accounts:staff_accounts",
    "accounts:api_tokens",
    "accounts:settings",
]


@pytest.fixture
def world():
    mvz = BetriebsstaetteFactory(mvz=True, name="MVZ Alpha", bsnr="953111100")
    bag = BetriebsstaetteFactory(bag=True, name="BAG Beta", bsnr="943222200")
    solo = BetriebsstaetteFactory(name="Praxis Gamma", bsnr="963333300")
    users = {
        "mvz_leiter": doctor_account(mvz, Role.AERZTLICHER_LEITER, Right.DOCS_BSNR),
        "mvz_angestellt": doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_LANR),
        "bag_partner": doctor_account(bag, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR),
        "solo": doctor_account(
            solo, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR, Right.DOCS_LANR
        ),
    }
    staff, _ = services.create_praxispersonal(
        actor=users["bag_partner"],
        betriebsstaette=bag,
        first_name="Mia",
        last_name="Helfer",
        email="",
        rights=[Right.BILLING],
    )
    staff.must_change_password = False
    staff.save()
    users["bag_staff"] = staff
    practices = {"mvz": mvz, "bag": bag, "solo": solo}
    allowed = {
        "mvz_leiter": {"mvz"},
        "mvz_angestellt": {"mvz"},
        "bag_partner": {"bag"},
        "solo": {"solo"},
        "bag_staff": {"bag"},
    }
    for user in users.values():
        services.create_api_token(actor=user, name=f"PVS {user.username}", scopes=["billing"])
    return users, practices, allowed


@pytest.mark.parametrize(
    "user_key", ["mvz_leiter", "mvz_angestellt", "bag_partner", "solo", "bag_staff"]
)
@pytest.mark.parametrize("page", MEMBER_PAGES)
def test_pages_show_nothing_of_foreign_practices(client, world, user_key, page):
    users, practices, allowed = world
    client.force_login(users[user_key])
    response = client.get(reverse(page))
    assert response.status_code in (200, 403, 404)
    html = response.content.decode()
    for key, practice in practices.items():
        if key not in allowed[user_key]:
            assert practice.bsnr not in html, (user_key, page, key)
            assert practice.name not in html, (user_key, page, key)
    for other_key, other in users.items():
        if other_key != user_key and not (other_key == "bag_staff" and user_key == "bag_partner"):
            assert f"PVS {other.username}" not in html


@pytest.mark.parametrize("user_key", ["mvz_leiter", "mvz_angestellt", "solo", "bag_staff"])
def test_foreign_rights_and_tokens_cannot_be_touched(client, world, user_key):
    users, _, _ = world
    client.force_login(users[user_key])
    foreign_right = PortalRight.objects.get(user=users["bag_staff"])
    response = client.post(reverse("accounts:staff_right_revoke", args=[foreign_right.pk]))
    assert response.status_code == 404
    assert PortalRight.objects.filter(pk=foreign_right.pk).exists()
    foreign_token = ApiToken.objects.get(user=users["bag_partner"])
    response = client.post(reverse("accounts:api_token_revoke", args=[foreign_token.pk]))
    assert response.status_code == 404
    foreign_token.refresh_from_db()
    assert foreign_token.revoked_at is None


def test_home_shows_exactly_the_own_practices(client, world):
    users, practices, allowed = world
    for key, user in users.items():
        client.force_login(user)
        html = client.get("/").content.decode()
        for pkey, practice in practices.items():
            assert (practice.bsnr in html) is (pkey in allowed[key]), (key, pkey)


@pytest.mark.parametrize("user_key", ["mvz_leiter", "bag_partner", "bag_staff"])
def test_members_never_reach_the_back_office(client, world, user_key):
    users, _, _ = world
    client.force_login(users[user_key])
    response = client.get("/backoffice/")
    assert response.status_code == 302 and "/backoffice/login/" in response["Location"]


def test_anonymous_sees_only_login(client, world):
    for page in MEMBER_PAGES:
        response = client.get(reverse(page))
        assert response.status_code == 302 and response["Location"].startswith("/anmelden/")


def test_kv_staff_has_no_member_scope(client, world):
    from tests.conftest import otp_verify

    staff = kv_staff("Abrechnung", username="kv.matrix")
    client.force_login(staff)
    otp_verify(client, staff)
    html = client.get("/").content.decode()
    assert "Backoffice der KV" in html
    assert client.get(reverse("accounts:staff_accounts")).status_code == 404

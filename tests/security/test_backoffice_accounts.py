"""Back office, issue 11/13: no staff role escalates, reads TOTP secrets or sets other staff
members' passwords; account administration is superuser-only and audited old → new;
registry edits of the Arztregister are audited with the changed fields; a re-issued initial
password is shown once from the server-side session, never in the messages cookie."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from kvportal.accounts import services
from kvportal.accounts.constants import AccountKind, StaffRole
from kvportal.audit.models import AccessLogEntry, Activity
from kvportal.members import services as members
from kvportal.members.models import Betriebsstaette
from tests.conftest import otp_verify
from tests.factories import (
    BetriebsstaetteFactory,
    PersonFactory,
    TaetigkeitFactory,
    UserFactory,
    kv_staff,
)

pytestmark = pytest.mark.django_db
ROLES = ["Arztregister", "Abrechnung", "Zulassung"]


def superuser_client():
    root = kv_staff(username="kv.root")
    root.is_superuser = True
    root.save()
    client = Client()
    client.force_login(root)
    otp_verify(client, root)
    return client, root


def form_data(response) -> dict:
    """POST data of an admin change form as it was rendered (incl. inline formsets)."""
    data = {}

    def add(form):
        for name, field in form.fields.items():
            value = form[name].value()
            if value is None:
                continue
            key = form.add_prefix(name)
            if isinstance(value, list | tuple):
                data[key] = [str(v) for v in value]
            elif isinstance(value, bool):
                if value:
                    data[key] = "on"
            else:
                data[key] = str(value)

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        add(formset.management_form)
        for form in formset.forms:
            add(form)
    return data


@pytest.mark.parametrize("role", ROLES)
def test_staff_role_cannot_make_itself_superuser(staff_client, role):
    client, user = staff_client(role)
    url = f"/backoffice/accounts/user/{user.pk}/change/"
    response = client.post(url, {"username": user.username, "is_superuser": "on"})
    assert response.status_code == 403
    user.refresh_from_db()
    assert not user.is_superuser
    assert client.get("/backoffice/accounts/user/").status_code == 403
    assert client.get("/backoffice/auth/group/").status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_staff_role_cannot_touch_other_staff_passwords_or_devices(staff_client, role):
    client, _user = staff_client(role)
    other = kv_staff("Abrechnung", username="kv.other")
    device = TOTPDevice.objects.create(user=other, name="Handy", confirmed=True)
    old_hash = other.password
    for url in (
        f"/backoffice/accounts/user/{other.pk}/password/",
        f"/backoffice/otp_totp/totpdevice/{device.pk}/config/",
        f"/backoffice/otp_totp/totpdevice/{device.pk}/qrcode/",
        f"/backoffice/otp_totp/totpdevice/{device.pk}/change/",
        f"/backoffice/otp_totp/totpdevice/{device.pk}/delete/",
    ):
        get, post = client.get(url), client.post(url, {"post": "yes"})
        assert get.status_code in (403, 404) and post.status_code in (403, 404), url
        assert device.key not in get.content.decode()
    other.refresh_from_db()
    assert other.password == old_hash and TOTPDevice.objects.filter(pk=device.pk).exists()
    # the services refuse too, whatever page calls them
    actor = _user
    with pytest.raises(PermissionDenied):
        services.issue_initial_password(actor=actor, user=other)
    with pytest.raises(PermissionDenied):
        services.reset_second_factor(actor=actor, device=device)
    with pytest.raises(PermissionDenied):
        services.deactivate_account(actor=actor, user=other)
    with pytest.raises(PermissionDenied):
        services.unlock_account(actor=actor, user=other)
    with pytest.raises(PermissionDenied):
        services.update_account(actor=actor, user=other, values={"is_superuser": True})


def test_totp_secret_is_never_shown_even_to_superusers():
    client, _root = superuser_client()
    owner = kv_staff("Zulassung", username="kv.owner")
    device = TOTPDevice.objects.create(user=owner, name="Handy", confirmed=True)
    assert client.get(f"/backoffice/otp_totp/totpdevice/{device.pk}/config/").status_code == 404
    assert client.get(f"/backoffice/otp_totp/totpdevice/{device.pk}/qrcode/").status_code == 404
    pages = [
        client.get("/backoffice/otp_totp/totpdevice/"),
        client.get(f"/backoffice/otp_totp/totpdevice/{device.pk}/change/"),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert device.key not in html and device.config_url not in html
    assert client.get("/backoffice/otp_totp/totpdevice/add/").status_code == 403


def test_superuser_removes_a_second_factor_audited():
    client, root = superuser_client()
    owner = kv_staff("Zulassung", username="kv.owner")
    device = TOTPDevice.objects.create(user=owner, name="Handy", confirmed=True)
    response = client.post(f"/backoffice/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    entry = AccessLogEntry.objects.get(activity=Activity.OTP_DISABLED, object_id=str(owner.pk))
    assert entry.user == root and entry.detail["name"] == "Handy"


def test_superuser_changes_roles_and_flags_audited_old_to_new():
    client, root = superuser_client()
    target = kv_staff("Abrechnung", username="kv.target")
    url = f"/backoffice/accounts/user/{target.pk}/change/"
    data = form_data(client.get(url))
    data["groups"] = [str(Group.objects.get(name="Zulassung").pk)]
    data["is_superuser"] = "on"
    data["first_name"] = "Neu"
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    target.refresh_from_db()
    assert target.is_superuser and list(target.groups.values_list("name", flat=True)) == [
        "Zulassung"
    ]
    entry = AccessLogEntry.objects.get(activity=Activity.ACCOUNT_ADMIN, object_id=str(target.pk))
    assert entry.user == root and entry.username == root.username
    changes = entry.detail["changes"]
    assert changes["is_superuser"] == [False, True]
    assert changes["groups"] == [["Abrechnung"], ["Zulassung"]]
    assert changes["first_name"][1] == "Neu"
    assert "password" not in changes
    assert not AccessLogEntry.objects.filter(activity=Activity.STAFF_ACTION, detail={}).exists()


def test_account_change_and_audit_share_one_transaction():
    _client, root = superuser_client()
    target = kv_staff("Abrechnung", username="kv.target")
    with pytest.raises(ValidationError):
        services.update_account(actor=root, user=target, values={"username": ""})
    target.refresh_from_db()
    assert target.username == "kv.target"
    assert not AccessLogEntry.objects.filter(activity=Activity.ACCOUNT_ADMIN).exists()


def test_superuser_creates_staff_account_and_sees_password_once():
    client, root = superuser_client()
    response = client.post(
        "/backoffice/accounts/user/add/",
        {
            "username": "kv.neu",
            "first_name": "Nora",
            "last_name": "Neu",
            "roles": ["Arztregister"],
        },
    )
    assert response.status_code == 302
    assert "messages" not in response.cookies
    user = services.User.objects.get(username="kv.neu")
    assert user.kind == AccountKind.STAFF and user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == ["Arztregister"]
    assert user.must_change_password
    page = client.get(response["Location"])
    assert "no-store" in page["Cache-Control"]
    html = page.content.decode()
    password = page.context["pending"][0]["password"]
    assert user.check_password(password) and password in html
    again = client.get(response["Location"]).content.decode()
    assert password not in again
    entry = AccessLogEntry.objects.get(activity=Activity.ACCOUNT_ADMIN, object_id=str(user.pk))
    assert entry.user == root and entry.detail["changes"]["groups"] == [[], ["Arztregister"]]


def test_duplicate_staff_username_is_a_field_error():
    client, _root = superuser_client()
    kv_staff(username="kv.dup")
    response = client.post(
        "/backoffice/accounts/user/add/",
        {"username": "KV.dup", "first_name": "A", "last_name": "B"},
    )
    assert response.status_code == 200
    assert "bereits vergeben" in response.content.decode()


def test_reissued_password_never_travels_in_the_messages_cookie():
    client, _root = superuser_client()
    member = UserFactory(username="m.mueller")
    response = client.post(
        "/backoffice/accounts/user/",
        {"action": "reissue_password", "_selected_action": [str(member.pk)]},
    )
    assert response.status_code == 302
    cookie = response.cookies.get("messages")
    page = client.get(response["Location"])
    password = page.context["pending"][0]["password"]
    member.refresh_from_db()
    assert member.check_password(password)
    assert cookie is None or password not in cookie.value
    assert "messages" not in page.cookies or password not in page.cookies["messages"].value
    assert password not in client.get(response["Location"]).content.decode()


def test_superuser_deactivates_account_rights_and_tokens_end():
    _client, root = superuser_client()
    member = UserFactory(username="m.aus")
    _token, _raw = services.create_api_token(actor=member, name="PVS", scopes=["billing"])
    services.deactivate_account(actor=root, user=member)
    member.refresh_from_db()
    assert not member.is_active
    assert not member.api_tokens.filter(revoked_at__isnull=True).exists()
    entry = AccessLogEntry.objects.get(activity=Activity.ACCOUNT_DISABLED)
    assert entry.user == root and entry.detail["changes"]["is_active"] == [True, False]


def test_create_kv_staff_account_refused_for_staff_roles():
    arzt = kv_staff("Arztregister", username="kv.arzt")
    with pytest.raises(PermissionDenied):
        services.create_kv_staff_account(
            actor=arzt, username="kv.x", first_name="X", last_name="Y", roles=[StaffRole.ABRECHNUNG]
        )


# ---- registry edits of the Arztregister ---------------------------------------------------


def test_arztregister_edits_betriebsstaette_audited_with_changed_fields(staff_client):
    client, clerk = staff_client("Arztregister")
    practice = BetriebsstaetteFactory(name="Praxis Alt")
    person = PersonFactory()
    taetigkeit = TaetigkeitFactory(person=person, betriebsstaette=practice)
    url = f"/backoffice/members/betriebsstaette/{practice.pk}/change/"
    data = form_data(client.get(url))
    data["name"] = "Praxis Neu"
    role_key = next(k for k in data if k.startswith("taetigkeiten-") and k.endswith("-role"))
    old_role = data[role_key]
    from kvportal.members.constants import Role

    new_role = next(r for r in Role.values if r != old_role)
    data[role_key] = new_role
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    practice.refresh_from_db()
    assert practice.name == "Praxis Neu"
    entry = AccessLogEntry.objects.get(
        activity=Activity.UPDATE,
        object_type="members.betriebsstaette",
        object_id=str(practice.pk),
    )
    assert entry.user == clerk and entry.bsnr == practice.bsnr
    assert entry.detail["changes"] == {"name": ["Praxis Alt", "Praxis Neu"]}
    row = AccessLogEntry.objects.get(
        activity=Activity.UPDATE, object_type="members.taetigkeit", object_id=str(taetigkeit.pk)
    )
    assert row.detail["changes"] == {"role": [old_role, new_role]}


def test_arztregister_deletes_person_audited(staff_client):
    client, clerk = staff_client("Arztregister")
    person = PersonFactory(last_name="Weg")
    lanr = person.lanr
    response = client.post(f"/backoffice/members/person/{person.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    entry = AccessLogEntry.objects.get(activity=Activity.DELETE, object_type="members.person")
    assert entry.user == clerk and entry.detail["deleted"]["lanr"] == lanr


@pytest.mark.parametrize("role", ["Abrechnung", "Zulassung"])
def test_registry_services_refuse_other_roles(role):
    actor = kv_staff(role, username=f"kv.{role.lower()}")
    practice = BetriebsstaetteFactory(name="Praxis")
    practice.name = "Geändert"
    with pytest.raises(PermissionDenied):
        members.save_registry_entry(actor=actor, entry=practice)
    with pytest.raises(PermissionDenied):
        members.delete_registry_entry(actor=actor, entry=practice)
    assert Betriebsstaette.objects.get(pk=practice.pk).name == "Praxis"


def test_registry_change_without_changes_writes_nothing():
    clerk = kv_staff("Arztregister", username="kv.arzt")
    practice = BetriebsstaetteFactory()
    assert members.save_registry_entry(actor=clerk, entry=practice) == {}
    assert not AccessLogEntry.objects.filter(activity=Activity.UPDATE).exists()


def test_superuser_cannot_remove_his_own_administration_rights():
    _client, root = superuser_client()
    with pytest.raises(ValidationError):
        services.update_account(actor=root, user=root, values={"is_superuser": False})
    root.refresh_from_db()
    assert root.is_superuser
    client = Client()
    client.force_login(root)
    otp_verify(client, root)
    url = f"/backoffice/accounts/user/{root.pk}/change/"
    data = form_data(client.get(url))
    data.pop("is_superuser")
    response = client.post(url, data)
    assert response.status_code == 200
    assert "ändert ein anderer" in response.content.decode()
    root.refresh_from_db()
    assert root.is_superuser

"""Login, sessions and their access-log entries (seed 000/001)."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from kvportal.accounts import services
from kvportal.accounts.constants import Right
from kvportal.audit.models import AccessLogEntry, Activity
from kvportal.members.constants import Role
from tests.factories import PASSWORD, BetriebsstaetteFactory, UserFactory, doctor_account, kv_staff

pytestmark = pytest.mark.django_db
LOGIN = "/anmelden/"


def activities(user=None):
    qs = AccessLogEntry.objects.order_by("timestamp", "id")
    if user is not None:
        qs = qs.filter(username=user.username)
    return list(qs.values_list("activity", flat=True))


def test_login_records_ip_browser_and_os(client):
    user = UserFactory()
    response = client.post(
        LOGIN,
        {"username": user.username, "password": PASSWORD},
        HTTP_USER_AGENT="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Safari/537.36",
        REMOTE_ADDR="10.20.30.40",
    )
    assert response.status_code == 302
    entry = AccessLogEntry.objects.get(activity=Activity.LOGIN)
    assert (entry.user, entry.ip_address, entry.browser, entry.operating_system) == (
        user,
        "10.20.30.40",
        "Chrome 120",
        "Windows",
    )


def test_failed_login_is_logged_with_german_message(client):
    user = UserFactory()
    response = client.post(LOGIN, {"username": user.username, "password": "falsch"})
    assert response.status_code == 200
    assert "Nutzername oder Passwort ist falsch" in response.content.decode()
    assert activities(user) == [Activity.LOGIN_FAILED]


def test_first_login_forces_password_change_before_anything_else(client):
    user, initial = services.create_member_account(actor=None, first_name="Nina", last_name="Neu")
    client.post(LOGIN, {"username": user.username, "password": initial})
    for url in ["/", "/konto/protokoll/", "/konto/api-zugaenge/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == "/konto/passwort/", url
    response = client.post(
        "/konto/passwort/",
        {
            "old_password": initial,
            "new_password1": "Mond-Stern!7x",
            "new_password2": "Mond-Stern!7x",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.must_change_password
    assert user.first_password_change_at is not None
    assert client.get("/").status_code == 200
    assert Activity.PASSWORD_CHANGED in activities(user)


def test_password_change_errors_are_german_and_at_the_field(client):
    user, initial = services.create_member_account(actor=None, first_name="Nina", last_name="Neu")
    client.post(LOGIN, {"username": user.username, "password": initial})
    response = client.post(
        "/konto/passwort/",
        {"old_password": initial, "new_password1": "kurz", "new_password2": "kurz"},
    )
    html = response.content.decode()
    assert response.status_code == 200 and "zu kurz" in html
    user.refresh_from_db()
    assert user.must_change_password


def test_expired_initial_password_is_refused_with_instructions(client, settings):
    user, initial = services.create_member_account(actor=None, first_name="Otto", last_name="Alt")
    with time_machine.travel(
        timezone.now() + dt.timedelta(days=settings.INITIAL_PASSWORD_VALIDITY_DAYS + 1)
    ):
        response = client.post(LOGIN, {"username": user.username, "password": initial})
    assert response.status_code == 200
    assert "Initialpasswort ist abgelaufen" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_reissued_password_invalidates_the_old_one(client):
    user, first = services.create_member_account(actor=None, first_name="Otto", last_name="Alt")
    second = services.issue_initial_password(actor=None, user=user)
    assert first != second
    user.refresh_from_db()
    assert not user.check_password(first) and user.check_password(second)
    assert first not in user.password and second not in user.password  # stored hashed


def test_lockout_after_configured_failures_and_staff_unlock(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = UserFactory()
    for _ in range(3):
        client.post(LOGIN, {"username": user.username, "password": "falsch"})
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "gesperrt" in response.content.decode()
    staff = kv_staff("Arztregister", username="kv.reg")
    services.unlock_account(actor=staff, user=user)
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert AccessLogEntry.objects.filter(
        activity=Activity.UNLOCKED, object_id=str(user.pk), user=staff
    ).exists()


def test_logout_ends_the_server_side_session(client):
    user = UserFactory()
    client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    session_key = client.session.session_key
    response = client.post("/abmelden/")
    assert response["Location"] == "/anmelden/?grund=abgemeldet"
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=session_key).exists()
    assert client.get("/").status_code == 302
    assert activities(user)[-1] == Activity.LOGOUT


def test_idle_session_ends_and_login_page_says_why(client, settings):
    settings.SESSION_IDLE_MINUTES = 30
    user = UserFactory()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.post(LOGIN, {"username": user.username, "password": PASSWORD})
        assert client.get("/").status_code == 200
    with time_machine.travel(start + dt.timedelta(minutes=29), tick=False):
        assert client.get("/").status_code == 200  # activity renews the idle timer
    with time_machine.travel(start + dt.timedelta(minutes=29 + 31), tick=False):
        response = client.get("/konto/protokoll/")
    assert response["Location"] == "/anmelden/?grund=zeitablauf"
    assert "automatisch abgemeldet" in client.get(response["Location"]).content.decode()
    assert client.get("/").status_code == 302
    assert activities(user)[-1] == Activity.IDLE_TIMEOUT


def test_kv_staff_must_set_up_and_use_totp(client):
    staff = kv_staff("Abrechnung", username="kv.abr")
    client.post(LOGIN, {"username": staff.username, "password": PASSWORD})
    assert client.get("/")["Location"] == reverse("accounts:otp_setup")
    assert client.get("/backoffice/")["Location"] == reverse("accounts:otp_setup")
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client.get(reverse("accounts:otp_setup"))
    device = TOTPDevice.objects.get(user=staff)
    code = f"{totp(device.bin_key):06d}"
    response = client.post(reverse("accounts:otp_setup"), {"token": code})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    # next login: the code is asked before anything else
    client.post("/abmelden/")
    client.post(LOGIN, {"username": staff.username, "password": PASSWORD})
    assert client.get("/")["Location"] == reverse("accounts:otp_verify")
    response = client.post(reverse("accounts:otp_verify"), {"token": "000000"})
    assert "falsch" in response.content.decode()


def test_security_headers_and_cookie_flags(client):
    user = UserFactory()
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    cookie = response.cookies["kvportal_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    page = client.get("/")
    csp = page["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page["X-Frame-Options"] == "DENY"
    assert user.username not in cookie.value


def test_production_settings_use_argon2_and_secure_cookies():
    import importlib
    import os

    os.environ["KVPORTAL_HTTPS"] = "1"
    try:
        import kvportal.settings as prod

        prod = importlib.reload(prod)
        assert prod.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher") or os.environ.get(
            "KVPORTAL_FAST_HASHER"
        )
        assert "Argon2PasswordHasher" in " ".join(prod.PASSWORD_HASHERS)
        assert prod.SESSION_COOKIE_SECURE and prod.CSRF_COOKIE_SECURE
        assert prod.SECURE_HSTS_SECONDS >= 31536000
    finally:
        os.environ["KVPORTAL_HTTPS"] = "0"


def test_home_lists_practices_roles_and_rights(client):
    practice = BetriebsstaetteFactory(name="Praxis Sonnenschein")
    user = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR)
    client.force_login(user)
    html = client.get("/").content.decode()
    assert "Praxis Sonnenschein" in html
    assert "Abgabe der Abrechnung" in html and "Vertragsarzt/Gesellschafter" in html
    assert "arztbezogen" not in html

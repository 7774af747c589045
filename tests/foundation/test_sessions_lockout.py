"""Issue 11, sessions and lockout: the absolute session limit counts from login and does not
slide; background polling is no activity; a lockout ends sessions and API tokens and is in
the access log; signed-in responses carry Cache-Control: no-store; no password reuse."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from kvportal.accounts import services
from kvportal.accounts.constants import ApiScope
from kvportal.audit.models import AccessLogEntry, Activity
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
LOGIN = "/anmelden/"
TIMEOUT = "/anmelden/?grund=zeitablauf"


def login(client, user):
    assert client.post(LOGIN, {"username": user.username, "password": PASSWORD}).status_code == 302


def test_absolute_limit_ends_an_active_session_at_login_plus_max(client, settings):
    settings.SESSION_IDLE_MINUTES = 30
    settings.SESSION_COOKIE_AGE = 10 * 3600
    user = UserFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        login(client, user)
        for _ in range(29):  # active every 20 minutes for 9 h 40 min
            clock.shift(dt.timedelta(minutes=20))
            assert client.get("/").status_code == 200
        clock.shift(dt.timedelta(minutes=21))  # 10 h 1 min after login, 21 min after activity
        response = client.get("/")
    assert response.status_code == 302 and response["Location"] == TIMEOUT
    assert client.get("/").status_code == 302
    entry = AccessLogEntry.objects.filter(activity=Activity.IDLE_TIMEOUT).get()
    assert entry.detail["reason"] == "max_age"


def test_login_time_is_stored_once_and_not_renewed_by_requests(client):
    user = UserFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        login(client, user)
        first = client.session["kvportal_login_at"]
        clock.shift(dt.timedelta(minutes=10))
        client.get("/")
    assert client.session["kvportal_login_at"] == first


@pytest.mark.parametrize(
    "poll",
    [
        # the header the portal's polling scripts send, on any URL
        lambda client: client.get("/", HTTP_X_KVPORTAL_BACKGROUND="1"),
        # a registered polling endpoint (billing status), even without the header
        lambda client: client.get(reverse("billing:status", args=[999999])),
    ],
    ids=["header", "url-name"],
)
def test_background_polling_does_not_keep_an_idle_session_alive(client, settings, poll):
    settings.SESSION_IDLE_MINUTES = 30
    user = UserFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        login(client, user)
        assert client.get("/").status_code == 200
        for _ in range(5):  # polling every 5 minutes for 25 minutes
            clock.shift(dt.timedelta(minutes=5))
            poll(client)
        clock.shift(dt.timedelta(minutes=6))  # 31 minutes without user activity
        response = client.get("/")
    assert response["Location"] == TIMEOUT


def test_billing_progress_script_marks_its_requests_as_background():
    from pathlib import Path

    import kvportal.billing

    script = Path(kvportal.billing.__file__).parent / "static/billing/progress.js"
    assert 'setRequestHeader("X-Kvportal-Background", "1")' in script.read_text()


def test_lockout_ends_sessions_and_api_tokens_and_is_logged(client, settings):
    from django.test import Client

    settings.AXES_FAILURE_LIMIT = 3
    user = UserFactory()
    login(client, user)
    assert client.get("/").status_code == 200
    token, raw = services.create_api_token(actor=user, name="PVS", scopes=[ApiScope.BILLING.value])
    api = "/api/v1/billing/submissions/"
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get(api, **bearer).status_code == 200
    attacker = Client()
    for _ in range(3):
        attacker.post(LOGIN, {"username": user.username, "password": "falsch-falsch"})
    assert client.get("/").status_code == 302  # the existing session is gone
    assert not [
        s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk)
    ]
    assert Client().get(api, **bearer).status_code == 401
    token.refresh_from_db()
    assert token.revoked_at is not None
    entry = AccessLogEntry.objects.get(activity=Activity.LOCKED)
    assert entry.username == user.username and entry.object_id == str(user.pk)
    assert entry.detail == {"sessions_ended": 1, "tokens_revoked": 1}


def test_signed_in_pages_and_api_responses_are_not_stored(client):
    user = UserFactory()
    login(client, user)
    for url in ("/", "/konto/protokoll/"):
        cache_control = client.get(url)["Cache-Control"]
        assert "no-store" in cache_control and "private" in cache_control, url
    _, raw = services.create_api_token(actor=user, name="PVS", scopes=[ApiScope.BILLING.value])
    response = client.get("/api/v1/billing/submissions/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert "no-store" in response["Cache-Control"]


def test_static_files_stay_cacheable(client):
    user = UserFactory()
    login(client, user)
    response = client.get("/static/billing/progress.js")
    assert "no-store" not in response.get("Cache-Control", "")


NEW = ["Mond-Stern!7x", "Kiesel-Wald#42", "Fluss+Brise9Q", "Turm=Heide5Lk", "Nebel?Fjord3a"]


def test_previous_password_cannot_be_reused(client, settings):
    settings.PASSWORD_HISTORY_COUNT = 5
    user = UserFactory()
    login(client, user)
    url = reverse("accounts:password_change")
    old = PASSWORD
    for new in NEW[:2]:
        data = {"old_password": old, "new_password1": new, "new_password2": new}
        assert client.post(url, data).status_code == 302
        old = new
    for reused in (PASSWORD, NEW[0]):  # the current one is refused by the form itself
        data = {"old_password": old, "new_password1": reused, "new_password2": reused}
        response = client.post(url, data)
        assert response.status_code == 200, reused
        assert "bereits verwendet" in response.content.decode(), response.context["form"].errors
    user.refresh_from_db()
    assert user.check_password(NEW[1])


def test_password_history_keeps_only_the_last_passwords(settings):
    settings.PASSWORD_HISTORY_COUNT = 3
    user = UserFactory()
    for new in NEW:
        services.change_password(actor=user, user=user, new_password=new)
    assert user.password_history.count() == 2
    # the three last passwords (NEW[2..4]) are refused, older ones may be used again
    for reused in NEW[2:]:
        with pytest.raises(services.ValidationError, match="bereits verwendet"):
            services.change_password(actor=user, user=user, new_password=reused)
    services.change_password(actor=user, user=user, new_password=NEW[0])
    assert user.check_password(NEW[0])

"""Issue 11: a page with data-refresh-seconds reloads itself with ?auto=1; such a reload is
background work and does not keep an idle session alive, a real request does."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone

import kvportal.core
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
TIMEOUT = "/anmelden/?grund=zeitablauf"


def _idle_session_after(client, settings, reload_path: str):
    settings.SESSION_IDLE_MINUTES = 30
    user = UserFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert (
            client.post("/anmelden/", {"username": user.username, "password": PASSWORD}).status_code
            == 302
        )
        assert client.get("/").status_code == 200
        for _ in range(5):  # the page reloads itself every 5 minutes for 25 minutes
            clock.shift(dt.timedelta(minutes=5))
            client.get(reload_path)
        clock.shift(dt.timedelta(minutes=6))  # 31 minutes after the last real request
        return client.get("/")


def test_auto_reload_is_no_activity(client, settings):
    response = _idle_session_after(client, settings, "/?auto=1")
    assert response.status_code == 302 and response["Location"] == TIMEOUT


def test_plain_reload_is_activity(client, settings):
    response = _idle_session_after(client, settings, "/")
    assert response.status_code == 200  # 6 minutes since the last real request


def test_portal_script_reloads_with_the_auto_parameter():
    script = Path(kvportal.core.__file__).parent / "static/core/portal.js"
    text = script.read_text()
    assert 'searchParams.set("auto", "1")' in text
    assert "location.reload()" not in text

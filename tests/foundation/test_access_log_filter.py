"""Issue 14 "Accounts": the access log is filterable by period and activity."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from kvportal.accounts.constants import Right
from kvportal.audit.models import AccessLogEntry, Activity
from kvportal.members.constants import Role
from tests.factories import BetriebsstaetteFactory, doctor_account

pytestmark = pytest.mark.django_db


def _rows(client, **params) -> list[str]:
    html = client.get(reverse("accounts:access_log"), params).content.decode()
    body = html.split('id="access-log"', 1)[1].split("</tbody>", 1)[0]
    return [row for row in body.split("<tr>")[2:]]  # after the header row


@pytest.fixture
def log(client):
    user = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    now = timezone.now()
    for days, activity, label in [
        (20, Activity.LOGIN, "alt-login"),
        (10, Activity.DOWNLOAD, "mitte-download"),
        (2, Activity.LOGIN, "neu-login"),
    ]:
        entry = AccessLogEntry.objects.create(user=user, activity=activity, object_repr=label)
        AccessLogEntry.objects.filter(pk=entry.pk).update(timestamp=now - dt.timedelta(days=days))
    client.force_login(user)
    return client, timezone.localdate(now)


def test_filter_by_period(log):
    client, today = log
    rows = _rows(
        client,
        von=(today - dt.timedelta(days=15)).isoformat(),
        bis=(today - dt.timedelta(days=5)).isoformat(),
    )
    text = "".join(rows)
    assert "mitte-download" in text
    assert "alt-login" not in text and "neu-login" not in text


def test_filter_by_activity(log):
    client, _today = log
    text = "".join(_rows(client, aktivitaet=Activity.LOGIN))
    assert "alt-login" in text and "neu-login" in text
    assert "mitte-download" not in text


def test_reversed_period_is_a_german_error_at_the_field(log):
    client, today = log
    html = client.get(
        reverse("accounts:access_log"),
        {"von": today.isoformat(), "bis": (today - dt.timedelta(days=3)).isoformat()},
    ).content.decode()
    assert "„Bis“ liegt vor „Von“" in html
    assert 'id="id_bis_error"' in html

"""Issue 13, the request path: the security gate is decided once per login and device change
(not with device queries on every request), the activity stamp is written at most once a
minute, and a user's effective rights are read once per request."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from kvportal.accounts import scope, services
from kvportal.accounts.constants import Right
from kvportal.accounts.models import PortalRight
from kvportal.members.constants import Role
from tests.factories import (
    PASSWORD,
    BetriebsstaetteFactory,
    UserFactory,
    doctor_account,
    grant,
    kv_staff,
)

pytestmark = pytest.mark.django_db
LOGIN = "/anmelden/"
OTP_VERIFY = reverse("accounts:otp_verify")
TIMEOUT = "/anmelden/?grund=zeitablauf"


def login(client, user):
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302


def sql(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries]


def device_queries(queries) -> list[str]:
    return [q for q in sql(queries) if "otp_totp" in q or "otp_static" in q or "ehba_" in q]


def session_writes(queries) -> list[str]:
    return [q for q in sql(queries) if "django_session" in q and q.lstrip().startswith("UPDATE")]


# --------------------------------------------------------------------------- the gate


def test_the_gate_asks_for_devices_once_per_login_not_on_every_request(client):
    user = UserFactory()
    login(client, user)
    assert client.get("/").status_code == 200  # the decision is taken here
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert client.get("/").status_code == 200
    assert device_queries(queries) == []


def test_a_device_enrolled_elsewhere_makes_the_open_session_ask_for_the_code(client):
    user = UserFactory()
    login(client, user)
    assert client.get("/").status_code == 200
    # enrolled in another session (or by the back office): no request of this session saw it
    TOTPDevice.objects.create(user=user, name="Handy", confirmed=True)
    assert client.get("/")["Location"] == OTP_VERIFY
    assert client.get("/konto/protokoll/")["Location"] == OTP_VERIFY


def test_an_unconfirmed_device_does_not_close_the_gate(client):
    user = UserFactory()
    login(client, user)
    assert client.get("/").status_code == 200
    TOTPDevice.objects.create(user=user, name="Handy", confirmed=False)
    assert client.get("/").status_code == 200


def test_removing_the_device_re_evaluates_the_gate(client):
    user = UserFactory()
    device = TOTPDevice.objects.create(user=user, name="Handy", confirmed=True)
    login(client, user)
    assert client.get("/")["Location"] == OTP_VERIFY
    device.delete()
    assert client.get("/").status_code == 200


def test_staff_whose_device_is_removed_must_set_up_a_new_one(staff_client):
    client, staff = staff_client("Abrechnung")
    assert client.get("/").status_code == 200
    TOTPDevice.objects.filter(user=staff).delete()
    assert client.get("/")["Location"] == reverse("accounts:otp_setup")


def test_the_gate_still_forces_the_password_change_first(client):
    user, initial = services.create_member_account(actor=None, first_name="Nina", last_name="Neu")
    client.post(LOGIN, {"username": user.username, "password": initial})
    for _ in range(2):  # decided once, enforced on every request
        assert client.get("/")["Location"] == "/konto/passwort/"
        assert client.get("/konto/protokoll/")["Location"] == "/konto/passwort/"


def test_pending_second_factor_comes_before_the_password_change(client):
    user, initial = services.create_member_account(actor=None, first_name="Ida", last_name="Zwei")
    TOTPDevice.objects.create(user=user, name="Handy", confirmed=True)
    client.post(LOGIN, {"username": user.username, "password": initial})
    assert client.get("/")["Location"] == OTP_VERIFY
    assert client.get("/")["Location"] == OTP_VERIFY


def test_a_new_login_decides_the_gate_afresh(client):
    user = UserFactory()
    login(client, user)
    assert client.get("/").status_code == 200
    cache.clear()  # another process changed the device; this process never heard of it
    TOTPDevice.objects.create(user=user, name="Handy", confirmed=True)
    cache.clear()
    client.post("/abmelden/")
    login(client, user)
    assert client.get("/")["Location"] == OTP_VERIFY


def test_without_a_shared_cache_a_stale_decision_lasts_at_most_a_minute(client):
    user = UserFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        login(client, user)
        assert client.get("/").status_code == 200
        TOTPDevice.objects.create(user=user, name="Handy", confirmed=True)
        cache.clear()  # the change happened in a process with its own memory cache
        clock.shift(dt.timedelta(seconds=30))
        assert client.get("/").status_code == 200  # still the old decision
        clock.shift(dt.timedelta(seconds=31))
        assert client.get("/")["Location"] == OTP_VERIFY


# --------------------------------------------------------------------------- activity stamp


def test_the_activity_stamp_is_written_at_most_once_a_minute(client, settings):
    settings.SESSION_IDLE_MINUTES = 30
    user = UserFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        login(client, user)
        client.get("/")
        with CaptureQueriesContext(connection) as queries:
            for _ in range(5):
                clock.shift(dt.timedelta(seconds=10))
                assert client.get("/").status_code == 200
        assert session_writes(queries) == []
        clock.shift(dt.timedelta(seconds=11))  # 61 s since the stamp
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/").status_code == 200
        assert len(session_writes(queries)) == 1


@pytest.mark.parametrize("extra_seconds", [10, 50])
def test_idle_timeout_is_exact_to_the_minute(client, settings, extra_seconds):
    """Activity that was not stamped shifts the end by less than a minute, never beyond the
    configured limit after the last request."""
    settings.SESSION_IDLE_MINUTES = 30
    user = UserFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        login(client, user)
        assert client.get("/").status_code == 200
        clock.shift(dt.timedelta(seconds=extra_seconds))
        assert client.get("/").status_code == 200  # activity, not stamped (< 1 min)
        clock.shift(dt.timedelta(minutes=29))
        assert client.get("/").status_code == 200  # 29 min after the last activity: still in
        clock.shift(dt.timedelta(minutes=30, seconds=1))
        assert client.get("/")["Location"] == TIMEOUT


def test_the_absolute_limit_is_unchanged_by_the_rarer_stamp(client, settings):
    settings.SESSION_IDLE_MINUTES = 30
    settings.SESSION_COOKIE_AGE = 3600
    user = UserFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        login(client, user)
        for _ in range(5):
            clock.shift(dt.timedelta(minutes=11))
            assert client.get("/").status_code == 200
        clock.shift(dt.timedelta(minutes=5, seconds=1))  # 60 min 1 s after login
        assert client.get("/")["Location"] == TIMEOUT


# --------------------------------------------------------------------------- rights


def test_rights_are_read_with_one_query_per_request(rf):
    practice = BetriebsstaetteFactory()
    user = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR)
    with scope.request_memo(), CaptureQueriesContext(connection) as queries:
        assert scope.has_right(user, practice, Right.BILLING)
        assert scope.practice_id_list(user, Right.DOCS_BSNR) == [practice.pk]
        assert list(scope.practices(user, Right.BILLING)) == [practice]
        assert scope.practices(user, Right.BILLING).exists()
        assert scope.rights_by_practice(user) == {practice: {"billing", "docs_bsnr"}}
        assert not scope.has_right(user, practice, Right.DOCS_LANR)
    assert len(queries) == 1


def test_outside_a_request_every_call_reads_afresh():
    practice = BetriebsstaetteFactory()
    user = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING)
    assert not scope.has_right(user, practice, Right.DOCS_BSNR)
    grant(user, practice, Right.DOCS_BSNR)
    assert scope.has_right(user, practice, Right.DOCS_BSNR)


def test_granting_or_revoking_inside_the_request_is_seen_at_once():
    practice, other = BetriebsstaetteFactory(), BetriebsstaetteFactory()
    user = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING)
    with scope.request_memo():
        assert scope.practice_id_list(user, Right.BILLING) == [practice.pk]
        grant(user, other, Right.BILLING)
        assert set(scope.practice_id_list(user, Right.BILLING)) == {practice.pk, other.pk}
        PortalRight.objects.filter(user=user, betriebsstaette=practice).delete()
        assert scope.practice_id_list(user, Right.BILLING) == [other.pk]
        assert not scope.has_right(user, practice, Right.BILLING)


def test_a_new_leiter_role_inside_the_request_gives_billing_at_once():
    from tests.factories import TaetigkeitFactory

    mvz = BetriebsstaetteFactory(mvz=True)
    user = doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_LANR)
    with scope.request_memo():
        assert not scope.has_right(user, mvz, Right.BILLING)
        TaetigkeitFactory(
            person=user.person,
            betriebsstaette=mvz,
            role=Role.AERZTLICHER_LEITER,
            valid_from=timezone.localdate() - dt.timedelta(days=1),
        )
        assert scope.has_right(user, mvz, Right.BILLING)


def test_staff_roles_are_read_once_per_request():
    staff = kv_staff("Abrechnung", "Zulassung")
    with scope.request_memo(), CaptureQueriesContext(connection) as queries:
        assert scope.is_staff_role(staff, "Abrechnung")
        assert scope.is_staff_role(staff, "Zulassung")
        assert not scope.is_staff_role(staff, "Arztregister")
        assert scope.is_kv_staff(staff)
    assert len(queries) == 1


def test_the_practices_read_with_the_rights_are_whole_and_one_object_per_bsnr():
    practice = BetriebsstaetteFactory(city="Dresden", postal_code="01067", street="Hauptstr. 1")
    user = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR)
    with scope.request_memo(), CaptureQueriesContext(connection) as queries:
        billing = list(scope.practices(user, Right.BILLING))
        docs = list(scope.practices(user, Right.DOCS_BSNR))
        assert billing[0] is docs[0]  # one instance per BSNR, not one per right row
        loaded = billing[0]
        fresh = type(loaded).objects.get(pk=practice.pk)
        for f in type(loaded)._meta.concrete_fields:
            assert getattr(loaded, f.attname) == getattr(fresh, f.attname), f.name
        assert loaded._state.adding is False and loaded._state.db == "default"
    assert len(queries) == 2  # the rights, and the `fresh` comparison row


def test_a_prefilled_practice_queryset_still_filters_when_chained():
    """The prefilled queryset defers its `pk__in` filter: iterating needs no query, but a
    chained filter, ordering or values list must still be restricted to the user's BSNRs."""
    mine, other = BetriebsstaetteFactory(), BetriebsstaetteFactory()
    BetriebsstaetteFactory()
    user = doctor_account(mine, Role.VERTRAGSARZT, Right.BILLING)
    grant(user, other, Right.DOCS_BSNR)
    with scope.request_memo():
        scope.effective_rights(user)
        with CaptureQueriesContext(connection) as queries:
            billing = scope.practices(user, Right.BILLING)
            assert list(billing) == [mine] and billing.exists() and len(billing) == 1
        assert len(queries) == 0
        assert list(billing.order_by("-bsnr")) == [mine]
        assert list(billing.filter(bsnr=other.bsnr)) == []
        assert list(billing.values_list("pk", flat=True)) == [mine.pk]
        assert billing.count() == 1
        assert list(scope.practices(user, Right.KIM_POSTFACH).all()) == []
        assert list(scope.practices(user).order_by("bsnr")) == sorted(
            [mine, other], key=lambda p: p.bsnr
        )


def test_once_per_request_reads_once_inside_a_request_and_afresh_outside():
    user = UserFactory()
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    with scope.request_memo():
        assert scope.once_per_request("count", user, compute) == 1
        assert scope.once_per_request("count", user, compute) == 1
        assert scope.once_per_request("other", user, compute) == 2
    assert scope.once_per_request("count", user, compute) == 3
    assert scope.once_per_request("count", user, compute) == 4


def test_the_web_process_freezes_its_start_up_heap(monkeypatch):
    """wsgi.py moves the start-up heap (with every view imported) into the permanent
    generation, so full collections during requests do not scan it (core/heap.py)."""
    import gc
    import importlib
    import sys

    import django.urls

    from kvportal.core import heap

    events = []

    class Resolver:
        @property
        def url_patterns(self):
            events.append("urls")  # every view module is imported here
            return []

    monkeypatch.setattr(django.urls, "get_resolver", lambda: Resolver())
    monkeypatch.setattr(gc, "collect", lambda *a: events.append("collect") or 0)
    monkeypatch.setattr(gc, "freeze", lambda: events.append("freeze"))
    monkeypatch.setattr(gc, "get_freeze_count", lambda: 7)
    monkeypatch.delitem(sys.modules, "kvportal.wsgi", raising=False)
    importlib.import_module("kvportal.wsgi")
    assert events == ["urls", "collect", "freeze"]
    assert heap.freeze_after_startup() == 7

"""Back-office matrix (issue 11, "Back office (high)"): every URL of /backoffice/ × every
staff role (+ superuser, + member) × read (GET) / write (POST), allowed vs refused.

The oracle is written from the issue: the Arztregister edits Betriebsstätte, Person and
Tätigkeit and nothing else; Abrechnung reads billing and documents, Zulassung reads
admission; account and role administration (accounts, groups, second factors, lockouts,
API tokens, access log, eHBA registrations, beat jobs) is superuser-only; nobody sets another
person's password in the back office; members never get in. URLs are enumerated from the
resolver, so a new admin page fails `test_every_backoffice_url_is_classified` until it is
in the oracle. POSTs carry no data: they never change anything, they only show whether the
write path is open (form or confirmation page) or refused (403/404)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from kvportal.core.quarters import Quarter
from tests.conftest import otp_verify
from tests.factories import kv_staff

pytestmark = pytest.mark.django_db

USERS = ["Arztregister", "Abrechnung", "Zulassung", "superuser", "member"]
V, VACD = {"view"}, {"view", "add", "change", "delete"}

#: role -> model label -> permissions (from the issue, not from the code)
ROLE_CAPS = {
    "Arztregister": {"members.betriebsstaette": VACD, "members.person": VACD},
    "Abrechnung": {
        "billing.submission": V,
        "billing.declaration": V,
        "billing.submissiondeadline": V,
        "documents.document": V,
        "documents.deleteddocument": V,
    },
    "Zulassung": {"admission.application": V, "admission.committeesession": V},
    "member": {},
}
#: the superuser: registry and beat jobs fully; accounts without deleting (deactivate);
#: second factors removable, never edited; everything else shown only.
SUPERUSER_CAPS = {
    "members.betriebsstaette": VACD,
    "members.person": VACD,
    "accounts.user": {"view", "add", "change"},
    "otp_totp.totpdevice": {"view", "delete"},
    "otp_static.staticdevice": {"view", "delete"},
    **{
        f"django_celery_beat.{m}": VACD
        for m in (
            "periodictask",
            "clockedschedule",
            "crontabschedule",
            "solarschedule",
            "intervalschedule",
        )
    },
}
MODEL_VIEWS = {"changelist", "add", "change", "delete", "history"}
#: site-level pages: name -> who may open them (GET, POST)
SITE_URLS = {
    "admin:index": "staff",
    "admin:jsi18n": "staff_get",
    "admin:password_change": "portal",  # own password: on the portal page
    "admin:password_change_done": "staff_get",
    "admin:app_list": "per_app",
    "admin:autocomplete": "autocomplete",
    "admin:view_on_site": "nobody_200",
    "admin:accounts_user_initial_password": "superuser",
    "admin:auth_user_password_change": "nobody",  # nobody sets another person's password
    # TOTP secret and QR code, for any device, for anyone (also static devices' URLs)
    **{
        f"admin:otp_{kind}_{kind}device_{view}": "nobody"
        for kind in ("totp", "static")
        for view in ("config", "qrcode")
    },
}
#: public by design, outside the matrix: the admin login form and logging out
PUBLIC = {"admin:login", "admin:logout"}


def caps(user_key: str, label: str) -> set[str]:
    if user_key == "superuser":
        return SUPERUSER_CAPS.get(label, V)
    return ROLE_CAPS[user_key].get(label, set())


def backoffice_patterns():
    """(name, route) of every named URL under backoffice/."""

    def walk(patterns, prefix, namespace):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = namespace
                if p.namespace:
                    ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
                yield from walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern) and prefix.startswith("backoffice/"):
                name = f"{namespace}:{p.name}" if p.name else ""
                yield name, prefix + str(p.pattern)

    return list(walk(get_resolver().url_patterns, "", ""))


def model_url_names() -> dict[str, tuple[str, str]]:
    """admin url name -> (model label, view) for every registered model."""
    out = {}
    for model in admin.site._registry:
        base = f"admin:{model._meta.app_label}_{model._meta.model_name}_"
        for view in MODEL_VIEWS:
            out[base + view] = (model._meta.label_lower, view)
    return out


def test_every_backoffice_url_is_classified():
    models = model_url_names()
    problems = []
    for name, route in backoffice_patterns():
        if not name:
            # unnamed: the admin's redirect of <object_id>/ to <object_id>/change/ and its
            # final catch-all (404 for unknown pages, in the matrix as "nobody")
            if not route.endswith(("<path:object_id>/", "(?P<url>.*)$")):
                problems.append(f"unnamed back-office URL {route}")
            continue
        if name not in models and name not in SITE_URLS and name not in PUBLIC:
            problems.append(f"{name} ({route}) is not in the back-office matrix")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------------
# the world: one object of every registered model


def _extras(world) -> None:
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.utils import timezone
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )
    from django_otp.plugins.otp_static.models import StaticDevice

    from kvportal.billing.models import Declaration, SubmissionDeadline
    from kvportal.documents.models import DeletedDocument

    mvz = world.practices["mvz"]
    today = timezone.localdate()
    q = Quarter.of(today)
    Declaration.objects.create(
        betriebsstaette=mvz, quarter=q, given_by_name="Test", text="Erklärung", method="portal"
    )
    SubmissionDeadline.objects.create(
        quarter=Quarter(today.year + 5, 1),
        early_from=today,
        starts=today,
        ends=today + dt.timedelta(days=10),
    )
    DeletedDocument.objects.create(
        original_id=999999,
        betriebsstaette=mvz,
        bsnr=mvz.bsnr,
        quarter=20261,
        doc_type="honorarbescheid",
        sha256="0" * 64,
        deletion_date=today,
    )
    StaticDevice.objects.create(user=world.users["solo"], name="backup")
    base = dict(username="x", ip_address="127.0.0.1", user_agent="t", http_accept="", path_info="/")
    AccessAttempt.objects.create(**base, get_data="", post_data="", failures_since_start=1)
    AccessLog.objects.create(**base)
    AccessFailureLog.objects.create(**base, locked_out=False)
    interval = IntervalSchedule.objects.create(every=1, period="days")
    CrontabSchedule.objects.create()
    SolarSchedule.objects.create(event="sunrise", latitude=51, longitude=13)
    ClockedSchedule.objects.create(clocked_time=timezone.now())
    PeriodicTask.objects.create(name="t", task="x", interval=interval)
    _kim_objects(world)


def _kim_objects(world) -> None:
    """SMC-B order and card, KIM account, directory entry and one stored message (issue 15),
    made through kim.services like a practice and the Arztregister would."""
    from kvportal.accounts.constants import StaffRole
    from kvportal.kim.models import StoredMessage
    from tests.kim.test_portal_support import practice_account

    account, _password = practice_account(
        world.users["mvz_leiter"],
        world.practices["mvz"],
        world.staff[StaffRole.ARZTREGISTER.value],
    )
    StoredMessage.objects.create(
        account=account, sender=account.address, recipients=[account.address], path="x/1", size=1
    )
    from kvportal.oneclick.models import KimDelivery

    KimDelivery.objects.create(
        account="abrechnung@kv-sachsen.kim.example",
        store_key="1.M1P1.host",
        dienstkennung="1ClickAbrechnung;Lieferung;V2.0",
        sender_address=account.address,
        raw_path="kim/service/x.eml",
        state="refused",
        refusal_code="begleitdatei",
    )


@pytest.fixture
def clients(world, settings, tmp_path):
    settings.KIM_TSP_DIR = tmp_path / "kim-tsp"  # the test trust service provider's CA
    _extras(world)
    root = kv_staff(username="kv.root")
    root.is_superuser = True
    root.save()
    people = {**world.staff, "superuser": root, "member": world.users["mvz_leiter"]}
    out = {}
    for key in USERS:
        client = Client(raise_request_exception=False)
        client.force_login(people[key])
        if key != "member":
            otp_verify(client, people[key])
        out[key] = client
    return out


REFUSED = {403, 404, 405}


def refused(response) -> bool:
    if response.status_code == 302:
        return "/backoffice/login/" in response["Location"]
    return response.status_code in REFUSED


def allowed_site(kind: str, user_key: str, method: str, app_label: str = "") -> bool:
    staff = user_key != "member"
    if kind in ("staff", "portal"):
        return staff
    if kind == "staff_get":
        return staff and method == "GET"
    if kind == "superuser":
        return user_key == "superuser"
    if kind == "per_app":
        return any(
            caps(user_key, m._meta.label_lower)
            for m in admin.site._registry
            if m._meta.app_label == app_label
        )
    return False  # nobody, nobody_200, autocomplete handled apart


def _concrete_requests():
    """(description, url, kind, label, view) for every classified back-office URL."""
    from django.contrib.contenttypes.models import ContentType
    from django.urls import reverse

    models = model_url_names()
    registry = {m._meta.label_lower: m for m in admin.site._registry}
    out = []
    out.append(("catch-all", "/backoffice/unbekannt/seite/", "nobody", "", ""))
    for name, _route in backoffice_patterns():
        if not name or name in PUBLIC:
            continue
        if name in models:
            label, view = models[name]
            model = registry[label]
            if view in ("changelist", "add"):
                url = reverse(name)
            else:
                obj = model._default_manager.order_by("pk").first()
                assert obj is not None, f"no {label} object for the matrix"
                url = reverse(name, args=[obj.pk])
            out.append((name, url, "model", label, view))
        elif name == "admin:app_list":
            for app_label in sorted({m._meta.app_label for m in admin.site._registry}):
                url = reverse(name, kwargs={"app_label": app_label})
                out.append((name, url, "per_app", app_label, ""))
        elif name == "admin:autocomplete":
            url = reverse(name)
            for source, target in (
                ("app_label=members&model_name=taetigkeit&field_name=person", "members.person"),
                ("app_label=accounts&model_name=portalright&field_name=user", "accounts.user"),
            ):
                out.append((name, f"{url}?{source}&term=a", "autocomplete", target, ""))
        elif name == "admin:view_on_site":
            person = registry["members.person"]._default_manager.first()
            ct = ContentType.objects.get_for_model(person)
            url = reverse(name, args=[ct.pk, person.pk])
            out.append((name, url, "nobody_200", "", ""))
        elif name == "admin:auth_user_password_change":
            user = registry["accounts.user"]._default_manager.order_by("pk").first()
            out.append((name, reverse(name, args=[user.pk]), "nobody", "", ""))
        elif name.endswith(("device_config", "device_qrcode")):
            label = "otp_totp.totpdevice" if "totp" in name else "otp_static.staticdevice"
            device = registry[label]._default_manager.order_by("pk").first()
            out.append((name, reverse(name, args=[device.pk]), "nobody", "", ""))
        else:
            out.append((name, reverse(name), SITE_URLS[name], "", ""))
    return out


def expected(user_key, kind, label, view, method) -> bool:
    if kind == "model":
        held = caps(user_key, label)
        need = {
            "changelist": "view",
            "history": "view",
            "add": "add",
            "delete": "delete",
            "change": "view" if method == "GET" else "change",
        }[view]
        return need in held
    if kind == "autocomplete":
        return method == "GET" and "view" in caps(user_key, label)
    return allowed_site(kind, user_key, method, label)


def test_backoffice_matrix(clients, settings):
    requests_ = _concrete_requests()
    failures, count = [], 0
    for user_key in USERS:
        client = clients[user_key]
        for name, url, kind, label, view in requests_:
            for method in ("GET", "POST"):
                count += 1
                response = client.post(url) if method == "POST" else client.get(url)
                assert response.status_code != 500, (user_key, method, url)
                want = expected(user_key, kind, label, view, method)
                if kind == "nobody_200":
                    ok = response.status_code != 200
                elif kind == "portal" and want:
                    ok = response.status_code == 302 and response["Location"].endswith(
                        "/konto/passwort/"
                    )
                elif want:
                    ok = response.status_code == 200
                else:
                    ok = refused(response)
                if not ok:
                    failures.append(
                        f"{user_key} {method} {url} ({name}): {response.status_code}, "
                        f"expected {'allowed' if want else 'refused'}"
                    )
    print(f"back-office matrix: {len(requests_)} URLs × {len(USERS)} users × 2 = {count}")
    assert count >= 100 * len(USERS)
    assert not failures, f"{len(failures)} of {count}:\n" + "\n".join(failures[:60])

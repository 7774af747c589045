"""Testabrechnung (issue 12 item 5): checked like a submission but not one, unlimited runs,
new/fixed/unchanged against the previous run of the BSNR and quarter, plain `.con` only,
deleted after a short configurable time (purger in core.registry)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from kvportal.billing import services, testruns
from kvportal.billing.models import Submission
from kvportal.billing.models import TestRun as BillingTestRun
from kvportal.core.registry import purgers
from kvportal.core.storage import private_storage
from tests.billing.conftest import ON_TIME, Q1, kvdt_file, std_name, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen():
    with time_machine.travel(ON_TIME, tick=False) as traveller:
        yield traveller


@pytest.fixture
def test_run(django_capture_on_commit_callbacks):
    def run(actor, practice, content, name=None):
        name = name or std_name(practice.bsnr)
        with django_capture_on_commit_callbacks(execute=True):
            created = testruns.receive_test_run(
                actor=actor,
                betriebsstaette=practice,
                quarter=Q1,
                upload=upload(content, name),
                filename=name,
            )
        created.refresh_from_db()
        return created

    return run


def rules_of(messages):
    return sorted({m["rule"] for m in messages})


def test_runs_are_unlimited_and_compared_with_the_previous(frozen, employed, practice, test_run):
    broken = kvdt_file(practice.bsnr, inject=["SYN-FKUNBEKANNT"])
    first = test_run(employed, practice, broken)
    assert first.state == "done" and first.check_status is not None
    assert first.comparison["first_run"] and first.comparison["new"]
    injected = rules_of(first.comparison["new"])
    # the same file again is not refused as a duplicate, and nothing is new
    frozen.shift(dt.timedelta(minutes=1))
    again = test_run(employed, practice, broken)
    assert again.previous_id == first.pk
    assert again.comparison["new"] == [] and rules_of(again.comparison["unchanged"]) == injected
    # the corrected file: the injected messages are fixed
    frozen.shift(dt.timedelta(minutes=1))
    fixed = test_run(employed, practice, kvdt_file(practice.bsnr))
    assert fixed.previous_id == again.pk
    assert set(injected) <= set(rules_of(fixed.comparison["fixed"]))
    assert Submission.objects.count() == 0  # a test run is never a submission


def test_plain_con_only_and_billing_right_needed(frozen, employed, outsider, practice):
    content = kvdt_file(practice.bsnr)
    with pytest.raises(services.Refused) as refused:
        testruns.receive_test_run(
            actor=employed,
            betriebsstaette=practice,
            quarter=Q1,
            upload=upload(b"encrypted", std_name(practice.bsnr, encrypted=True)),
            filename=std_name(practice.bsnr, encrypted=True),
        )
    assert "unverschlüsselte KVDT-Datei (.con)" in refused.value.texts[0]
    with pytest.raises(services.Refused) as refused:
        testruns.receive_test_run(
            actor=outsider,
            betriebsstaette=practice,
            quarter=Q1,
            upload=upload(content, std_name(practice.bsnr)),
            filename=std_name(practice.bsnr),
        )
    assert refused.value.problems[0].code == "no_right"
    assert BillingTestRun.objects.count() == 0


def test_test_files_are_deleted_after_the_configured_time(
    frozen, settings, employed, practice, test_run
):
    settings.BILLING_TEST_RUN_HOURS = 2
    run = test_run(employed, practice, kvdt_file(practice.bsnr))
    assert private_storage.exists(run.storage_name)
    purger = purgers()["billing-test-runs"]
    frozen.shift(dt.timedelta(hours=1, minutes=59))
    assert purger(now=dt.datetime.now(dt.UTC)).count == 0
    frozen.shift(dt.timedelta(minutes=2))
    assert purger(now=dt.datetime.now(dt.UTC)).count == 1
    name = run.storage_name
    run.refresh_from_db()
    assert run.purged_at is not None and run.report == {} and run.comparison == {}
    assert not private_storage.exists(name)
    assert purger(now=dt.datetime.now(dt.UTC)).count == 0  # idempotent


def test_upload_page_and_protocol_with_comparison(
    frozen, client, employed, practice, django_capture_on_commit_callbacks
):
    client.force_login(employed)
    name = std_name(practice.bsnr)
    page = client.get("/abrechnung/testabrechnung/")
    assert page.status_code == 200 and b"test-run-form" in page.content
    for content in (kvdt_file(practice.bsnr, inject=["SYN-FKUNBEKANNT"]), kvdt_file(practice.bsnr)):
        frozen.shift(dt.timedelta(minutes=1))
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/abrechnung/testabrechnung/",
                {
                    "betriebsstaette": practice.pk,
                    "quarter": "2026-1",
                    "file": upload(content, name),
                },
            )
        assert response.status_code == 302, response.content.decode()[:2000]
    detail = client.get(response["Location"]).content.decode()
    assert "test-run-status" in detail, detail[detail.find("<main") :][:1500]
    assert "Behoben (" in detail and "Behoben (0)" not in detail
    assert Submission.objects.count() == 0


def test_foreign_test_run_is_404(frozen, client, employed, outsider, practice, test_run):
    run = test_run(employed, practice, kvdt_file(practice.bsnr))
    client.force_login(outsider)
    assert client.get(f"/abrechnung/testabrechnung/{run.pk}/").status_code == 404
    listing = client.get("/abrechnung/testabrechnung/").content.decode()
    assert f"/abrechnung/testabrechnung/{run.pk}/" not in listing


def test_api_test_run(
    frozen, client, employed, outsider, practice, django_capture_on_commit_callbacks
):
    from kvportal.accounts.services import create_api_token

    raw = create_api_token(actor=employed, name="PVS", scopes=["billing"])[1]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    name = std_name(practice.bsnr)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            "/api/v1/billing/test-runs/",
            {
                "bsnr": practice.bsnr,
                "quartal": "1/2026",
                "datei": upload(kvdt_file(practice.bsnr), name),
            },
            **headers,
        )
    assert r.status_code == 201, r.content
    data = client.get(r["Location"], **headers).json()
    assert data["abgeschlossen"] and data["erster_testlauf"] is True
    xkm = std_name(practice.bsnr, encrypted=True)
    r = client.post(
        "/api/v1/billing/test-runs/",
        {"bsnr": practice.bsnr, "quartal": "1/2026", "datei": upload(b"x", xkm)},
        **headers,
    )
    assert r.status_code == 422 and r.json()["codes"] == ["test_run_plain_only"]
    other = create_api_token(actor=outsider, name="PVS", scopes=["billing"])[1]
    assert (
        client.get(
            f"/api/v1/billing/test-runs/{data['id']}/", HTTP_AUTHORIZATION=f"Bearer {other}"
        ).status_code
        == 404
    )
    assert Submission.objects.count() == 0

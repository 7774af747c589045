"""Issue 11: a Testabrechnung check cannot get lost either — it holds a lease like a
submission's check; a killed run is picked up again by the recoverer "billing-test-runs" after
the lease ran out, and its result (with one audit event) is written exactly once."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from kvportal.audit.models import AccessLogEntry
from kvportal.billing import rules, services, testruns
from kvportal.billing.models import TestRun as BillingTestRun
from kvportal.billing.tasks import check_test_run
from kvportal.core import registry
from tests.billing.conftest import ON_TIME, Q1, kvdt_file, std_name, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen():
    with time_machine.travel(ON_TIME, tick=False) as traveller:
        yield traveller


def receive(actor, practice, content=None):
    """Receive a test file without running its check (as if the process died right after)."""
    content = content if content is not None else kvdt_file(practice.bsnr)
    name = std_name(practice.bsnr)
    return testruns.receive_test_run(
        actor=actor, betriebsstaette=practice, quarter=Q1, upload=upload(content, name),
        filename=name,
    )  # fmt: skip


def checked_events(run) -> int:
    return sum(
        1
        for e in AccessLogEntry.objects.filter(object_id=str(run.pk))
        if (e.detail or {}).get("event") == "billing.test_run_checked"
    )


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=services.lease_seconds())


def test_recoverer_is_registered():
    assert registry._recoverers["billing-test-runs"] is testruns.recover_stalled_test_runs


def test_a_run_never_started_is_recovered_after_one_lease(frozen, employed, practice):
    run = receive(employed, practice)
    assert BillingTestRun.objects.get(pk=run.pk).state == "pending"
    assert testruns.recover_stalled_test_runs(now=timezone.now()) == 0  # may still start
    frozen.shift(lease() + dt.timedelta(seconds=1))
    assert testruns.recover_stalled_test_runs(now=timezone.now()) == 1
    run.refresh_from_db()
    assert run.state == "done" and run.check_status is not None and run.check_attempts == 1
    assert checked_events(run) == 1
    assert testruns.recover_stalled_test_runs(now=timezone.now()) == 0


def test_killed_run_is_taken_up_after_its_lease_and_written_once(frozen, employed, practice):
    run = receive(employed, practice, kvdt_file(practice.bsnr, inject=["SYN-FKUNBEKANNT"]))
    dead_token = testruns._claim_test_run(run.pk)  # the run that is killed mid-check
    assert dead_token
    # while the lease holds: neither a redelivered task nor the recoverer starts another run
    assert check_test_run.apply(args=[run.pk]).get() == "pending"
    frozen.shift(lease() - dt.timedelta(seconds=5))
    assert testruns.recover_stalled_test_runs(now=timezone.now()) == 0
    frozen.shift(dt.timedelta(seconds=10))
    assert testruns.recover_stalled_test_runs(now=timezone.now()) == 1
    run.refresh_from_db()
    assert run.state == "done" and run.check_attempts == 2
    assert run.comparison["new"]  # the injected error is in the protocol
    written = (run.checked_at, run.check_status, run.report)
    # the killed run comes back to life and tries to write: it holds no lease, nothing changes
    late = testruns._write_test_result(
        run, dead_token, status=rules.CHECK_ABORTED, data={}, result={}, previous=None
    )
    assert (late.checked_at, late.check_status, late.report) == written
    assert check_test_run.apply(args=[run.pk]).get() == "done"
    assert checked_events(run) == 1


def test_storage_error_gives_the_lease_back_and_the_recovery_finishes(frozen, employed, practice):
    run = receive(employed, practice)
    with mock.patch.object(
        testruns.private_storage, "open", side_effect=OSError("Speicher nicht erreichbar")
    ):
        assert check_test_run.apply(args=[run.pk]).get() == "postponed"
    run.refresh_from_db()
    assert run.state == "pending" and run.lease_until is None and run.check_token == ""
    frozen.shift(lease() + dt.timedelta(seconds=1))
    assert testruns.recover_stalled_test_runs(now=timezone.now()) == 1
    run.refresh_from_db()
    assert run.state == "done" and checked_events(run) == 1


def test_a_run_that_keeps_dying_is_closed_as_aborted(frozen, employed, practice, settings):
    settings.BILLING_CHECK_MAX_ATTEMPTS = 2
    run = receive(employed, practice)
    for _ in range(2):  # two runs killed mid-check
        assert testruns._claim_test_run(run.pk)
        frozen.shift(lease() + dt.timedelta(seconds=1))
    assert testruns.recover_stalled_test_runs(now=timezone.now()) == 1
    run.refresh_from_db()
    assert run.state == "done" and run.check_status == rules.CHECK_ABORTED
    assert checked_events(run) == 1
    assert testruns.stalled_test_runs(now=timezone.now()).count() == 0


def test_purged_runs_are_not_recovered(frozen, employed, practice):
    run = receive(employed, practice)
    frozen.shift(dt.timedelta(hours=testruns.keep_hours(), minutes=1))
    testruns.purge_expired_test_runs(now=timezone.now())
    assert testruns.recover_stalled_test_runs(now=timezone.now()) == 0
    run.refresh_from_db()
    assert run.state == "pending" and run.purged_at is not None

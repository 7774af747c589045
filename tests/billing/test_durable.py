"""Issue 11: the KVDT check cannot get lost and finishes exactly once (lease, recovery,
retries, re-upload after a stalled check, staff re-check)."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.db import OperationalError

from kvportal.audit.models import AccessLogEntry
from kvportal.billing import services
from kvportal.billing.models import Submission, SubmissionState
from kvportal.billing.tasks import check_submission
from kvportal.core import registry
from tests.billing.conftest import ON_TIME, Q1, kvdt_file, std_name, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen():
    """The clock of every test here: frozen at a time inside the Q1/2026 window first."""
    with time_machine.travel(ON_TIME, tick=False) as traveller:
        yield traveller


def receive(actor, practice, content=None, *, minute=30):
    """Receive a file without running its check (as if the process died right after)."""
    content = content if content is not None else kvdt_file(practice.bsnr)
    name = std_name(practice.bsnr, minute=minute)
    return services.receive_submission(
        actor=actor,
        betriebsstaette=practice,
        quarter=Q1,
        upload=upload(content, name),
        filename=name,
    )


def checked_events(submission) -> int:
    return sum(
        1
        for e in AccessLogEntry.objects.filter(object_id=str(submission.pk))
        if (e.detail or {}).get("event") == "billing.checked"
    )


def test_second_delivery_of_a_finished_check_writes_nothing(frozen, employed, practice):
    s = receive(employed, practice)
    assert check_submission.apply(args=[s.pk]).get() == SubmissionState.ACCEPTED
    first = Submission.objects.get(pk=s.pk)
    assert check_submission.apply(args=[s.pk]).get() == SubmissionState.ACCEPTED
    again = Submission.objects.get(pk=s.pk)
    assert again.checked_at == first.checked_at and again.check_attempts == 1
    assert checked_events(s) == 1


def test_check_held_by_a_live_run_is_not_started_twice(frozen, employed, practice):
    s = receive(employed, practice)
    token = services._claim(s.pk)  # another worker runs it right now
    assert token
    assert services.run_check(submission_id=s.pk).state == SubmissionState.CHECKING
    assert checked_events(s) == 0
    assert services.stalled_checks(now=dt.datetime.now(dt.UTC)).filter(pk=s.pk).count() == 0


def test_stopped_check_is_picked_up_after_its_lease_by_the_recoverer(frozen, employed, practice):
    s = receive(employed, practice)
    services._claim(s.pk)  # the run that holds this lease is killed
    frozen.shift(dt.timedelta(seconds=services.lease_seconds() - 1))
    assert registry.run_recoverers(now=dt.datetime.now(dt.UTC))["billing"] == 0
    frozen.shift(dt.timedelta(seconds=2))
    assert registry.run_recoverers(now=dt.datetime.now(dt.UTC))["billing"] == 1
    s.refresh_from_db()
    assert s.state == SubmissionState.ACCEPTED and s.is_current
    assert s.check_attempts == 2 and checked_events(s) == 1
    # nothing left to recover, and the periodic job finds nothing either
    assert registry.run_recoverers(now=dt.datetime.now(dt.UTC))["billing"] == 0


def test_never_started_check_is_recovered_after_one_lease(frozen, employed, practice):
    s = receive(employed, practice)  # on_commit never ran: the process died at once
    frozen.shift(dt.timedelta(seconds=services.lease_seconds() + 1))
    from kvportal.core.tasks import purge_expired

    assert purge_expired.apply().get()["recovered:billing"] == 1
    assert Submission.objects.get(pk=s.pk).state == SubmissionState.ACCEPTED


def test_a_run_whose_lease_was_taken_over_does_not_write(frozen, employed, practice):
    s = receive(employed, practice)
    old = services._claim(s.pk)
    frozen.shift(dt.timedelta(seconds=services.lease_seconds() + 1))
    new = services._claim(s.pk)
    assert new and new != old
    stale = services._finish_check(
        submission_id=s.pk, token=old, status=2, problems=[], report={"stale": True}
    )
    assert stale.state == SubmissionState.CHECKING and stale.report == {}
    assert checked_events(s) == 0


def test_database_error_gives_the_lease_back_and_is_retried(frozen, employed, practice):
    s = receive(employed, practice)
    with mock.patch("kvportal.kvdt.validate_file", side_effect=OperationalError("db gone")):
        with pytest.raises(services.TransientCheckError):
            services.run_check(submission_id=s.pk)
        s.refresh_from_db()
        assert s.state == SubmissionState.PENDING and s.check_token == ""
        # in-process (no broker) the task postpones instead of failing the upload request
        assert check_submission.apply(args=[s.pk]).get() == "postponed"
    assert check_submission.apply(args=[s.pk]).get() == SubmissionState.ACCEPTED
    assert checked_events(s) == 1


def test_storage_error_with_a_broker_retries_with_backoff(frozen, employed, practice):
    s = receive(employed, practice)
    with (
        mock.patch("kvportal.kvdt.validate_file", side_effect=OSError("storage")),
        mock.patch.object(check_submission, "retry", side_effect=RuntimeError("retry")) as retry,
        mock.patch.object(check_submission.request, "is_eager", False, create=True),
        pytest.raises(RuntimeError),
    ):
        check_submission.run(s.pk)
    assert retry.call_args.kwargs["countdown"] >= 5
    assert Submission.objects.get(pk=s.pk).state == SubmissionState.PENDING


def test_check_that_keeps_dying_stops_with_a_technical_error(frozen, employed, practice, settings):
    settings.BILLING_CHECK_MAX_ATTEMPTS = 2
    s = receive(employed, practice)
    for _ in range(2):
        services._claim(s.pk)
        frozen.shift(dt.timedelta(seconds=services.lease_seconds() + 1))
    result = services.run_check(submission_id=s.pk)
    assert result.state == SubmissionState.REJECTED
    assert [p["code"] for p in result.problems] == ["check_internal"]


def test_reupload_after_a_stalled_check_is_not_a_duplicate(frozen, employed, practice):
    content = kvdt_file(practice.bsnr)
    stalled = receive(employed, practice, content)
    services._claim(stalled.pk)
    frozen.shift(dt.timedelta(seconds=services.lease_seconds() + 1))
    fresh = receive(employed, practice, content, minute=31)
    stalled.refresh_from_db()
    assert stalled.state == SubmissionState.REJECTED
    assert stalled.problems[0]["code"] == "check_superseded"
    assert services.recover_stalled_checks(now=dt.datetime.now(dt.UTC)) == 0  # closed, not redone
    check_submission.apply(args=[fresh.pk])
    assert Submission.objects.get(pk=fresh.pk).state == SubmissionState.ACCEPTED


def test_reupload_while_the_check_runs_is_still_a_duplicate(frozen, employed, practice):
    content = kvdt_file(practice.bsnr)
    running = receive(employed, practice, content)
    services._claim(running.pk)
    with pytest.raises(services.Refused) as refused:
        receive(employed, practice, content, minute=31)
    assert refused.value.duplicate.pk == running.pk


def test_reupload_after_a_technical_error_is_not_a_duplicate(frozen, employed, practice):
    content = kvdt_file(practice.bsnr)
    broken = receive(employed, practice, content)
    with mock.patch("kvportal.kvdt.validate_file", side_effect=ValueError("bug")):
        services.run_check(submission_id=broken.pk)
    assert Submission.objects.get(pk=broken.pk).state == SubmissionState.REJECTED
    again = receive(employed, practice, content, minute=31)
    assert again.pk != broken.pk


def test_staff_restarts_a_check_from_the_staff_page(
    frozen, staff_client, employed, practice, django_capture_on_commit_callbacks
):
    s = receive(employed, practice)
    services._claim(s.pk)
    frozen.shift(dt.timedelta(seconds=services.lease_seconds() + 1))
    client, staff = staff_client("Abrechnung")
    page = client.get(f"/abrechnung/kv/einreichung/{s.pk}/")
    assert b"staff-recheck" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/abrechnung/kv/einreichung/{s.pk}/erneut-pruefen/")
    assert response.status_code == 302
    s.refresh_from_db()
    assert s.state == SubmissionState.ACCEPTED and checked_events(s) == 1
    events = [e.detail.get("event") for e in AccessLogEntry.objects.filter(user=staff)]
    assert "billing.recheck" in events
    # a regularly finished check cannot be restarted
    response = client.post(f"/abrechnung/kv/einreichung/{s.pk}/erneut-pruefen/", follow=True)
    assert "kann nicht erneut geprüft werden" in response.content.decode()
    assert checked_events(s) == 1


def test_recheck_needs_the_abrechnung_role(frozen, staff_client, employed, practice):
    s = receive(employed, practice)
    client, _ = staff_client("Zulassung")
    assert client.post(f"/abrechnung/kv/einreichung/{s.pk}/erneut-pruefen/").status_code == 404
    assert Submission.objects.get(pk=s.pk).check_attempts == 0


def test_celery_configuration_keeps_tasks_on_worker_loss():
    from django.conf import settings

    from kvportal.celery import app

    assert check_submission.acks_late and check_submission.reject_on_worker_lost
    assert app.conf.task_reject_on_worker_lost and app.conf.task_acks_late
    assert (
        settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
        > settings.CELERY_TASK_TIME_LIMIT
    )
    assert "kvportal.core.tasks.recover_stalled" in {
        e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()
    }

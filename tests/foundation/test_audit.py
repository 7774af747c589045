"""Access log: written with the action, kept 31 days, purged in batches (seed 000)."""

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from kvportal import audit
from kvportal.audit.models import AccessLogEntry, Activity
from kvportal.core.registry import purgers, run_purgers
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def make_entries(count, when):
    with time_machine.travel(when, tick=False):
        for _ in range(count):
            audit.record(actor=None, activity=Activity.VIEW)


def test_entries_older_than_31_days_are_purged_in_batches(settings):
    settings.PURGE_BATCH_SIZE = 3
    now = timezone.now()
    make_entries(7, now - dt.timedelta(days=31, minutes=1))
    make_entries(2, now - dt.timedelta(days=30, hours=23))
    results = {r.name: r.count for r in run_purgers(now=now)}
    assert results["Zugriffsprotokoll"] == 7
    assert AccessLogEntry.objects.count() == 2
    # idempotent
    assert {r.name: r.count for r in run_purgers(now=now)}["Zugriffsprotokoll"] == 0


def test_dry_run_deletes_nothing(capsys):
    make_entries(2, timezone.now() - dt.timedelta(days=40))
    call_command("purge_expired", "--dry-run")
    assert "Zugriffsprotokoll: 2 würden gelöscht" in capsys.readouterr().out
    assert AccessLogEntry.objects.count() == 2
    call_command("purge_expired")
    assert AccessLogEntry.objects.count() == 0


def test_audit_entry_rolls_back_with_its_action():
    user = UserFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record(actor=user, activity=Activity.UPDATE, obj=user)
        raise RuntimeError("action failed")
    assert not AccessLogEntry.objects.filter(activity=Activity.UPDATE).exists()


def test_beat_schedule_points_to_registered_task(settings):
    from kvportal.celery import app

    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks
    assert "audit" in purgers()


def test_purge_task_runs_all_purgers():
    from kvportal.core.tasks import purge_expired

    make_entries(1, timezone.now() - dt.timedelta(days=32))
    assert purge_expired.delay().get()["Zugriffsprotokoll"] == 1


def test_member_sees_only_own_log(client):
    a, b = UserFactory(), UserFactory()
    audit.record(actor=a, activity=Activity.VIEW, object_repr="Dokument A")
    audit.record(actor=b, activity=Activity.VIEW, object_repr="Dokument B")
    client.force_login(a)
    html = client.get("/konto/protokoll/").content.decode()
    assert "Dokument A" in html and "Dokument B" not in html
    # the practice view is not offered without the BSNR-wide right
    html = client.get("/konto/protokoll/?ansicht=praxis").content.decode()
    assert "Dokument B" not in html


def test_secret_link_segments_are_redacted_from_logged_paths():
    from kvportal.audit.context import redact_path

    assert (
        redact_path("/zugang/entwurf/abc123/bearbeiten/") == "/zugang/entwurf/[geheim]/bearbeiten/"
    )
    assert redact_path("/zulassung/bestaetigung/xyz/antrag.pdf") == (
        "/zulassung/bestaetigung/[geheim]/antrag.pdf"
    )
    assert redact_path("/dokumente/5/") == "/dokumente/5/"


def test_staff_api_tokens_are_short_lived():
    import datetime as dt

    from kvportal.accounts import services
    from tests.factories import kv_staff

    staff = kv_staff("Abrechnung", username="kv.abr.token")
    token, _ = services.create_api_token(actor=staff, name="Import", scopes=["documents_import"])
    assert token.expires_at - timezone.now() <= dt.timedelta(days=90, seconds=5)

"""§ 304 SGB V: billing files and protocols are deleted ten years after the end of the quarter's
year (frozen time at the year boundary, dry run, batches, idempotency, pages and API)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from kvportal.accounts.services import create_api_token
from kvportal.audit.models import AccessLogEntry, Activity
from kvportal.billing import rules, services
from kvportal.billing.models import Submission
from kvportal.core.quarters import Quarter
from kvportal.core.registry import purgers
from kvportal.core.storage import private_storage
from tests.billing.conftest import kvdt_file

BERLIN = ZoneInfo("Europe/Berlin")
#: last minute of 31.12.2035 in Germany: the last day of Q4/2025 files
LAST_DAY_2035 = dt.datetime(2035, 12, 31, 23, 59, tzinfo=BERLIN)
#: first minute of 2036 in Germany (still 31.12.2035 in UTC)
NEW_YEAR_2036 = dt.datetime(2036, 1, 1, 0, 1, tzinfo=BERLIN)


def now_utc() -> dt.datetime:
    return dt.datetime.now(tz=dt.UTC)


# --------------------------------------------------------------------------- pure rule


def test_deletion_date_is_end_of_quarter_year_plus_ten():
    assert rules.deletion_date(Quarter(2025, 1)) == dt.date(2035, 12, 31)
    assert rules.deletion_date(Quarter(2025, 4)) == dt.date(2035, 12, 31)
    assert rules.deletion_date(Quarter(2026, 1)) == dt.date(2036, 12, 31)


def test_purge_is_due_only_after_the_deletion_date():
    assert not rules.is_purge_due(Quarter(2025, 4), dt.date(2035, 12, 31))
    assert rules.is_purge_due(Quarter(2025, 4), dt.date(2036, 1, 1))
    assert not rules.is_purge_due(Quarter(2026, 1), dt.date(2036, 1, 1))


def test_purge_before_matches_is_purge_due():
    days = [dt.date(2035, 12, 31), dt.date(2036, 1, 1), dt.date(2036, 6, 30), dt.date(2040, 12, 31)]
    quarters = [Quarter(y, q) for y in range(2022, 2032) for q in range(1, 5)]
    for day in days:
        cutoff = rules.purge_before(day)
        for quarter in quarters:
            assert (quarter.slug < cutoff.slug) == rules.is_purge_due(quarter, day), (day, quarter)


# --------------------------------------------------------------------------- purger


@pytest.fixture
def two_quarters(employed, practice, submit_file):
    """A Q4/2025 submission (deleted on 1.1.2036) and a Q1/2026 one (kept until 31.12.2036)."""
    old = submit_file(employed, practice, kvdt_file(practice.bsnr, seed=1))
    new = submit_file(employed, practice, kvdt_file(practice.bsnr, seed=2), minute=31)
    # test setup only: move the first one to the previous quarter
    Submission.objects.filter(pk=old.pk).update(quarter=Quarter(2025, 4).slug, is_current=False)
    old.refresh_from_db()
    assert old.report and private_storage.exists(old.storage_name)
    return old, new


@pytest.fixture
def submit_file(submit_file):
    from tests.billing.conftest import std_name

    def run(actor, practice, content, *, minute=30, **kwargs):
        return submit_file(
            actor, practice, content, std_name(practice.bsnr, minute=minute), **kwargs
        )

    return run


def test_purge_at_the_year_boundary(two_quarters, practice):
    old, new = two_quarters
    stored = old.storage_name
    with time_machine.travel(LAST_DAY_2035, tick=False):
        assert services.purge_expired_submissions(now=now_utc()).count == 0
    assert private_storage.exists(stored)

    with time_machine.travel(NEW_YEAR_2036, tick=False):
        result = services.purge_expired_submissions(now=now_utc())
    assert result.count == 1
    assert f"ID {old.pk}" in result.items[0] and "31.12.2035" in result.items[0]
    old.refresh_from_db()
    # file and protocol gone, metadata kept
    assert not private_storage.exists(stored)
    assert old.report == {} and old.storage_name == ""
    assert old.purged_at == NEW_YEAR_2036
    assert old.original_name and len(old.sha256) == 64 and old.received_at
    assert old.betriebsstaette == practice and old.quarter == "2025-4"
    # the newer quarter is untouched
    new.refresh_from_db()
    assert new.purged_at is None and new.report and private_storage.exists(new.storage_name)
    entry = AccessLogEntry.objects.get(activity=Activity.DELETE, object_id=str(old.pk))
    assert entry.bsnr == practice.bsnr and "§ 304" in entry.object_repr
    assert entry.detail["event"] == "billing.purged" and entry.detail["sha256"] == old.sha256


def test_dry_run_deletes_nothing(two_quarters):
    old, _ = two_quarters
    with time_machine.travel(NEW_YEAR_2036, tick=False):
        preview = services.purge_expired_submissions(now=now_utc(), dry_run=True)
    assert preview.count == 1 and f"ID {old.pk}" in preview.items[0]
    old.refresh_from_db()
    assert old.purged_at is None and old.report and private_storage.exists(old.storage_name)
    assert not AccessLogEntry.objects.filter(activity=Activity.DELETE).exists()


def test_purge_is_idempotent_and_tolerates_a_missing_file(two_quarters):
    old, _ = two_quarters
    private_storage.delete(old.storage_name)  # e.g. removed by an earlier, interrupted run
    moment = dt.datetime(2037, 1, 1, 12, tzinfo=BERLIN)
    with time_machine.travel(moment, tick=False):
        assert services.purge_expired_submissions(now=now_utc()).count == 2
        assert services.purge_expired_submissions(now=now_utc()).count == 0
        assert services.purge_expired_submissions(now=now_utc(), dry_run=True).count == 0
    assert Submission.objects.filter(purged_at=moment).count() == 2
    assert AccessLogEntry.objects.filter(activity=Activity.DELETE).count() == 2


def test_purge_works_in_batches(employed, practice, submit_file, settings):
    ids = [
        submit_file(employed, practice, kvdt_file(practice.bsnr, seed=s), minute=30 + s).pk
        for s in range(1, 4)
    ]
    settings.PURGE_BATCH_SIZE = 2
    with time_machine.travel(dt.datetime(2037, 1, 1, 0, 1, tzinfo=BERLIN), tick=False):
        preview = services.purge_expired_submissions(now=now_utc(), dry_run=True)
        assert preview.count == 3 and len(preview.items) == 2
        assert services.purge_expired_submissions(now=now_utc()).count == 3
    assert not Submission.objects.filter(pk__in=ids, purged_at__isnull=True).exists()


def test_failed_file_deletion_rolls_back(two_quarters, monkeypatch):
    old, _ = two_quarters

    class BrokenStorage:
        def delete(self, name):
            raise OSError("disk")

    monkeypatch.setattr(services, "private_storage", BrokenStorage())
    with time_machine.travel(NEW_YEAR_2036, tick=False), pytest.raises(OSError):
        services.purge_expired_submissions(now=now_utc())
    old.refresh_from_db()
    assert old.purged_at is None and old.report and old.storage_name
    assert not AccessLogEntry.objects.filter(activity=Activity.DELETE).exists()


def test_registered_and_run_by_the_purge_command(two_quarters, capsys):
    old, _ = two_quarters
    assert purgers()["billing"] is services.purge_expired_submissions
    with time_machine.travel(NEW_YEAR_2036, tick=False):
        call_command("purge_expired", "--dry-run")
        assert "Abrechnungsdateien (§ 304 SGB V): 1 würden gelöscht" in capsys.readouterr().out
        call_command("purge_expired")
        assert "Abrechnungsdateien (§ 304 SGB V): 1 gelöscht" in capsys.readouterr().out
    old.refresh_from_db()
    assert old.is_purged


# --------------------------------------------------------------------------- pages and API


@pytest.fixture
def purged(two_quarters):
    old, new = two_quarters
    with time_machine.travel(NEW_YEAR_2036, tick=False):
        services.purge_expired_submissions(now=now_utc())
    old.refresh_from_db()
    return old, new


def test_member_pages_show_deletion_instead_of_links(purged, member_client, employed):
    old, new = purged
    client = member_client(employed)
    page = client.get(f"/abrechnung/einreichung/{old.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "gelöscht am 01.01.2036" in html and 'id="purged"' in html
    assert 'id="receipt-link"' not in html and 'id="protocol-pdf-link"' not in html
    assert client.get(f"/abrechnung/einreichung/{old.pk}/protokoll.pdf").status_code == 404
    assert (
        client.get(f"/abrechnung/einreichung/{old.pk}/empfangsbestaetigung.pdf").status_code == 404
    )
    # the kept submission still has its links
    assert 'id="receipt-link"' in client.get(f"/abrechnung/einreichung/{new.pk}/").content.decode()


def test_staff_pages_show_deletion_and_file_is_404(purged, staff_client):
    old, new = purged
    client, _ = staff_client("Abrechnung")
    for name in ("staff_protocol_pdf", "staff_receipt_pdf", "staff_download"):
        assert client.get(reverse(f"billing:{name}", args=[old.pk])).status_code == 404, name
    detail = client.get(f"/abrechnung/kv/einreichung/{old.pk}/").content.decode()
    assert "gelöscht am 01.01.2036" in detail and 'id="staff-download"' not in detail
    listing = client.get("/abrechnung/kv/").content.decode()
    assert listing.count("gelöscht am 01.01.2036") == 1
    assert f"/abrechnung/kv/einreichung/{new.pk}/datei/" in listing
    assert f"/abrechnung/kv/einreichung/{old.pk}/datei/" not in listing
    download = client.get(f"/abrechnung/kv/einreichung/{new.pk}/datei/")
    assert b"".join(download.streaming_content) == kvdt_file(new.betriebsstaette.bsnr, seed=2)


def test_api_reports_deletion_and_404(purged, client, employed):
    old, new = purged
    raw = create_api_token(actor=employed, name="PVS", scopes=["billing"])[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    base = f"/api/v1/billing/submissions/{old.pk}"
    data = client.get(f"{base}/", **auth).json()
    assert data["geloescht_am"].startswith("2036-01-01T00:01")
    assert set(data["links"]) == {"self", "portal"}
    assert data["sha256"] == old.sha256 and data["dateiname"] == old.original_name
    for suffix in ("protocol/", "protocol.pdf", "receipt.pdf"):
        response = client.get(f"{base}/{suffix}", **auth)
        assert response.status_code == 404, suffix
        assert response.json()["codes"] == ["purged"]
    kept = client.get(f"/api/v1/billing/submissions/{new.pk}/", **auth).json()
    assert kept["geloescht_am"] is None and "protokoll" in kept["links"]
    assert client.get(f"/api/v1/billing/submissions/{new.pk}/protocol/", **auth).status_code == 200

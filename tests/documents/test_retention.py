"""§ 304 SGB V purge with frozen time, tombstones, dry-run; § 37 (2a) SGB X notices."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from kvportal.audit.models import AccessLogEntry, Activity
from kvportal.core.quarters import Quarter
from kvportal.core.registry import purgers
from kvportal.documents import services
from kvportal.documents.models import DeletedDocument, Document, ReadReceipt
from tests.documents.conftest import pdf

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


def test_deletion_date_stored_on_publish(world):
    assert world.bsnr_doc.deletion_date == dt.date(2036, 12, 31)


def test_retention_setting_per_type(world, settings):
    settings.DOCUMENT_RETENTION_YEARS = {"sonstiges": 3}
    doc = services.publish_document(
        actor=None,
        betriebsstaette=world.mvz,
        quarter=Quarter(2025, 4),
        doc_type="sonstiges",
        title="kurz",
        content=pdf("kurz"),
        notify=False,
    )
    assert doc.deletion_date == dt.date(2028, 12, 31)


def test_publishing_a_quarter_past_its_retention_is_refused(world):
    with pytest.raises(services.DocumentError, match="Aufbewahrungsfrist"):
        services.publish_document(
            actor=None,
            betriebsstaette=world.mvz,
            quarter=Quarter(2015, 4),
            doc_type="sonstiges",
            title="alt",
            content=pdf("alt"),
            notify=False,
        )


def _files(settings):
    return sorted(p.name for p in (settings.PRIVATE_ROOT / "documents").rglob("*.pdf"))


def test_purge_at_the_year_boundary(world, settings, client):
    w = world
    old = services.publish_document(
        actor=None,
        betriebsstaette=w.mvz,
        quarter=Quarter(2025, 4),
        doc_type="richtigstellung",
        title="Q4/2025",
        content=pdf("q4"),
        lanr=w.doc_a.person.lanr,
        notify=False,
    )
    ReadReceipt.objects.create(document=old, user=w.doc_a)
    old_file = old.file.name.rsplit("/", 1)[-1]
    assert old_file in _files(settings)
    # last day of retention (Berlin time, 23:59 on 31.12.2035): nothing goes
    with time_machine.travel(dt.datetime(2035, 12, 31, 23, 59, tzinfo=BERLIN), tick=False):
        dry = services.purge_expired_documents(now=dt.datetime.now(tz=dt.UTC), dry_run=False)
    assert dry.count == 0
    # 1 Jan 2036 00:01 Berlin (still 31 Dec in UTC): Q4/2025 goes, 1/2026 documents stay
    moment = dt.datetime(2036, 1, 1, 0, 1, tzinfo=BERLIN)
    with time_machine.travel(moment, tick=False):
        preview = services.purge_expired_documents(now=dt.datetime.now(tz=dt.UTC), dry_run=True)
        assert preview.count == 1 and "Richtigstellung 4/2025" in preview.items[0]
        assert Document.objects.filter(pk=old.pk).exists()  # dry run deletes nothing
        result = services.purge_expired_documents(now=dt.datetime.now(tz=dt.UTC))
    assert result.count == 1
    assert not Document.objects.filter(pk=old.pk).exists()
    assert not ReadReceipt.objects.filter(document_id=old.pk).exists()
    assert old_file not in _files(settings)
    assert Document.objects.filter(pk=w.bsnr_doc.pk).exists()
    tomb = DeletedDocument.objects.get(original_id=old.pk)
    assert (tomb.bsnr, tomb.quarter, tomb.doc_type, tomb.sha256) == (
        w.mvz.bsnr,
        20254,
        "richtigstellung",
        old.sha256,
    )
    assert tomb.deleted_at == moment
    entry = AccessLogEntry.objects.get(activity=Activity.DELETE, object_id=str(old.pk))
    assert entry.bsnr == w.mvz.bsnr and "§ 304" in entry.object_repr
    # the doctor sees the tombstone of his own document, his colleague does not
    client.force_login(w.doc_a)
    assert list(client.get(reverse("documents:list")).context["tombstones"]) == [tomb]
    client.force_login(w.doc_b)
    assert list(client.get(reverse("documents:list")).context["tombstones"]) == []
    # running again changes nothing
    with time_machine.travel(moment, tick=False):
        assert services.purge_expired_documents(now=dt.datetime.now(tz=dt.UTC)).count == 0


def test_purge_command_dry_run_and_registry(world, capsys):
    assert purgers()["documents"] is services.purge_expired_documents
    with time_machine.travel(dt.datetime(2037, 1, 2, 12, tzinfo=BERLIN), tick=False):
        call_command("documents", "purge", "--dry-run")
        out = capsys.readouterr().out
        assert "4 würden gelöscht" in out
        assert Document.objects.count() == 4
        call_command("documents", "purge")
        assert "4 gelöscht" in capsys.readouterr().out
    assert Document.objects.count() == 0
    assert DeletedDocument.objects.count() == 4


def test_notice_mail_without_content_and_delivery_date(world, django_capture_on_commit_callbacks):
    w = world
    w.doc_a.notify_by_email = True
    w.doc_a.save()
    sent_at = dt.datetime(2026, 3, 2, 9, 30, tzinfo=BERLIN)
    with time_machine.travel(sent_at, tick=False), django_capture_on_commit_callbacks(execute=True):
        doc = services.publish_document(
            actor=None,
            betriebsstaette=w.mvz,
            quarter=Quarter(2026, 1),
            doc_type="richtigstellung",
            title="Geheimer Titel",
            content=pdf("x"),
            lanr=w.doc_a.person.lanr,
        )
    doc.refresh_from_db()
    assert doc.notice_sent_at == sent_at
    assert doc.delivery_date == dt.date(2026, 3, 6)
    # Träger (BSNR-wide, opted in) and doctor A (own LANR, opted in); B is not entitled
    assert sorted(m.to[0] for m in mail.outbox) == sorted([w.traeger.email, w.doc_a.email])
    body = mail.outbox[0].body
    assert "Geheimer Titel" not in body and w.mvz.bsnr not in body
    assert "§ 37 Abs. 2a SGB X" in body
    # idempotent: a second run sends nothing
    assert services.send_document_notices(document_ids=[doc.pk]) == 0
    assert len(mail.outbox) == 2


def test_no_opt_in_no_notice(world):
    w = world
    w.traeger.notify_by_email = False
    w.traeger.save()
    assert services.send_document_notices(document_ids=[w.bsnr_doc.pk]) == 0
    w.bsnr_doc.refresh_from_db()
    assert w.bsnr_doc.notice_sent_at is None and w.bsnr_doc.delivery_date is None


def test_import_sends_one_mail_per_user(world, django_capture_on_commit_callbacks, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    lines = ["Datei;BSNR;LANR;Quartal;Typ;Titel"]
    for n in range(3):
        (folder / f"{n}.pdf").write_bytes(pdf(f"Dok {n}"))
        lines.append(f"{n}.pdf;{world.mvz.bsnr};;22026;Sonstiges;Dok {n}")
    with django_capture_on_commit_callbacks(execute=True):
        services.import_manifest(
            actor=None,
            manifest="\n".join(lines).encode(),
            manifest_name="m.csv",
            open_file=lambda name: (folder / name).read_bytes(),
        )
    assert len(mail.outbox) == 1
    assert "3 neue(s) Dokument(e)" in mail.outbox[0].body


def test_detail_shows_delivery_date(world, client):
    w = world
    Document.objects.filter(pk=w.bsnr_doc.pk).update(
        notice_sent_at=dt.datetime(2026, 5, 29, 22, 30, tzinfo=dt.UTC)  # 30.05. in Berlin
    )
    client.force_login(w.traeger)
    html = client.get(reverse("documents:detail", args=[w.bsnr_doc.pk])).content.decode()
    assert "03.06.2026" in html

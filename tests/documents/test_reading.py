"""Unread marker, read receipts ("who opened it and when"), access log, start-page panel."""

import pytest
from django.urls import reverse

from kvportal.audit.models import AccessLogEntry, Activity
from kvportal.documents import selectors
from kvportal.documents.models import ReadReceipt

pytestmark = pytest.mark.django_db


def test_download_marks_read_and_is_logged(world, client):
    w = world
    client.force_login(w.doc_a)
    page = client.get(reverse("documents:list"))
    assert [d.is_read for d in page.context["page"].object_list] == [False]
    response = client.get(reverse("documents:download", args=[w.a_doc.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    page = client.get(reverse("documents:list"))
    assert [d.is_read for d in page.context["page"].object_list] == [True]
    entry = AccessLogEntry.objects.filter(activity=Activity.DOWNLOAD, user=w.doc_a).get()
    assert entry.object_id == str(w.a_doc.pk)
    assert entry.bsnr == w.mvz.bsnr
    # read for A does not make it read for the Träger
    assert selectors.unread_count(w.traeger) == 3


def test_detail_view_is_logged(world, client):
    client.force_login(world.traeger)
    client.get(reverse("documents:detail", args=[world.bsnr_doc.pk]))
    assert AccessLogEntry.objects.filter(
        activity=Activity.VIEW, user=world.traeger, object_id=str(world.bsnr_doc.pk)
    ).exists()


def test_list_view_is_logged(world, client):
    client.force_login(world.doc_b)
    client.get(reverse("documents:list"), {"suche": "x"})
    entry = AccessLogEntry.objects.get(activity=Activity.VIEW, user=world.doc_b)
    assert entry.object_type == "documents.list"
    assert entry.detail == {"text": "x"}


def test_who_opened_it_only_for_bsnr_wide_holders(world, client):
    w = world
    client.force_login(w.doc_a)
    client.get(reverse("documents:download", args=[w.a_doc.pk]))
    client.get(reverse("documents:download", args=[w.a_doc.pk]))
    receipt = ReadReceipt.objects.get(document=w.a_doc, user=w.doc_a)
    assert receipt.times == 2
    own = client.get(reverse("documents:detail", args=[w.a_doc.pk]))
    assert own.context["show_receipts"] is False
    assert "Wer hat das Dokument geöffnet" not in own.content.decode()
    client.force_login(w.traeger)
    wide = client.get(reverse("documents:detail", args=[w.a_doc.pk]))
    assert wide.context["show_receipts"] is True
    assert list(wide.context["receipts"]) == [receipt]
    assert w.doc_a.display_name in wide.content.decode()


def test_start_page_panel_chart_for_bsnr_wide_right_only(world, client):
    w = world
    client.force_login(w.traeger)
    home = client.get("/").content.decode()
    assert 'id="documents-panel"' in home
    assert f'id="honorar-chart-{w.mvz.bsnr}"' in home
    assert "<svg" in home and "50.000,00 €" in home
    client.force_login(w.doc_a)
    home = client.get("/").content.decode()
    assert 'id="documents-panel"' in home
    assert "honorar-chart" not in home
    client.force_login(w.no_docs)
    assert 'id="documents-panel"' not in client.get("/").content.decode()


def test_nav_item_only_with_document_rights(world, client):
    client.force_login(world.no_docs)
    assert reverse("documents:list") not in client.get("/").content.decode()
    client.force_login(world.doc_b)
    assert reverse("documents:list") in client.get("/").content.decode()

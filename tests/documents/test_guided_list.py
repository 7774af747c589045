"""Issue 14 "Documents": grouped by quarter with the Honorarbescheid first, sortable, a ZIP
of a quarter; the Bescheid page starts with the download and names Bekanntgabe and the
Widerspruch deadline."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from django.urls import reverse
from django.utils import timezone

from kvportal.documents import rules, services
from kvportal.documents.models import Document, ReadReceipt
from tests.documents.conftest import Q1, Q2, pdf

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------ pure rule (§ 84, § 64 SGG)


@pytest.mark.parametrize(
    ("delivered", "deadline"),
    [
        (dt.date(2026, 3, 10), dt.date(2026, 4, 10)),  # same day next month (a Friday)
        (dt.date(2026, 1, 31), dt.date(2026, 3, 2)),  # no 31 Feb → 28 Feb, a Saturday → Monday
        (dt.date(2026, 12, 15), dt.date(2027, 1, 15)),  # over the year end
        (dt.date(2026, 4, 3), dt.date(2026, 5, 4)),  # 3 May is a Sunday → Monday
    ],
)
def test_widerspruch_deadline_one_month_after_delivery(delivered, deadline):
    assert rules.widerspruch_deadline(delivered) == deadline


def test_widerspruch_deadline_moves_over_a_public_holiday():
    holidays = frozenset({dt.date(2026, 5, 4)})
    assert rules.widerspruch_deadline(dt.date(2026, 4, 3), holidays=holidays) == dt.date(2026, 5, 5)


# ------------------------------------------------------------------ list


def _publish(world, title, *, quarter, doc_type, lanr=None):
    return services.publish_document(
        actor=None,
        betriebsstaette=world.mvz,
        quarter=quarter,
        doc_type=doc_type,
        title=title,
        content=pdf(title),
        lanr=lanr,
        notify=False,
    )


def test_list_grouped_by_quarter_with_the_honorarbescheid_first(client, world):
    # published after the Honorarbescheid of Q2, but listed after it
    _publish(world, "Richtigstellung Q2 spät", quarter=Q2, doc_type="richtigstellung")
    hb = _publish(world, "Honorarbescheid Q2", quarter=Q2, doc_type="honorarbescheid")
    Document.objects.filter(pk=hb.pk).update(published_at=timezone.now() - dt.timedelta(days=3))
    client.force_login(world.traeger)
    html = client.get(reverse("documents:list")).content.decode()
    q2 = html.index(f'id="quarter-{Q2.slug}"')
    q1 = html.index(f'id="quarter-{Q1.slug}"')
    assert q2 < q1  # newest quarter first
    group = html[q2:q1]
    assert group.index("Honorarbescheid Q2") < group.index("Richtigstellung Q2 spät")
    assert reverse("documents:quarter_zip", args=[Q2.slug]) in group


def test_list_sortable_by_title(client, world):
    _publish(world, "AAA zuerst", quarter=Q2, doc_type="sonstiges")
    client.force_login(world.traeger)
    html = client.get(reverse("documents:list"), {"sortierung": "titel"}).content.decode()
    assert 'id="documents-list"' in html and "quarter-group" not in html
    assert html.index("AAA zuerst") < html.index(world.bsnr_doc.title)
    # an unknown order falls back to the quarter groups
    html = client.get(reverse("documents:list"), {"sortierung": "kaputt"}).content.decode()
    assert "quarter-group" in html


def test_list_is_cards_on_a_phone(client, world):
    client.force_login(world.traeger)
    html = client.get(reverse("documents:list")).content.decode()
    assert "table table-cards" in html
    assert 'data-label="Titel"' in html


# ------------------------------------------------------------------ ZIP


def test_zip_of_a_quarter_holds_what_the_user_may_see(client, world):
    client.force_login(world.doc_a)
    response = client.get(reverse("documents:quarter_zip", args=[Q1.slug]))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert names == [world.a_doc.download_name]  # not the colleague's, not the BSNR's
    assert ReadReceipt.objects.filter(document=world.a_doc, user=world.doc_a).exists()


def test_zip_of_the_traeger_holds_all_documents_of_the_quarter(client, world):
    client.force_login(world.traeger)
    response = client.get(reverse("documents:quarter_zip", args=[Q1.slug]))
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    expected = {world.bsnr_doc, world.a_doc, world.b_doc}
    assert set(archive.namelist()) == {d.download_name for d in expected}
    assert archive.read(world.bsnr_doc.download_name).startswith(b"%PDF")


def test_zip_of_an_empty_or_invalid_quarter_is_404(client, world):
    client.force_login(world.traeger)
    assert client.get(reverse("documents:quarter_zip", args=["2020-1"])).status_code == 404
    assert client.get(reverse("documents:quarter_zip", args=["kein-quartal"])).status_code == 404
    client.force_login(world.no_docs)
    assert client.get(reverse("documents:quarter_zip", args=[Q1.slug])).status_code == 404


# ------------------------------------------------------------------ Bescheid page


def test_bescheid_page_starts_with_download_and_names_the_deadlines(client, world):
    sent = timezone.now() - dt.timedelta(days=1)
    Document.objects.filter(pk=world.bsnr_doc.pk).update(notice_sent_at=sent)
    world.bsnr_doc.refresh_from_db()
    delivered = rules.delivery_date(sent)
    client.force_login(world.traeger)
    html = client.get(reverse("documents:detail", args=[world.bsnr_doc.pk])).content.decode()
    main = html.split("<main", 1)[1]
    after_h1 = main.split("</h1>", 1)[1]
    assert after_h1.index('id="download"') < after_h1.index('id="document-facts"')
    assert f"bekannt gegeben am <strong>{delivered:%d.%m.%Y}</strong>" in html
    until = rules.widerspruch_deadline(delivered)
    assert f"Widerspruch ist bis zum <strong>{until:%d.%m.%Y}</strong> möglich" in html


def test_no_widerspruch_line_for_documents_that_are_no_bescheid(client, world):
    doc = _publish(world, "Begleitbrief", quarter=Q1, doc_type="begleitbrief")
    Document.objects.filter(pk=doc.pk).update(notice_sent_at=timezone.now())
    client.force_login(world.traeger)
    html = client.get(reverse("documents:detail", args=[doc.pk])).content.decode()
    assert 'id="delivered-on"' in html
    assert 'id="widerspruch-until"' not in html


def test_unread_bescheid_is_a_task_with_its_widerspruch_deadline(world):
    from kvportal.core import registry

    sent = timezone.now() - dt.timedelta(days=2)
    Document.objects.filter(pk=world.bsnr_doc.pk).update(notice_sent_at=sent)
    world.bsnr_doc.refresh_from_db()
    tasks = registry.tasks_for(world.traeger)
    bescheid = [t for t in tasks if t.url == reverse("documents:detail", args=[world.bsnr_doc.pk])]
    assert len(bescheid) == 1
    assert bescheid[0].due == rules.widerspruch_deadline(rules.delivery_date(sent))
    # due dates first, earliest first: every task before the Bescheid is due no later
    dated = [t.due for t in tasks if t.due]
    assert dated == sorted(dated)
    assert all(t.due is not None for t in tasks[: tasks.index(bescheid[0]) + 1])
    assert all(t.due <= bescheid[0].due for t in tasks[: tasks.index(bescheid[0])])
    assert all(t.due is None or t.due >= bescheid[0].due for t in tasks[tasks.index(bescheid[0]) :])
    # after reading it, the task is gone
    services.mark_opened(actor=world.traeger, document=world.bsnr_doc)
    detail_url = reverse("documents:detail", args=[world.bsnr_doc.pk])
    assert not [t for t in registry.tasks_for(world.traeger) if t.url == detail_url]

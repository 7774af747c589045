"""Issue 14: the access application's staff page – "Betriebsstätte anlegen" from the
application's data as the one primary action, refusal only through the confirmation step."""

from __future__ import annotations

import html
from urllib.parse import parse_qs, urlparse

import pytest
from django.core import mail

from kvportal.access import rules
from kvportal.accounts.constants import StaffRole
from kvportal.audit.models import AccessLogEntry, Activity
from kvportal.members.models import Betriebsstaette
from tests.access.test_views import ready_application

pytestmark = pytest.mark.django_db


def _create_link(page: str) -> str:
    start = page.index('id="create-practice"')
    tag_start = page.rindex("<a ", 0, start)
    href = page[tag_start:].split('href="', 1)[1].split('"', 1)[0]
    return html.unescape(href)


def test_unknown_bsnr_offers_prefilled_practice_creation(
    staff_client, django_capture_on_commit_callbacks
):
    app, _practice, _l, _a = ready_application(django_capture_on_commit_callbacks)
    c, _ = staff_client(StaffRole.ARZTREGISTER)
    detail = c.get(f"/zugang/kv/antraege/{app.pk}/").content.decode()
    assert 'id="create-practice"' not in detail  # the BSNR is in the registry
    assert 'id="registry-practice"' in detail
    # the same application for a BSNR the registry does not know yet
    from tests.factories import BetriebsstaetteFactory

    new_bsnr = BetriebsstaetteFactory.build().bsnr
    type(app).objects.filter(pk=app.pk).update(bsnr=new_bsnr, practice_name="MVZ Neu am Markt")
    detail = c.get(f"/zugang/kv/antraege/{app.pk}/").content.decode()
    assert "ist im Arztregister nicht angelegt" in html.unescape(detail)
    link = _create_link(detail)
    query = {k: v[0] for k, v in parse_qs(urlparse(link).query).items()}
    assert query["bsnr"] == new_bsnr and query["name"] == "MVZ Neu am Markt"
    assert query["kind"] == "mvz" and query["next"] == f"/zugang/kv/antraege/{app.pk}/"
    # approving first is the secondary action and explains what is missing
    assert 'id="approve" class="button-secondary"' in detail
    form = c.get(link).content.decode()
    assert f'value="{new_bsnr}"' in form and "Vorbelegt mit den Angaben" in form
    response = c.post(
        link.split("?")[0],
        {**query, "site": "haupt", "bezirk": "dresden", "postal_code": "01069", "city": "Dresden"},
    )
    assert response.url == f"/zugang/kv/antraege/{app.pk}/"
    created = Betriebsstaette.objects.get(bsnr=new_bsnr)
    assert created.name == "MVZ Neu am Markt" and created.kind == "mvz"
    detail = c.get(response.url).content.decode()
    assert 'id="create-practice"' not in detail and 'id="registry-practice"' in detail


def test_refusal_goes_through_confirmation_with_reason(
    staff_client, django_capture_on_commit_callbacks
):
    app, _p, _l, _a = ready_application(django_capture_on_commit_callbacks)
    c, user = staff_client(StaffRole.ARZTREGISTER)
    # the old one-click path no longer refuses: it leads to the confirmation step
    response = c.post(
        f"/zugang/kv/antraege/{app.pk}/entscheiden/", {"action": "reject", "message": "x"}
    )
    assert response.url == f"/zugang/kv/antraege/{app.pk}/ablehnen/"
    app.refresh_from_db()
    assert app.status == rules.Status.EINGEREICHT
    page = html.unescape(c.get(response.url).content.decode())
    assert "Folgen dieser Entscheidung:" in page and "es werden keine Konten angelegt" in page
    # no reason, no confirmation: refused with messages at the fields
    response = c.post(f"/zugang/kv/antraege/{app.pk}/ablehnen/", {"reason": ""})
    text = html.unescape(response.content.decode())
    assert "Bitte geben Sie eine Begründung an." in text
    assert "Bitte bestätigen Sie, dass Sie fortfahren möchten." in text
    app.refresh_from_db()
    assert app.status == rules.Status.EINGEREICHT
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(
            f"/zugang/kv/antraege/{app.pk}/ablehnen/",
            {"reason": "Keine Zulassung in Sachsen.", "confirmed": "on"},
        )
    assert response.url == f"/zugang/kv/antraege/{app.pk}/"
    app.refresh_from_db()
    assert app.status == rules.Status.ABGELEHNT
    entry = AccessLogEntry.objects.get(
        activity=Activity.DECISION, object_type="access.accessapplication", object_id=str(app.pk)
    )
    assert entry.user == user and entry.detail["reason"] == "Keine Zulassung in Sachsen."
    detail = html.unescape(c.get(response.url).content.decode())
    assert "Begründung: Keine Zulassung in Sachsen." in detail  # the history shows it
    assert mail.outbox  # the applicant is told
    # a decided application cannot be refused again
    again = c.get(f"/zugang/kv/antraege/{app.pk}/ablehnen/")
    assert again.status_code == 302


def test_refusal_page_is_arztregister_only(staff_client, django_capture_on_commit_callbacks):
    app, _p, _l, _a = ready_application(django_capture_on_commit_callbacks)
    other, _ = staff_client(StaffRole.ABRECHNUNG)
    assert other.get(f"/zugang/kv/antraege/{app.pk}/ablehnen/").status_code == 404

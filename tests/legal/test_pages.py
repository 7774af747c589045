"""BITV 2.0 §§ 4, 7 / § 5 DDG / Art. 13 DSGVO: the footer pages exist, are public, carry the
KV's texts (overridable) and are linked from every page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from kvportal.accounts.constants import Right
from kvportal.legal import services
from kvportal.legal.models import AccessibilityFeedback
from kvportal.legal.pages import PAGES
from kvportal.members.constants import Role
from tests.factories import BetriebsstaetteFactory, doctor_account

pytestmark = pytest.mark.django_db

FOOTER_URLS = [reverse(f"legal:{p.slug}") for p in PAGES] + [reverse("legal:feedback")]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.slug)
def test_every_legal_page_is_public_and_complete(client, page):
    response = client.get(reverse(f"legal:{page.slug}"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"<h1>{page.title}</h1>" in html
    assert "<h2" in html  # a real text, not a placeholder


def test_accessibility_statement_has_the_bitv_parts(client, settings):
    settings.ACCESSIBILITY_FEEDBACK_EMAIL = "bf@kv.example"
    html = client.get(reverse("legal:barrierefreiheit")).content.decode()
    for part in ("Stand der Vereinbarkeit", "Nicht barrierefreie Inhalte", "Schlichtungsverfahren"):
        assert part in html
    assert reverse("legal:feedback") in html
    assert "mailto:bf@kv.example" in html


def test_kv_overrides_a_text_with_its_own_template(client, settings, tmp_path):
    (tmp_path / "legal" / "texte").mkdir(parents=True)
    (tmp_path / "legal" / "texte" / "impressum.html").write_text(
        "<h2>Anbieter</h2><p>KV Testland, Teststraße 9</p>", encoding="utf-8"
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [str(tmp_path), *settings.TEMPLATES[0]["DIRS"]]}
    ]
    html = client.get(reverse("legal:impressum")).content.decode()
    assert "KV Testland, Teststraße 9" in html
    assert "Musterland" not in html.split("<main", 1)[1].split("</main>", 1)[0]


def test_legal_pages_reachable_while_first_password_change_is_pending(client):
    user = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    user.must_change_password = True
    user.save()
    client.force_login(user)
    assert client.get(reverse("core:home")).status_code == 302  # the gate holds
    for url in FOOTER_URLS:
        assert client.get(url).status_code == 200, url


# ------------------------------------------------------------------ linked from every page


def _plain_routes(patterns, prefix=""):
    """(url, name) of every route without parameters, from the URL resolver."""
    for p in patterns:
        if isinstance(p, URLResolver):
            if "<" in str(p.pattern) or str(p.pattern).startswith(("backoffice", "api/")):
                continue
            yield from _plain_routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern) and "<" not in str(p.pattern):
            route = str(p.pattern)
            if route.startswith("^") or "(?P" in route:
                continue
            yield "/" + prefix + route, p.name


def _assert_footer(response, url):
    html = response.content.decode()
    footer = html.split('id="footer-links"', 1)
    assert len(footer) == 2, f"{url}: keine Fußzeilen-Navigation"
    for target in FOOTER_URLS:
        assert f'href="{target}' in footer[1], f"{url}: Link auf {target} fehlt"


def _check_all(client) -> int:
    checked = 0
    for url, _name in _plain_routes(get_resolver().url_patterns):
        response = client.get(url)
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            _assert_footer(response, url)
            checked += 1
    return checked


def test_every_page_links_the_legal_pages(client):
    anonymous = _check_all(client)
    user = doctor_account(
        BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR
    )
    client.force_login(user)
    member = _check_all(client)
    assert anonymous >= 8 and member >= 15, (anonymous, member)
    # error pages too
    response = client.get("/gibt-es-nicht/")
    assert response.status_code == 404
    _assert_footer(response, "404")


def test_every_staff_page_links_the_legal_pages(staff_client):
    client, _user = staff_client("Arztregister", "Abrechnung", "Zulassung")
    assert _check_all(client) >= 10


# ------------------------------------------------------------------ feedback route


def test_feedback_is_stored_and_mailed_to_the_configured_address(
    client, settings, django_capture_on_commit_callbacks
):
    settings.ACCESSIBILITY_FEEDBACK_EMAIL = "barrieren@kv.example"
    mail.outbox.clear()
    url = reverse("legal:feedback") + "?seite=/dokumente/"
    form = client.get(url).content.decode()
    assert 'value="/dokumente/"' in form  # the page the visitor came from is prefilled
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                "page": "/dokumente/",
                "message": "Die Tabelle ist mit dem Screenreader nicht lesbar.",
                "email": "leser@example.org",
            },
        )
    assert response.status_code == 302
    feedback = AccessibilityFeedback.objects.get()
    assert feedback.page == "/dokumente/" and feedback.email == "leser@example.org"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["barrieren@kv.example"]
    assert "nicht lesbar" in message.body and "/dokumente/" in message.body
    assert f"BF-{feedback.pk}" in message.subject


def test_feedback_errors_are_german_and_keep_the_input(client):
    response = client.post(reverse("legal:feedback"), {"message": "", "email": "kaputt"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Bitte beschreiben Sie die Barriere." in html
    assert "gültige E-Mail-Adresse" in html
    assert 'value="kaputt"' in html
    assert "data-error-summary" in html
    assert not AccessibilityFeedback.objects.exists()


def test_feedback_rate_limited_without_losing_the_text(client):
    from django.core.cache import cache

    cache.clear()
    for i in range(5):
        client.post(reverse("legal:feedback"), {"message": f"Barriere {i}"})
    response = client.post(reverse("legal:feedback"), {"message": "Noch eine Barriere"})
    html = response.content.decode()
    assert AccessibilityFeedback.objects.count() == 5
    assert "schon mehrere Rückmeldungen" in html and "Noch eine Barriere" in html
    cache.clear()


def test_feedback_purged_after_retention(settings):
    settings.LEGAL_FEEDBACK_RETENTION_DAYS = 730
    now = timezone.now()
    old = services.submit_feedback(actor=None, message="alt")
    AccessibilityFeedback.objects.filter(pk=old.pk).update(created_at=now - dt.timedelta(days=731))
    services.submit_feedback(actor=None, message="neu")
    assert services.purge_feedback(now=now, dry_run=True).count == 1
    assert AccessibilityFeedback.objects.count() == 2
    assert services.purge_feedback(now=now).count == 1
    assert list(AccessibilityFeedback.objects.values_list("message", flat=True)) == ["neu"]

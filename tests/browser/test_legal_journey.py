"""Journey: from any page's footer to the Erklärung zur Barrierefreiheit and its feedback route
(BITV 2.0 § 7); every footer page passes axe-core at 1280 and 390 px."""

from __future__ import annotations

import pytest
from django.core import mail
from playwright.sync_api import expect

from kvportal.legal.models import AccessibilityFeedback
from kvportal.legal.pages import PAGES
from tests.browser.axe import assert_accessible, assert_no_horizontal_scroll

pytestmark = pytest.mark.browser

FOCUSED_SUMMARY = "() => document.activeElement.hasAttribute('data-error-summary')"


def test_footer_pages_and_feedback_route(page, settings):
    settings.ACCESSIBILITY_FEEDBACK_EMAIL = "barrieren@kv.example"
    mail.outbox.clear()
    page.goto("/anmelden/")
    footer = page.locator("#footer-links")
    for legal in PAGES:
        expect(footer.get_by_role("link", name=str(legal.title), exact=False).first).to_be_visible()
    for legal in PAGES:
        page.goto(f"/{legal.path}")
        expect(page.get_by_role("heading", level=1)).to_have_text(str(legal.title))
        assert_accessible(page)
        assert_no_horizontal_scroll(page)

    page.goto("/anmelden/")
    page.locator("#footer-links").get_by_role("link", name="Barriere melden").click()
    expect(page.get_by_label("Auf welcher Seite ist die Barriere?")).to_have_value("/anmelden/")
    page.get_by_role("button", name="Rückmeldung senden").click()
    expect(page.locator("[data-error-summary]")).to_be_visible()
    assert page.evaluate(FOCUSED_SUMMARY)
    assert_accessible(page)
    assert_no_horizontal_scroll(page)
    page.get_by_label("Was funktioniert nicht").fill("Der Fokus ist auf dem Knopf kaum sichtbar.")
    page.get_by_role("button", name="Rückmeldung senden").click()
    expect(page.locator("#feedback-done")).to_be_visible()
    assert_accessible(page)
    feedback = AccessibilityFeedback.objects.get()
    assert feedback.page == "/anmelden/"
    assert [m.to for m in mail.outbox] == [["barrieren@kv.example"]]

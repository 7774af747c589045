"""Issue 14 defects 4 and 5 in Chromium: focus on the error summary, no image puzzle."""

from __future__ import annotations

import re

from django.core.cache import cache
from playwright.sync_api import expect

from kvportal.access import antiabuse
from kvportal.access.models import AccessApplication
from tests.browser.axe import assert_accessible, assert_no_horizontal_scroll

FOCUSED_SUMMARY = "() => document.activeElement.hasAttribute('data-error-summary')"


def test_failed_login_moves_focus_to_the_summary(page):
    page.goto("/anmelden/")
    page.get_by_role("button", name="Anmelden").click()
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_visible()
    assert page.evaluate(FOCUSED_SUMMARY)
    assert_accessible(page)
    assert_no_horizontal_scroll(page)
    # the summary link takes the keyboard user to the field
    summary.get_by_role("link").first.click()
    assert page.evaluate("() => document.activeElement.id") == "id_username"


def test_public_application_without_image_puzzle(page, settings):
    cache.clear()
    settings.ACCESS_POW_DIFFICULTY = 3
    page.goto("/zugang/beantragen/")
    form = page.locator("form[data-proof-of-work]")
    assert form.locator("img").count() == 0
    page.get_by_label("Einzelpraxis").check()
    page.get_by_label("E-Mail-Adresse für den Link").fill("keine-adresse")
    page.get_by_role("button", name="Antrag beginnen").click()
    expect(page.locator("[data-error-summary]")).to_be_visible()
    assert page.evaluate(FOCUSED_SUMMARY)
    assert_accessible(page)
    assert_no_horizontal_scroll(page)
    # what the user typed is still there
    expect(page.get_by_label("E-Mail-Adresse für den Link")).to_have_value("keine-adresse")
    expect(page.get_by_label("Einzelpraxis")).to_be_checked()
    page.get_by_label("E-Mail-Adresse für den Link").fill("praxis@example.org")
    page.get_by_role("button", name="Antrag beginnen").click()
    expect(
        page.get_by_role("heading", name=re.compile("Antrag auf Online-Zugang OZ-"))
    ).to_be_visible()
    app = AccessApplication.objects.get()
    assert app.variant == "einzelpraxis"
    # the browser computed a valid proof-of-work: the start counted as one with JavaScript
    assert cache.get(antiabuse._key("ip", "127.0.0.1")) == 1
    assert cache.get(antiabuse._key("ip_noscript", "127.0.0.1")) is None
    cache.clear()

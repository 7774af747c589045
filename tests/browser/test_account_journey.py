"""Journey "Accounts": Passwort vergessen from the login page, profile with e-mail and
sessions (end another one); axe-core at 1280 and 390 px, no horizontal scroll on the forms."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kvportal.accounts.constants import Right
from kvportal.members.constants import Role
from kvportal.selfservice.models import CredentialLetterRequest
from tests.browser.axe import assert_accessible, assert_no_horizontal_scroll
from tests.browser.conftest import login
from tests.factories import PASSWORD, BetriebsstaetteFactory, doctor_account

pytestmark = pytest.mark.browser

FOCUSED_SUMMARY = "() => document.activeElement.hasAttribute('data-error-summary')"


def test_forgot_password_from_the_login_page(page):
    practice = BetriebsstaetteFactory()
    user = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING)
    page.goto("/anmelden/")
    page.get_by_role("link", name="Passwort vergessen?").click()
    expect(page.locator("#route-ehba")).to_be_visible()
    page.get_by_label("Betriebsstättennummer (BSNR)").fill("123")
    page.get_by_role("button", name="Zugangsbrief anfordern").click()
    assert page.evaluate(FOCUSED_SUMMARY)
    assert_accessible(page)
    assert_no_horizontal_scroll(page)
    page.get_by_label("Nutzername").fill(user.username)
    page.get_by_label("Betriebsstättennummer (BSNR)").fill(practice.bsnr)
    page.get_by_role("button", name="Zugangsbrief anfordern").click()
    expect(page.locator("#forgot-done")).to_be_visible()
    assert_accessible(page)
    assert CredentialLetterRequest.objects.get().user == user


def test_profile_ends_another_session(page, browser, live_server):
    user = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    other_ctx = browser.new_context(locale="de-DE", base_url=live_server.url)
    other = other_ctx.new_page()
    login(other, user.username, PASSWORD)
    login(page, user.username, PASSWORD)
    page.goto("/konto/profil/")
    rows = page.locator("#sessions tbody tr")
    expect(rows).to_have_count(2)
    assert_accessible(page)
    assert_no_horizontal_scroll(page)
    rows.filter(has_not=page.locator("strong")).get_by_role(
        "button", name=re.compile("beenden")
    ).click()
    expect(page.locator("#sessions tbody tr")).to_have_count(1)
    other.goto("/")
    expect(other).to_have_url(re.compile(r"/anmelden/"))
    other_ctx.close()

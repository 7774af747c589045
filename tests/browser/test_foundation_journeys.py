"""Browser journeys of the foundation: first login, logout, idle timeout, lockout."""

import re

from playwright.sync_api import expect

from kvportal.accounts import services
from kvportal.accounts.constants import Right
from kvportal.members.constants import Role
from tests.browser.axe import assert_accessible, assert_no_horizontal_scroll
from tests.browser.conftest import login
from tests.factories import PASSWORD, BetriebsstaetteFactory, doctor_account


def test_first_login_forces_password_change_then_shows_practice(page):
    practice = BetriebsstaetteFactory(name="Praxis am Elbufer")
    user = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING)
    initial = services.issue_initial_password(actor=None, user=user)
    login(page, user.username, initial)
    expect(page.locator("#forced-change")).to_be_visible()
    assert_accessible(page)
    assert_no_horizontal_scroll(page)
    page.goto("/konto/protokoll/")  # nothing else is reachable
    expect(page).to_have_url(re.compile(r"/konto/passwort/$"))
    page.get_by_label("Bisheriges Passwort").fill(initial)
    page.locator("#id_new_password1").fill("kurz")
    page.locator("#id_new_password2").fill("kurz")
    page.get_by_role("button", name="Passwort ändern").click()
    expect(page.locator(".field .error").get_by_text("zu kurz")).to_be_visible()
    assert_accessible(page)  # with errors
    page.get_by_label("Bisheriges Passwort").fill(initial)
    page.locator("#id_new_password1").fill("Mond-Stern!7x")
    page.locator("#id_new_password2").fill("Mond-Stern!7x")
    page.get_by_role("button", name="Passwort ändern").click()
    expect(page.get_by_role("heading", name="Meine Praxis")).to_be_visible()
    expect(page.locator("#practice-rights")).to_contain_text("Praxis am Elbufer")
    expect(page.locator("#billing-opens")).to_be_visible()
    assert_accessible(page)


def test_logout_ends_session(page):
    user = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    login(page, user.username, PASSWORD)
    expect(page.get_by_role("heading", name="Meine Praxis")).to_be_visible()
    page.get_by_role("button", name="Abmelden").click()
    expect(page.locator("#logout-reason")).to_contain_text("abgemeldet")
    assert_accessible(page)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/anmelden/"))


def test_idle_timeout_logs_out_and_says_why(page, settings):
    settings.SESSION_IDLE_MINUTES = 0.05  # 3 seconds
    user = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    login(page, user.username, PASSWORD)
    expect(page.get_by_role("heading", name="Meine Praxis")).to_be_visible()
    # the page itself navigates away when the idle time has passed
    expect(page.locator("#logout-reason")).to_contain_text("Inaktivität", timeout=15000)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/anmelden/"))


def test_lockout_after_failed_logins(page, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    for _ in range(3):
        login(page, user.username, "falsch")
    expect(page.locator("#locked-message")).to_be_visible()
    assert_accessible(page)
    login(page, user.username, PASSWORD)
    expect(page.locator("#locked-message")).to_be_visible()

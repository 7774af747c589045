"""Journey: role-aware menu with "Verwaltung" submenu, burger menu on phones, "Ihre Aufgaben"
first; axe-core at 1280 and 390 px."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kvportal.accounts.constants import Right
from kvportal.members.constants import Role
from tests.browser.axe import PHONE, assert_accessible
from tests.browser.conftest import login
from tests.factories import PASSWORD, BetriebsstaetteFactory, doctor_account

pytestmark = pytest.mark.browser


def test_holder_menu_on_desktop_and_phone(page):
    practice = BetriebsstaetteFactory()
    holder = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR)
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, holder.username, PASSWORD)
    expect(page.get_by_role("heading", name="Ihre Aufgaben")).to_be_visible()
    nav = page.get_by_role("navigation", name="Hauptnavigation")
    expect(nav.locator(".nav-toggle")).to_be_hidden()  # no burger on a wide screen
    expect(nav.get_by_role("link", name="Abrechnung", exact=True)).to_be_visible()
    staff_link = nav.get_by_role("link", name="Praxispersonal")
    expect(staff_link).to_be_hidden()  # inside the closed "Verwaltung" submenu
    nav.get_by_text("Verwaltung").click()
    expect(staff_link).to_be_visible()
    assert_accessible(page, widths=(1280,))
    page.keyboard.press("Escape")
    expect(staff_link).to_be_hidden()
    nav.get_by_text("Verwaltung").click()
    staff_link.click()
    expect(page).to_have_url(re.compile(r"/konto/mitarbeiter/$"))

    # phone: the menu is behind "Menü"
    page.set_viewport_size(PHONE)
    page.goto("/")
    toggle = nav.locator(".nav-toggle")
    expect(toggle).to_be_visible()
    expect(nav.get_by_role("link", name="Abrechnung", exact=True)).to_be_hidden()
    toggle.click()
    expect(nav.get_by_role("link", name="Abrechnung", exact=True)).to_be_visible()
    assert_accessible(page, widths=(390,))
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390


def test_employed_doctor_sees_only_his_pages(page):
    practice = BetriebsstaetteFactory(mvz=True)
    doctor = doctor_account(practice, Role.ANGESTELLT, Right.DOCS_LANR)
    login(page, doctor.username, PASSWORD)
    nav = page.get_by_role("navigation", name="Hauptnavigation")
    nav.get_by_text("Verwaltung").click()
    expect(nav.get_by_role("link", name="Zugriffsprotokoll")).to_be_visible()
    for hidden in ("Praxispersonal", "API-Zugänge", "Abrechnung"):
        assert nav.get_by_role("link", name=hidden).count() == 0, hidden
    # his only task: confirming his e-mail address (issue 14), nothing about billing
    expect(page.get_by_role("link", name="E-Mail-Adresse bestätigen")).to_be_visible()
    assert_accessible(page)

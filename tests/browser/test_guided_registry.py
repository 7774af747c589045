"""Issue 14 journeys: the Arztregister's own registry pages (search, create a Betriebsstätte
with field errors, edit, end a Tätigkeit through the confirmation step with a reason), the
refusal confirmation of an access application, the eHBA checklist and the e-mail state on the
profile – axe-core at 1280 and 390 px, 0 violations."""

from __future__ import annotations

import contextlib
import datetime as dt

from django.utils import timezone
from playwright.sync_api import expect

from kvportal.accounts.constants import Right, StaffRole
from kvportal.members.constants import Role
from tests.browser.axe import assert_accessible, assert_no_horizontal_scroll
from tests.browser.conftest import login
from tests.browser.test_access_journey import staff_session
from tests.factories import (
    PASSWORD,
    BetriebsstaetteFactory,
    TaetigkeitFactory,
    doctor_account,
    kv_staff,
)


def _focused_id(page) -> str:
    return page.evaluate(
        "() => document.activeElement && (document.activeElement.id || "
        "document.activeElement.getAttribute('data-error-summary') !== null && 'summary')"
    )


def test_registry_pages_and_confirmation_step(page, live_server):
    practice = BetriebsstaetteFactory(name="MVZ Elbaue")
    t = TaetigkeitFactory(
        betriebsstaette=practice,
        role=Role.AERZTLICHER_LEITER,
        valid_from=timezone.localdate() - dt.timedelta(days=200),
    )
    staff_session(page, live_server, kv_staff(StaffRole.ARZTREGISTER, username="kv.register"))
    page.goto("/arztregister/kv/betriebsstaetten/")
    expect(page.locator("#practices")).to_contain_text(practice.bsnr)
    page.get_by_label("Suche").fill("elbaue")
    page.get_by_role("button", name="Suchen").click()
    expect(page.locator("#practices tbody tr")).to_have_count(1)
    assert_accessible(page)
    # create with errors: summary gets the focus, errors at the fields
    page.get_by_role("link", name="Betriebsstätte anlegen").click()
    page.get_by_label("BSNR").fill("12")
    page.locator("#practice-save").click()
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(page.locator("#id_bsnr_error")).to_be_visible()
    assert_accessible(page)
    assert_no_horizontal_scroll(page)
    # the person's page and the confirmation step for ending the Tätigkeit
    page.goto(f"/arztregister/kv/personen/{t.person_id}/")
    expect(page.locator("#taetigkeiten")).to_contain_text("Ärztlicher Leiter")
    assert_accessible(page)
    page.get_by_role("link", name="Beenden …").click()
    expect(page.locator("#confirm-consequence")).to_contain_text(practice.bsnr)
    assert_accessible(page)
    assert_no_horizontal_scroll(page)
    page.locator("#confirm-submit").click()
    expect(page.locator("#id_reason_error")).to_contain_text("Begründung")
    expect(page.locator("[data-error-summary]")).to_be_focused()
    page.get_by_label("Begründung").fill("Wechsel an eine andere Praxis")
    page.get_by_label("Ich habe die Folgen gelesen und möchte fortfahren.").check()
    page.locator("#confirm-submit").click()
    expect(page.locator("#taetigkeiten")).not_to_contain_text("Beenden …")
    page.goto(f"/arztregister/kv/taetigkeiten/{t.pk}/bearbeiten/")
    expect(page.locator("#history")).to_contain_text("Begründung: Wechsel an eine andere Praxis")
    assert_accessible(page)


def test_access_refusal_confirmation(page, live_server):
    from tests.access.test_views import ready_application

    app, _p, _l, _a = ready_application(lambda **kw: contextlib.nullcontext())
    staff_session(page, live_server, kv_staff(StaffRole.ARZTREGISTER, username="kv.register2"))
    page.goto(f"/zugang/kv/antraege/{app.pk}/")
    page.get_by_role("link", name="Ablehnen …").click()
    expect(page.locator("#confirm-consequence")).to_contain_text("keine Konten")
    assert_accessible(page)
    assert_no_horizontal_scroll(page)
    page.get_by_label("Begründung").fill("Keine vertragsärztliche Tätigkeit in Sachsen.")
    page.get_by_label("Ich habe die Folgen gelesen und möchte fortfahren.").check()
    page.locator("#confirm-submit").click()
    expect(page.locator("#application-status")).to_contain_text("Abgelehnt")
    expect(page.locator("#history")).to_contain_text("Keine vertragsärztliche Tätigkeit")
    assert_accessible(page)


def test_ehba_checklist_and_email_state(page, live_server):
    doctor = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    login(page, doctor.username, PASSWORD)
    page.goto("/ehba/einrichtung/")
    expect(page.locator("#ehba-status-line")).to_contain_text("Keine Karte registriert")
    # no agent runs in the test: the page says so after asking /status
    expect(page.locator("[data-ehba-check=agent]")).to_contain_text("nicht erreichbar")
    assert_accessible(page)
    page.goto("/konto/profil/")
    expect(page.locator("#email-state")).to_contain_text("nicht bestätigt")
    assert_accessible(page)

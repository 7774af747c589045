"""Whole path of issue 3: online application with three people, their confirmations, approval
by the Arztregister, credential letter PDF, first login with the letter's password, forced
change, rights on the start page."""

from __future__ import annotations

import re

from django.conf import settings as django_settings
from django.core import mail
from django.test import Client
from playwright.sync_api import expect

from kvportal.accounts.constants import StaffRole
from kvportal.core.pdf import pdf_text
from tests.access.helpers import codes_by_email, mvz_world
from tests.browser.axe import assert_accessible, assert_no_horizontal_scroll
from tests.browser.conftest import login
from tests.conftest import otp_verify
from tests.factories import kv_staff


def staff_session(page, live_server, user):
    """Log KV staff in past TOTP (covered by the foundation's own tests) via the session cookie."""
    client = Client()
    client.force_login(user)
    otp_verify(client, user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )


def test_application_to_first_login(page, live_server, settings, browser):
    practice, leiter, arzt = mvz_world()
    mail.outbox.clear()

    # 1. public entry page, no account
    page.goto("/zugang/beantragen/")
    page.get_by_label("Medizinisches Versorgungszentrum (MVZ)").check()
    page.get_by_label("E-Mail-Adresse für den Link").fill("kontakt@mvz.example")
    page.get_by_role("button", name="Antrag beginnen").click()
    expect(
        page.get_by_role("heading", name=re.compile("Antrag auf Online-Zugang OZ-"))
    ).to_be_visible()

    # 2. the form: MVZ header + three people (Geschäftsführer, ÄL, employed doctor)
    assert_accessible(page)
    # one card per person, no sideways scrolling on a phone; the Praxisform is not asked again
    assert_no_horizontal_scroll(page)
    expect(page.locator("#variant-chosen")).to_contain_text("MVZ")
    assert page.locator("[name=variant]:not([type=hidden])").count() == 0
    assert page.locator(".person-card").count() >= 3  # the persons an MVZ needs
    page.get_by_label("Name des MVZ / der Praxis").fill(practice.name)
    page.get_by_label("Betriebsstättennummer (BSNR)").fill(practice.bsnr)
    page.get_by_label("Träger des MVZ (z. B. GmbH)").fill("MVZ Träger GmbH")
    rows = [
        ("Gross", "Gerd", "gf@traeger.example", ""),
        (leiter.last_name, leiter.first_name, "leitung@mvz.example", leiter.lanr),
        (arzt.last_name, arzt.first_name, "arzt@mvz.example", arzt.lanr),
    ]
    for i, (last, first, email, lanr) in enumerate(rows):
        page.locator(f"[name=p-{i}-last_name]").fill(last)
        page.locator(f"[name=p-{i}-first_name]").fill(first)
        page.locator(f"[name=p-{i}-email]").fill(email)
        page.locator(f"[name=p-{i}-lanr]").fill(lanr)
    page.locator("[name=p-0-listed]").check()
    page.locator("[name=p-0-right_docs_bsnr]").check()  # Geschäftsführer: all documents
    page.locator("[name=p-1-right_docs_bsnr]").check()  # ÄL: billing comes automatically
    page.locator("[name=p-2-right_docs_lanr]").check()
    page.get_by_role("button", name="Zwischenspeichern").click()
    expect(page.get_by_text("Der Entwurf wurde gespeichert.")).to_be_visible()
    page.get_by_role("button", name="Weiter zur Prüfung").click()
    # the acknowledgement is missing: reported at the field
    expect(page.get_by_text("Bitte korrigieren Sie zuerst")).to_be_visible()
    page.get_by_role("link", name="Zurück zum Bearbeiten").click()
    error = page.locator("#id_acknowledge_error")
    expect(error.get_by_text("Bitte bestätigen Sie, dass Sie die Hinweise")).to_be_visible()
    # ... and linked from the summary, which has the focus
    expect(page.locator("[data-error-summary] a[href='#id_acknowledge']")).to_be_visible()
    assert_accessible(page)
    page.get_by_label(re.compile("Ich habe die Hinweise zu Sicherheit")).check()
    page.get_by_role("button", name="Weiter zur Prüfung").click()
    expect(page.locator("#summary-persons")).to_contain_text("Abrechnung automatisch")
    assert_accessible(page)
    page.get_by_role("button", name="Zur Bestätigung absenden").click()
    expect(page.locator("#application-status")).to_contain_text("Wartet auf Bestätigungen")
    expect(page.get_by_text("Es fehlen noch 3 Bestätigungen.")).to_be_visible()
    assert_accessible(page)
    status_url = page.url

    # 3. every person confirms with the code from his e-mail (own browser context each)
    codes = codes_by_email()
    assert set(codes) == {"gf@traeger.example", "leitung@mvz.example", "arzt@mvz.example"}
    for token, code in codes.values():
        ctx = browser.new_context(locale="de-DE", base_url=live_server.url)
        other = ctx.new_page()
        other.goto(f"/zugang/bestaetigen/{token}/")
        assert_accessible(other)
        other.get_by_label("Bestätigungscode aus der E-Mail").fill(code)
        other.get_by_role("button", name="Antrag bestätigen").click()
        expect(other.locator("#confirm-done")).to_be_visible()
        ctx.close()
    page.goto(status_url)
    expect(page.locator("#application-status")).to_contain_text("Eingereicht")
    reference = re.search(r"/antrag/(OZ-[0-9-]+)/", status_url).group(1)

    # 4. the Arztregister approves and prints the letter
    staff_ctx = browser.new_context(locale="de-DE", base_url=live_server.url, accept_downloads=True)
    staff = staff_ctx.new_page()
    staff_session(staff, live_server, kv_staff(StaffRole.ARZTREGISTER, username="kv.register"))
    staff.goto("/zugang/kv/antraege/")
    staff.get_by_role("link", name=reference).click()
    staff.get_by_role("button", name="Genehmigen und Konten anlegen").click()
    expect(staff.locator("#application-status")).to_contain_text("Genehmigt")
    rows = staff.locator("#letters tbody tr")
    expect(rows).to_have_count(3)  # Geschäftsführer, ÄL, employed doctor
    assert_accessible(staff)
    leiter_row = rows.filter(has_text=leiter.last_name.lower()[:5])
    with staff.expect_download() as download_info:
        leiter_row.get_by_role("button", name="Drucken (PDF)").click()
    with open(download_info.value.path(), "rb") as handle:
        pdf = handle.read()
    staff_ctx.close()
    text = pdf_text(pdf)
    assert "Zugangsdaten zum Mitgliederportal" in text
    assert practice.name in text and practice.street in text
    assert "Konventionen für Ihr Passwort" in text and "Gültig bis" in text
    username = re.search(r"Nutzername (\S+)", text).group(1)
    password = re.search(r"Initialpasswort (\S+)", text).group(1)

    # 5. first login with the letter's password, forced change, rights on the start page
    page.context.clear_cookies()
    login(page, username, password)
    expect(page.locator("#forced-change")).to_be_visible()
    page.get_by_label("Bisheriges Passwort").fill(password)
    page.locator("#id_new_password1").fill("Mond-Stern!7x-Elbe")
    page.locator("#id_new_password2").fill("Mond-Stern!7x-Elbe")
    page.get_by_role("button", name="Passwort ändern").click()
    expect(page.get_by_role("heading", name="Meine Praxis")).to_be_visible()
    rights = page.locator("#practice-rights")
    expect(rights).to_contain_text(practice.bsnr)
    expect(rights).to_contain_text("Abgabe der Abrechnung")
    expect(rights).to_contain_text("BSNR-bezogen")
    expect(page.locator("#billing-opens")).to_be_visible()
    assert_accessible(page)

"""Journey (issue 14 defect 2): the Erklärung zur Abrechnung is given on its own page for a
quarter with an accepted file — never blind from the overview; refused without the tick, with
the error tied to the checkbox; afterwards the receipt; an employed doctor sees who gives it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from playwright.sync_api import expect

from kvportal.accounts.constants import Right
from kvportal.billing import services
from kvportal.core.pdf import pdf_text
from kvportal.core.quarters import Quarter
from kvportal.kvdt import generate
from kvportal.members.constants import Role
from tests.browser.conftest import login
from tests.factories import PASSWORD, BetriebsstaetteFactory, doctor_account

pytestmark = pytest.mark.browser


def test_declaration_only_for_the_accepted_quarter(page, transactional_db):
    practice = BetriebsstaetteFactory()
    doctor = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING)
    employed = doctor_account(practice, Role.ANGESTELLT, Right.BILLING)
    quarter = Quarter.of(timezone.localdate()).previous()
    name = f"Z01{practice.bsnr}_05.01.2026_10.00.con"
    services.receive_submission(
        actor=employed,
        betriebsstaette=practice,
        quarter=quarter,
        upload=ContentFile(generate(6, seed=4, quarter=quarter, bsnr=practice.bsnr), name=name),
        filename=name,
    )  # fmt: skip  (autocommit: the check ran after the commit)

    login(page, doctor.username, PASSWORD)
    page.goto("/abrechnung/")
    expect(page.locator("main input[type=checkbox]")).to_have_count(0)
    row = page.locator(f"[data-quarter='{quarter.slug}']")
    older = page.locator(f"[data-quarter='{quarter.previous().slug}']")
    expect(older.get_by_role("link", name="Erklärung abgeben")).to_have_count(0)
    row.get_by_role("link", name="Erklärung abgeben").click()

    expect(page).to_have_url(re.compile(rf"/abrechnung/erklaerung/{practice.bsnr}/"))
    expect(page.locator("#declaration-text")).to_contain_text(practice.bsnr)
    expect(page.locator("#declaration-lanrs")).to_contain_text(doctor.person.lanr)
    expect(page.locator("#declaration-summary")).to_contain_text(name)
    page.get_by_role("button", name="Erklärung abgeben").click()  # without the tick
    expect(page.locator("#declaration-error")).to_contain_text("Häkchen")
    expect(page.locator("#declaration-confirm")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Ich gebe die Erklärung zur Abrechnung mit diesem Wortlaut ab.").check()
    page.get_by_role("button", name="Erklärung abgeben").click()
    expect(page.locator("#declaration-state")).to_contain_text("abgegeben")
    with page.expect_download() as download:
        page.locator("#declaration-receipt").click()
    receipt = pdf_text(Path(download.value.path()).read_bytes())
    assert practice.bsnr in receipt and str(quarter) in receipt

    page.get_by_role("button", name="Abmelden").click()
    login(page, employed.username, PASSWORD)
    page.goto(f"/abrechnung/erklaerung/{practice.bsnr}/{quarter.previous().slug}/")
    expect(page.locator("#declaration-form")).to_have_count(0)
    expect(page.locator("#declarers")).to_contain_text(doctor.person.full_name)
    expect(page.locator("#declaration-no-file")).to_contain_text("Was tun?")

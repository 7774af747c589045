"""Journey: a practice uploads its KVDT file, sees the protocol and downloads the receipt."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import timezone

from kvportal.accounts.constants import Right
from kvportal.core.pdf import pdf_text
from kvportal.core.quarters import Quarter
from kvportal.kvdt import generate
from kvportal.members.constants import Role
from tests.browser.axe import assert_accessible, assert_no_horizontal_scroll
from tests.browser.conftest import login
from tests.factories import PASSWORD, BetriebsstaetteFactory, doctor_account

pytestmark = pytest.mark.browser


def test_upload_protocol_receipt(page, transactional_db):
    practice = BetriebsstaetteFactory()
    user = doctor_account(practice, Role.ANGESTELLT, Right.BILLING)
    quarter = Quarter.of(timezone.localdate()).previous()
    content = generate(15, seed=3, quarter=quarter, bsnr=practice.bsnr)
    name = f"Z01{practice.bsnr}_05.01.2026_10.00.con"

    login(page, user.username, PASSWORD)
    page.goto("/abrechnung/einreichen/")
    assert_accessible(page)
    assert_no_horizontal_scroll(page)
    page.get_by_label("Betriebsstätte (BSNR)").select_option(str(practice.pk))
    page.get_by_label("Abrechnungsquartal").select_option(quarter.slug)
    page.get_by_label("Abrechnungsdatei").set_input_files(
        {"name": name, "mimeType": "application/octet-stream", "buffer": content}
    )
    page.get_by_role("button", name="Datei hochladen und prüfen").click()

    page.wait_for_url(re.compile(r"/abrechnung/einreichung/\d+/$"))
    page.locator("#accepted").wait_for()
    assert "Die Abrechnung ist angenommen." in page.locator("#accepted").inner_text()
    assert "0 – fehlerfrei" in page.locator("#check-result").inner_text()
    assert practice.bsnr in page.locator("#submission-facts").inner_text()
    assert "15" in page.locator("#check-stats").inner_text()
    assert_accessible(page)

    with page.expect_download() as download_info:
        page.locator("#receipt-link").click()
    receipt = pdf_text(Path(download_info.value.path()).read_bytes())
    assert (
        practice.bsnr in receipt and str(quarter) in receipt and name in receipt.replace("\n", "")
    )

    page.goto("/abrechnung/")
    assert page.locator(f"[data-quarter='{quarter.slug}']").get_by_text(name).count() == 1

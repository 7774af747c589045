"""axe-core over the main pages of each persona at 1280 and 390 px (0 violations), and no
horizontal scroll at 390 px on the forms."""

from __future__ import annotations

import pytest

from kvportal.accounts.constants import Right
from kvportal.members.constants import Role
from tests.browser.axe import assert_accessible, assert_no_horizontal_scroll
from tests.browser.conftest import login
from tests.factories import PASSWORD, BetriebsstaetteFactory, doctor_account

pytestmark = pytest.mark.browser

PUBLIC_PAGES = ["/anmelden/", "/zugang/beantragen/", "/gibt-es-nicht/"]
MEMBER_PAGES = [
    "/",
    "/abrechnung/",
    "/dokumente/",
    "/zugang/",
    "/zulassung/",
    "/konto/einstellungen/",
    "/konto/protokoll/",
    "/konto/mitarbeiter/",
    "/konto/api-zugaenge/",
]
FORMS = {"/anmelden/", "/zugang/beantragen/", "/konto/mitarbeiter/", "/konto/api-zugaenge/"}


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_accessible(page, path):
    page.goto(path)
    assert_accessible(page)
    if path in FORMS:
        assert_no_horizontal_scroll(page)


def test_member_pages_accessible(page):
    practice = BetriebsstaetteFactory(name="Praxis am Elbufer")
    user = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR)
    login(page, user.username, PASSWORD)
    for path in MEMBER_PAGES:
        page.goto(path)
        assert_accessible(page)
        if path in FORMS:
            assert_no_horizontal_scroll(page)

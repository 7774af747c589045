"""Journey: an admission application is signed by its two signatories with their eHBA (QES)
through the local signing agent, and is then complete."""

from __future__ import annotations

from kvportal.admission.signing import LABEL as ADMISSION_LABEL
from tests.browser.axe import assert_accessible
from tests.browser.conftest import login
from tests.browser.test_ehba_login import agent_for, issue_card, pki  # noqa: F401 (fixtures)
from tests.ehba.test_portal_admission import submitted_application
from tests.factories import PASSWORD


def sign_all(page, url):
    page.goto(url)
    page.get_by_role("button", name="Alle Dokumente mit eHBA signieren").click()
    page.wait_for_selector("text=Signatur geprüft und übernommen")
    page.wait_for_selector("#ehba-documents")  # reloaded


def test_two_signatories_sign_admission_application(page, agent_for, pki, tmp_path):  # noqa: F811
    application, leiterin, employee = submitted_application()
    url = f"/ehba/signieren/{ADMISSION_LABEL}/{application.pk}/"
    cards = tmp_path / "cards"

    first = agent_for(
        issue_card(pki, cards, given_name="Anna", surname="Berger", telematik_id="1-111")
    )
    login(page, leiterin.username, PASSWORD)
    sign_all(page, url)
    page.wait_for_selector("#ehba-incomplete")
    assert "Anna Berger" in page.locator("#ehba-documents").inner_text()
    assert_accessible(page)
    page.locator("#logout-button").click()
    first.shutdown()

    agent_for(
        issue_card(
            pki,
            cards,
            given_name="Erika",
            surname="Beispiel",
            telematik_id="1-222",
            lanr="123456701",
        )
    )
    login(page, employee.username, PASSWORD)
    sign_all(page, url)
    page.wait_for_selector("#ehba-complete")
    table = page.locator("#ehba-documents").inner_text()
    assert "Anna Berger" in table and "Erika Beispiel" in table
    application.refresh_from_db()
    assert application.state == "vollstaendig"
    assert application.signatories.get(user=employee).confirmation.method == "qes"

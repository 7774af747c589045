"""Journey (issue 16): a doctor writes an eArztbrief in the portal, signs it with her eHBA (QES)
through the local signing agent and sends it over KIM through the KIM agent; the colleague
opens it with his practice's SMC-B and sees the valid qualified signature; the receipt is
confirmed (Eingangsbestaetigung) and counted."""

from __future__ import annotations

import copy

import pytest

from kvportal.arztbrief.models import Arztbrief, Empfang
from kvportal.cardlib.agent import SigningAgent, SoftCardBackend
from kvportal.core.storage import private_storage
from kvportal.kim.agent_endpoints import KimAgent
from kvportal.kim.models import StoredMessage
from tests.arztbrief.conftest import PIN_SMC
from tests.arztbrief.conftest import kim_world as kim_world
from tests.browser.axe import assert_accessible, assert_no_horizontal_scroll
from tests.browser.conftest import login
from tests.browser.test_ehba_login import PINS, issue_card
from tests.browser.test_ehba_login import pki as pki
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _agents(settings, live_server, *, ehba_card, smcb_side, tmp_path, name):
    """Start the signing agent (eHBA) and the KIM agent (SMC-B); the CSP allows both."""
    started = []
    if ehba_card is not None:
        signing = SigningAgent(
            SoftCardBackend(ehba_card.card_id, directory=ehba_card.path.parent.parent),
            allowed_origins=[live_server.url],
            pin_provider=lambda pin_name, prompt: PINS[pin_name],
            port=0,
            log=lambda line: None,
        )
        settings.EHBA_AGENT_URL = signing.start()
        started.append(signing)
    path = tmp_path / f"{name}.json"
    path.write_bytes(private_storage.open(smcb_side.card.card_file).read())
    kim = KimAgent(path, origins=[live_server.url], pin=lambda: PIN_SMC, port=0)
    settings.KIM_AGENT_URL = kim.start()
    started.append(kim)
    csp = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    csp["DIRECTIVES"]["connect-src"] = ["'self'", settings.EHBA_AGENT_URL, settings.KIM_AGENT_URL]
    settings.CONTENT_SECURITY_POLICY = csp
    return started


def test_doctor_writes_signs_and_sends_colleague_sees_valid_signature(
    page,
    browser,
    live_server,
    settings,
    tmp_path,
    pki,
    kim_world,
):
    author, colleague = kim_world
    settings.EHBA_TEST_PKI_DIR = str(pki.directory)
    ehba_card = issue_card(
        pki, tmp_path / "cards", given_name="Anna", surname="Müller", telematik_id="1-555"
    )
    agents = _agents(
        settings, live_server, ehba_card=ehba_card, smcb_side=author, tmp_path=tmp_path, name="a"
    )
    try:
        login(page, author.doctor.username, PASSWORD)
        page.goto("/arztbrief/")
        page.get_by_role("link", name="Brief schreiben").click()
        page.get_by_label("Empfänger (KIM-Adressen aus dem Verzeichnis)").fill(
            colleague.account.address
        )
        page.get_by_label("Bezeichnung für Ihre Liste").fill("Befundbericht")
        page.get_by_label("Patient/in: Name").fill("Erika Testfall")
        page.get_by_label("Patient/in: Geburtsdatum").fill("1970-01-01")
        page.get_by_label("Betreff des Briefs").fill("Mitbehandlung")
        page.get_by_label("Brieftext").fill("Sehr geehrter Herr Kollege,\n\nanbei der Befund.")
        assert_accessible(page)
        assert_no_horizontal_scroll(page)
        page.get_by_role("button", name="Brief speichern").click()
        page.wait_for_selector("text=Der Brief ist gespeichert")
        page.get_by_role("button", name="Mit eHBA qualifiziert signieren (QES)").click()
        page.get_by_role("button", name="Alle Dokumente mit eHBA signieren").click()
        page.wait_for_selector("text=Signatur geprüft und übernommen")
        letter = Arztbrief.objects.get()
        page.goto(f"/arztbrief/{letter.pk}/")
        assert "bereit zum Versand" in page.locator("#arztbrief-state").inner_text()
        assert_accessible(page)
        page.get_by_role("button", name="Über KIM versenden").click()
        page.wait_for_selector("text=Der eArztbrief ist signiert und verschlüsselt versandt")
    finally:
        for agent in agents:
            agent.shutdown()
    letter.refresh_from_db()
    assert letter.state == "versandt" and letter.pdf_path == ""
    inbox = StoredMessage.objects.get(account=colleague.account, folder="inbox")
    assert b"Testfall" not in private_storage.open(inbox.path).read()

    context = browser.new_context(locale="de-DE", base_url=live_server.url)
    context.set_default_timeout(15000)
    page_b = context.new_page()
    agents = _agents(
        settings, live_server, ehba_card=None, smcb_side=colleague, tmp_path=tmp_path, name="b"
    )
    try:
        login(page_b, colleague.doctor.username, PASSWORD)
        page_b.goto("/arztbrief/eingang/")
        page_b.get_by_role("link", name=author.account.address).click()
        page_b.get_by_role("button", name="Mit Karte öffnen und Signatur prüfen").click()
        page_b.wait_for_selector("text=Qualifizierte Signatur gültig.")
        report = page_b.locator("[data-arztbrief-report]").inner_text()
        assert "Anna Müller" in report and "gültig" in report
        assert page_b.get_by_role("link", name=f"earztbrief-{letter.pk}.pdf").count() == 1
        assert_accessible(page_b)
    finally:
        for agent in agents:
            agent.shutdown()
        context.close()
    receipt = Empfang.objects.get()
    assert receipt.valid_qes and receipt.confirmation_sent
    answer = StoredMessage.objects.get(account=author.account, folder="inbox")
    assert answer.dienstkennung == "Arztbrief;Eingangsbestaetigung;V1.2"

"""Journey (issue 15): a practice orders its SMC-B, activates it and gets a KIM account; a doctor
of another practice finds it in the Kollegensuche and sends a message with an attachment through
the local KIM agent; the first practice reads it in the web mailbox through its agent."""

from __future__ import annotations

import copy

import pytest
from playwright.sync_api import expect

from kvportal.accounts.constants import Right, StaffRole
from kvportal.core.storage import private_storage
from kvportal.kim import services
from kvportal.kim.agent_endpoints import KimAgent
from kvportal.kim.models import KimAccount, SmcbCard, SmcbOrder, StoredMessage
from kvportal.members.constants import Role
from tests.browser.conftest import login
from tests.factories import PASSWORD, BetriebsstaetteFactory, doctor_account, kv_staff

PIN = "482913"
SUBJECT = "Mitbehandlung (synthetisch)"


@pytest.fixture
def kim_settings(settings, tmp_path):
    settings.KIM_TSP_DIR = tmp_path / "tsp"
    settings.KIM_DOMAIN = "kv-sachsen.kim.example"


def _agent(settings, live_server, card: SmcbCard, tmp_path, name: str) -> KimAgent:
    path = tmp_path / f"{name}.json"
    path.write_bytes(private_storage.open(card.card_file).read())
    agent = KimAgent(path, origins=[live_server.url], pin=lambda: PIN, port=0)
    url = agent.start()
    settings.KIM_AGENT_URL = url
    csp = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    csp["DIRECTIVES"]["connect-src"] = ["'self'", url]
    settings.CONTENT_SECURITY_POLICY = csp
    return agent


def test_order_smcb_get_account_receive_message_with_attachment(
    page, browser, live_server, settings, kim_settings, tmp_path
):
    registrar = kv_staff(StaffRole.ARZTREGISTER, username="kv.register.kim")
    practice = BetriebsstaetteFactory(name="Praxis Müller", city="Leipzig")
    mueller = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR)

    # 1. the practice orders its SMC-B (prefilled from the register)
    login(page, mueller.username, PASSWORD)
    page.goto("/kim/")
    page.get_by_role("link", name="SMC-B bestellen").click()
    assert page.get_by_label("Ort").input_value() == "Leipzig"
    page.get_by_label("E-Mail für Rückfragen").fill("praxis@praxis.example")
    page.get_by_label("Ich bestätige").check()
    page.get_by_role("button", name="Verbindlich bestellen").click()
    page.wait_for_selector("text=Die SMC-B ist bestellt")

    # 2. the KV confirms, the test TSP issues (PIN letter by post)
    order = SmcbOrder.objects.get(betriebsstaette=practice)
    services.confirm_order(actor=registrar, order=order)
    issued = services.issue_card(actor=registrar, order=order)

    # 3. the practice activates the card with the transport PIN and requests an account
    page.goto("/kim/")
    page.get_by_role("link", name="SMC-B freischalten").click()
    page.get_by_label("Transport-PIN aus dem PIN-Brief").fill(issued.pin)
    page.locator("#id_act-new_pin").fill(PIN)
    page.get_by_label("Neue PIN.SMC wiederholen").fill(PIN)
    page.get_by_role("button", name="Freischalten").click()
    page.wait_for_selector("text=Die SMC-B ist freigeschaltet")
    page.get_by_role("link", name="KIM-Postfach beantragen").click()
    page.get_by_label("Gewünschte Adresse (vor dem @)").fill("praxis-mueller")
    page.get_by_role("button", name="Beantragen").click()
    page.wait_for_selector("text=Das KIM-Postfach ist beantragt")
    account = KimAccount.objects.get(address="praxis-mueller@kv-sachsen.kim.example")
    services.register_account(actor=registrar, account=account)

    # a doctor of another practice with its own mailbox
    other_practice = BetriebsstaetteFactory(name="Praxis Schulz", city="Dresden")
    schulz = doctor_account(other_practice, Role.VERTRAGSARZT, Right.BILLING)
    order_b = services.order_smcb(
        actor=schulz,
        betriebsstaette=other_practice,
        practice_name="Praxis Schulz",
        street="Weg 2",
        postal_code="01067",
        city="Dresden",
        contact_email="s@praxis.example",
    )
    services.confirm_order(actor=registrar, order=order_b)
    issued_b = services.issue_card(actor=registrar, order=order_b)
    card_b = services.activate_card(
        actor=schulz, card=issued_b.card, transport_pin=issued_b.pin, new_pin=PIN
    )
    box_b = services.request_practice_account(
        actor=schulz, betriebsstaette=other_practice, local_part="praxis-schulz"
    )
    services.register_account(actor=registrar, account=box_b)

    # 4. without an agent the page says so
    settings.KIM_AGENT_URL = "http://127.0.0.1:9"
    context_b = browser.new_context(locale="de-DE", base_url=live_server.url)
    context_b.set_default_timeout(15000)
    page_b = context_b.new_page()
    login(page_b, schulz.username, PASSWORD)
    page_b.goto("/kim/kollegensuche/?q=Müller")
    field = page_b.locator("input.kim-address")
    assert field.first.input_value() == "praxis-mueller@kv-sachsen.kim.example"
    agent_b = _agent(settings, live_server, card_b, tmp_path, "schulz")
    try:
        page_b.get_by_role("link", name="Nachricht schreiben").first.click()
        assert page_b.get_by_label("An (KIM-Adressen").input_value() == account.address
        page_b.get_by_label("Betreff").fill(SUBJECT)
        page_b.get_by_label("Nachricht").fill("Liebe Kollegin,\nanbei der Befund.")
        page_b.set_input_files(
            "#kim-files",
            files=[
                {"name": "befund.txt", "mimeType": "text/plain", "buffer": b"Befund synthetisch"}
            ],
        )
        page_b.get_by_role("button", name="Signieren, verschlüsseln und senden").click()
        page_b.wait_for_selector("text=Die Nachricht ist verschlüsselt versendet")
    finally:
        agent_b.shutdown()
        context_b.close()
    stored = StoredMessage.objects.get(account=account)
    assert SUBJECT.encode() not in private_storage.open(stored.path).read()

    # 5. the first practice reads it through its own agent
    card_a = SmcbCard.objects.get(betriebsstaette=practice)
    page.goto("/kim/postfach/")
    assert "ungelesen" in page.locator("#kim-messages").inner_text()
    page.get_by_role("link", name=box_b.address).click()
    settings.KIM_AGENT_URL = "http://127.0.0.1:9"
    page.reload()
    page.get_by_role("button", name="Mit Karte entschlüsseln und lesen").click()
    page.wait_for_selector("text=Kein KIM-Agent erreichbar")
    agent_a = _agent(settings, live_server, card_a, tmp_path, "mueller")
    try:
        page.reload()
        page.get_by_role("button", name="Mit Karte entschlüsseln und lesen").click()
        page.wait_for_selector(f"text={SUBJECT}")
        assert "anbei der Befund" in page.locator("[data-kim-text]").inner_text()
        assert "Signatur gültig" in page.locator("[data-kim-signature]").inner_text()
        with page.expect_download() as download:
            page.get_by_role("link", name="befund.txt").click()
        assert download.value.suggested_filename == "befund.txt"

        # 6. reply: the agent decrypts the original to quote it, signs and encrypts the answer
        page.get_by_role("link", name="Antworten").click()
        expect(page.locator("#kim-subject")).to_have_value(f"Re: {SUBJECT}")
        assert page.get_by_label("An (KIM-Adressen").input_value() == box_b.address
        assert "> anbei der Befund." in page.locator("#kim-text").input_value()
        page.get_by_role("button", name="Signieren, verschlüsseln und senden").click()
        page.wait_for_selector("text=Die Nachricht ist verschlüsselt versendet")

        # 7. subject search: the agent decrypts the headers, the page filters (term stays local)
        page.goto("/kim/postfach/")
        term = SUBJECT.split()[-1]
        page.get_by_label("Betreff durchsuchen").fill(term)
        page.get_by_role("button", name="Betreff suchen").click()
        page.wait_for_selector("text=1 Treffer im Betreff.")
        expect(page.locator("#kim-subject-results")).to_contain_text(SUBJECT)
        page.get_by_label("Betreff durchsuchen").fill("gibt es nicht")
        page.get_by_role("button", name="Betreff suchen").click()
        page.wait_for_selector("text=Kein Treffer im Betreff.")
    finally:
        agent_a.shutdown()
    reply = StoredMessage.objects.get(account=box_b, folder="inbox")
    assert reply.sender == account.address

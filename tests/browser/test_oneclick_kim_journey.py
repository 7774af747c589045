"""Journey (issue 16): a practice's 1-Click billing, sent by its practice software over KIM
(sealed with the practice's SMC-B as its client module does, delivered into the KV's billing
mailbox), is taken like an upload; the practice gets the Eingangsbestätigung and the
Rückmeldung with the protocol by KIM, sees both in the web mailbox, reads the protocol through
its local KIM agent (KV signature valid) and finds the submission with the channel "KIM"."""

from __future__ import annotations

import copy

import pytest
from django.utils import timezone

from kvportal.accounts.constants import Right, StaffRole
from kvportal.billing.models import Submission
from kvportal.core.quarters import Quarter
from kvportal.core.storage import private_storage
from kvportal.kim import inbound
from kvportal.kim.agent_endpoints import KimAgent
from kvportal.kim.models import SmcbCard
from kvportal.kvdt import generate
from kvportal.members.constants import Role
from kvportal.oneclick import begleitdatei as bd
from tests.browser.axe import assert_accessible
from tests.browser.conftest import login
from tests.factories import PASSWORD, BetriebsstaetteFactory, doctor_account, kv_staff
from tests.oneclick import kimhelpers as kh

pytestmark = pytest.mark.browser


@pytest.fixture
def kim_settings(settings, tmp_path):
    settings.KIM_TSP_DIR = tmp_path / "tsp"
    settings.KIM_STORE_DIR = str(tmp_path / "store")
    settings.KIM_DOMAIN = "kv-sachsen.kim.example"
    settings.KIM_SERVICE_BILLING_ADDRESS = kh.KV
    settings.KIM_SERVICE_CARD = ""
    settings.KIM_SERVICE_TEST_PKI = True


def _agent(settings, live_server, card: SmcbCard, tmp_path) -> KimAgent:
    path = tmp_path / "praxis.json"
    path.write_bytes(private_storage.open(card.card_file).read())
    agent = KimAgent(path, origins=[live_server.url], pin=lambda: kh.PIN, port=0)
    url = agent.start()
    settings.KIM_AGENT_URL = url
    csp = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    csp["DIRECTIVES"]["connect-src"] = ["'self'", url]
    settings.CONTENT_SECURITY_POLICY = csp
    return agent


def test_oneclick_billing_over_kim_gets_receipt_and_protocol(
    page, live_server, settings, kim_settings, tmp_path
):
    registrar = kv_staff(StaffRole.ARZTREGISTER, username="kv.register.oneclick")
    practice = BetriebsstaetteFactory(name="Praxis Müller", city="Leipzig")
    mueller = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR)
    account, card = kh.activated_practice_account(mueller, practice, registrar, "praxis-mueller")

    # the practice software sends the billing of the quarter just ended over KIM
    quarter = Quarter.of(timezone.localdate()).previous()
    now = timezone.localtime()
    name = f"Z01{practice.bsnr}_{now:%d.%m.%Y_%H.%M}.con"
    begleit = bd.Begleitdatei(
        bsnr=practice.bsnr,
        quartal=quarter,
        testdaten=False,
        anhaenge=(name,),
        lieferungs_zeitpunkt=now,
    )
    content = generate(6, seed=3, quarter=quarter, bsnr=practice.bsnr)
    kh.drop(
        kh.seal_delivery(
            card=kh.pem_card(card),
            sender=account.address,
            files={bd.FILENAME: bd.build(begleit), name: content},
        )
    )
    assert inbound.poll() == 1  # the KV's beat job; the check runs in-process
    submission = Submission.objects.get()

    # both answers are in the practice's web mailbox
    login(page, mueller.username, PASSWORD)
    page.goto("/kim/postfach/")
    table = page.locator("#kim-messages").inner_text()
    assert "1ClickAbrechnung;Eingangsbestaetigung;V2.0" in table
    assert "1ClickAbrechnung;Rueckmeldung;V2.0" in table
    assert table.count(kh.KV) == 2
    assert_accessible(page)

    # the protocol, read through the practice's local KIM agent
    agent = _agent(settings, live_server, SmcbCard.objects.get(betriebsstaette=practice), tmp_path)
    try:
        page.reload()
        row = page.locator("#kim-messages tr", has_text="Rueckmeldung")
        row.get_by_role("link", name=kh.KV).click()
        page.get_by_role("button", name="Mit Karte entschlüsseln und lesen").click()
        page.wait_for_selector("[data-kim-text]:has-text('Prüfprotokoll')")
        text = page.locator("[data-kim-text]").inner_text()
        assert f"Eingangsnummer {submission.pk}" in text
        assert submission.get_state_display() in text
        assert "Signatur gültig" in page.locator("[data-kim-signature]").inner_text()
        pdf_name = f"Pruefprotokoll_{practice.bsnr}_{submission.quarter}_{submission.pk}.pdf"
        with page.expect_download() as download:
            page.get_by_role("link", name=pdf_name).click()
        assert download.value.suggested_filename == pdf_name
        assert_accessible(page)
    finally:
        agent.shutdown()

    # billing shows the submission with the channel KIM
    page.goto(f"/abrechnung/einreichung/{submission.pk}/")
    assert f"{mueller.person.first_name}" in page.content()
    assert "(KIM)" in page.locator("body").inner_text()
    assert_accessible(page)

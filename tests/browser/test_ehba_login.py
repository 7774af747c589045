"""Journey: a doctor registers his eHBA and logs in with it through the local signing agent."""

from __future__ import annotations

import copy

import pytest

from kvportal.cardlib.agent import SigningAgent, SoftCardBackend
from kvportal.cardlib.softcard import PinType, SoftCard
from kvportal.cardlib.testpki import TestPKI
from tests.browser.axe import assert_accessible
from tests.browser.conftest import login
from tests.factories import PASSWORD, PersonFactory, UserFactory

PINS = {"PIN.CH": "123456", "PIN.QES": "654321"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return TestPKI.create(tmp_path_factory.mktemp("ehba-browser") / "pki")


def issue_card(pki, directory, *, given_name, surname, telematik_id, lanr="123456601"):
    card, _ = SoftCard.issue(
        pki,
        lanr=lanr,
        given_name=given_name,
        surname=surname,
        profession="arzt",
        telematik_id=telematik_id,
        directory=directory,
        transport_pins={PinType.CH: "000001", PinType.QES: "000002"},
    )
    card.change_pin(PinType.CH, "000001", PINS["PIN.CH"])
    card.change_pin(PinType.QES, "000002", PINS["PIN.QES"])
    return card


@pytest.fixture
def agent_for(settings, live_server, pki):
    """`agent_for(card)` starts the signing agent for that card on a free port."""
    settings.EHBA_TEST_PKI_DIR = str(pki.directory)
    started = []

    def start(card):
        agent = SigningAgent(
            SoftCardBackend(card.card_id, directory=card.path.parent.parent),
            allowed_origins=[live_server.url],
            pin_provider=lambda name, prompt: PINS[name],
            port=0,
            log=lambda line: None,
        )
        url = agent.start()
        started.append(agent)
        settings.EHBA_AGENT_URL = url
        csp = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
        csp["DIRECTIVES"]["connect-src"] = ["'self'", url]
        settings.CONTENT_SECURITY_POLICY = csp
        return agent

    yield start
    for agent in started:
        agent.shutdown()


def test_register_card_then_log_in_with_it(page, agent_for, pki, tmp_path):
    person = PersonFactory(first_name="Anna", last_name="Müller", profession="arzt")
    user = UserFactory(person=person, first_name="Anna", last_name="Müller")
    card = issue_card(
        pki, tmp_path / "cards", given_name="Anna", surname="Müller", telematik_id="1-114123456789"
    )
    agent_for(card)

    login(page, user.username, PASSWORD)
    page.goto("/ehba/registrieren/")
    page.get_by_role("button", name="eHBA registrieren").click()
    page.wait_for_selector("text=ist registriert")
    assert "1-114123456789" in page.locator("#ehba-current").inner_text()
    assert_accessible(page)

    page.locator("#logout-button").click()
    page.goto("/ehba/anmelden/?next=/ehba/registrieren/")
    page.get_by_role("button", name="Mit eHBA anmelden").click()
    page.wait_for_selector("text=Sie sind mit Ihrem eHBA angemeldet")
    assert page.url.endswith("/ehba/registrieren/")
    assert "Anna Müller" in page.locator(".user-box").inner_text()


def test_card_login_refused_for_unregistered_card(page, agent_for, pki, tmp_path):
    card = issue_card(
        pki, tmp_path / "cards", given_name="Bernd", surname="Schulz", telematik_id="1-114999"
    )
    agent_for(card)
    page.goto("/ehba/anmelden/")
    page.get_by_role("button", name="Mit eHBA anmelden").click()
    error = page.locator("#ehba-error")
    error.wait_for()
    assert "nicht registriert" in error.inner_text()
    assert_accessible(page)

"""Trust configuration: production trust anchors are PEM files (settings), the test PKI is a
demo/test switch (EHBA_TEST_PKI). docs/ehba.md "Trust"."""

from __future__ import annotations

import pytest

from kvportal.cardlib.certs import cert_to_pem
from kvportal.cardlib.ocsp_server import OcspServer
from kvportal.ehba import services
from tests.ehba.test_portal_login import assert_refused, card_login, register
from tests.factories import PersonFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def doctor():
    person = PersonFactory(first_name="Anna", last_name="Müller", profession="arzt")
    return UserFactory(person=person, first_name="Anna", last_name="Müller")


@pytest.fixture
def production(settings, pki, tmp_path):
    """Test PKI switched off; its HBA CA and root exported as the configured PEM anchors."""
    login_pem = tmp_path / "hba-ca.pem"
    login_pem.write_text(cert_to_pem(pki.hba_ca_cert))
    qes_dir = tmp_path / "qes"
    qes_dir.mkdir()
    (qes_dir / "root.pem").write_text(cert_to_pem(pki.root_cert))
    (qes_dir / "not-a-cert.key.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    settings.EHBA_TEST_PKI = False
    settings.EHBA_TEST_PKI_DIR = str(pki.directory)
    settings.EHBA_LOGIN_TRUST_ANCHORS = [str(login_pem)]
    settings.EHBA_QES_TRUST_ANCHORS = [str(qes_dir)]
    return settings


def test_pem_anchors_are_trusted_and_revocation_goes_to_ocsp(production, client, doctor, card, pki):
    with OcspServer(pki, port=0) as responder:
        production.EHBA_OCSP_URL = responder.url
        assert register(client, doctor, card).status_code == 302
        resp, _ = card_login(client, card)
        assert resp.status_code == 302
        client.logout()
    # the responder is gone: a production portal cannot fall back to the test PKI's state
    resp, _ = card_login(client, card)
    assert_refused(resp, "revocation_unknown", "Sperrstatus")


def test_pem_anchors_loaded_from_files_and_directories(production, pki):
    trust = services.get_trust()
    assert trust.login_anchors == [pki.hba_ca_cert]
    assert trust.qes_roots == [pki.root_cert]  # the key file in the directory is skipped
    assert "Test-PKI" not in trust.source


def test_test_pki_only_with_the_switch(settings, pki):
    settings.EHBA_TEST_PKI_DIR = str(pki.directory)
    settings.EHBA_TEST_PKI = True
    assert pki.hba_ca_cert in services.get_trust().login_anchors
    settings.EHBA_TEST_PKI = False
    with pytest.raises(services.ImproperlyConfiguredTrust, match="EHBA_TEST_PKI aus"):
        services.get_trust()


def test_nothing_configured_refuses_card_login(settings, client, doctor, card, pki):
    settings.EHBA_TEST_PKI_DIR = str(pki.directory)
    register(client, doctor, card)
    settings.EHBA_TEST_PKI = False
    resp, _ = card_login(client, card)
    assert_refused(resp, "not_configured", "nicht eingerichtet")


def test_missing_pem_file_is_named(production, tmp_path):
    missing = tmp_path / "fehlt.pem"
    production.EHBA_LOGIN_TRUST_ANCHORS = [str(missing)]
    with pytest.raises(services.ImproperlyConfiguredTrust) as exc:
        services.get_trust()
    assert "EHBA_LOGIN_TRUST_ANCHORS" in str(exc.value) and str(missing) in str(exc.value)


def test_unreadable_pem_file_is_named(production, tmp_path):
    broken = tmp_path / "kaputt.pem"
    broken.write_text("kein Zertifikat")
    production.EHBA_QES_TRUST_ANCHORS = [str(broken)]
    with pytest.raises(services.ImproperlyConfiguredTrust) as exc:
        services.get_trust()
    assert "EHBA_QES_TRUST_ANCHORS" in str(exc.value) and str(broken) in str(exc.value)

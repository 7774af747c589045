"""Issue 15: the personal (eHBA) mailbox through `kvportal card agent --kim`: the card agent
serves /kim/open and /kim/compose with its own software eHBA (RSA-2048; C.HP.ENC decrypts
after PIN.CH, C.HP.QES signs — the eHBA has no OSIG key) next to /login and /sign; a card
without RSA keys or no card at all gives a German message; the route is a plug-in of the
card library (ROUTE_PROVIDERS), which imports no KIM code."""

from __future__ import annotations

import base64
import http.client
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from kvportal.cardlib.agent import (
    ROUTE_PROVIDERS,
    SigningAgent,
    SoftCardBackend,
    fixed_pin_provider,
    load_routes,
)
from kvportal.cardlib.softcard import PinType, SoftCard
from kvportal.cardlib.testpki import TestPKI
from kvportal.kim import komle, mail

from .test_roundtrip import CLIENT_MAIL

PORTAL = "https://portal.kv.example"
PIN_CH, PIN_QES = "246810", "135790"
DOCTOR = "dr-anna-mueller@kv-sachsen.kim.example"
PRACTICE = "praxis-alpha@kv-sachsen.kim.example"


@pytest.fixture(scope="module")
def ehba_pki(tmp_path_factory) -> TestPKI:
    return TestPKI.create(tmp_path_factory.mktemp("kim-ehba") / "pki")


def _issue(pki: TestPKI, folder: Path, algorithm: str) -> SoftCard:
    card, _secrets = SoftCard.issue(
        pki, lanr="123456601", given_name="Anna", surname="Müller", profession="arzt",
        directory=folder, algorithm=algorithm,
        transport_pins={PinType.CH: "111222", PinType.QES: "333444"},
    )  # fmt: skip
    card.change_pin(PinType.CH, "111222", PIN_CH)
    card.change_pin(PinType.QES, "333444", PIN_QES)
    return card


def _agent(folder: Path, trust: list[str] | None = None, pins=f"{PIN_CH},{PIN_QES}"):
    agent = SigningAgent(
        SoftCardBackend(directory=folder), allowed_origins=[PORTAL], port=0,
        pin_provider=fixed_pin_provider(pins), log=lambda line: None,
    )  # fmt: skip
    agent.routes.update(load_routes(agent, ROUTE_PROVIDERS, {"trust": trust or []}))
    agent.start()
    return agent


def _post(agent, path, body):
    conn = http.client.HTTPConnection("127.0.0.1", agent.config.port, timeout=30)
    conn.request("POST", path, body=json.dumps(body).encode(),
                 headers={"Origin": PORTAL, "Content-Type": "application/json"})  # fmt: skip
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    return resp.status, data


def _pem(cert) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_ehba_composes_signs_with_qes_and_opens(ehba_pki, tmp_path, pki):
    card = _issue(ehba_pki, tmp_path / "cards", "rsa")
    agent = _agent(tmp_path / "cards")
    try:
        status, sent = _post(agent, "/kim/compose", {
            "from": DOCTOR, "to": [PRACTICE], "subject": "Befund", "text": "Synthetischer Text.",
            "certificates": {PRACTICE: [_pem(pki["alice"].cert)]},
            "attachments": [{"name": "befund.txt", "content_type": "text/plain",
                             "data": base64.b64encode(b"Anhang").decode()}],
        })  # fmt: skip
        assert status == 200, sent
        outer = base64.b64decode(sent["mail"])
        # the practice (recipient) opens it with its own key: the eHBA's QES key signed it
        decrypted = komle.decrypt(mail.decoded_body(mail.split(outer)), pki["alice"].key)
        verified = komle.verify(mail.decoded_body(mail.split(decrypted.content)),
                                trust=[ehba_pki.root_cert])  # fmt: skip
        assert verified.signature_valid
        assert verified.signer_subject and "Müller" in verified.signer_subject
        # the doctor reads the own sent copy through the agent (C.HP.ENC, PIN.CH)
        status, opened = _post(agent, "/kim/open", {"mail": sent["mail"]})
        assert status == 200, opened
        assert opened["subject"] == "Befund" and opened["text"].strip() == "Synthetischer Text."
        assert opened["attachments"][0]["name"] == "befund.txt"
        assert opened["signature_valid"] and opened["chain_valid"]  # own chain is trusted
    finally:
        agent.shutdown()
    assert card.status().pins[PinType.CH].status  # the card is still usable


def test_mail_from_a_practice_opens_with_the_ehba_and_its_trust_anchor(ehba_pki, tmp_path, pki):
    card = _issue(ehba_pki, tmp_path / "cards", "rsa")
    message = mail.build(
        CLIENT_MAIL, signer_key=pki["signer"].key, signer_cert=pki["signer"].cert,
        recipients=[(DOCTOR, card.enc_certificate)], chain=[pki["ca"].cert],
    )  # fmt: skip
    anchor = tmp_path / "smcb-ca.pem"
    anchor.write_text(_pem(pki["ca"].cert))
    body = {"mail": base64.b64encode(message).decode()}
    agent = _agent(tmp_path / "cards", trust=[str(anchor)])
    try:
        status, opened = _post(agent, "/kim/open", body)
        assert status == 200 and opened["signature_valid"] and opened["chain_valid"], opened
        assert "Synthetischer Testinhalt." in opened["text"]
    finally:
        agent.shutdown()
    untrusting = _agent(tmp_path / "cards")  # without the SMC-B CA: chain not verifiable
    try:
        status, opened = _post(untrusting, "/kim/open", body)
        assert status == 200 and opened["signature_valid"] and not opened["chain_valid"]
    finally:
        untrusting.shutdown()
    wrong_pin = _agent(tmp_path / "cards", pins="000000,000000")
    try:
        status, answer = _post(wrong_pin, "/kim/open", body)
        assert status == 403 and "PIN" in answer["fehler"]
    finally:
        wrong_pin.shutdown()


def test_a_mail_for_someone_else_is_refused_in_german(ehba_pki, tmp_path, pki):
    _issue(ehba_pki, tmp_path / "cards", "rsa")
    other = mail.build(CLIENT_MAIL, signer_key=pki["signer"].key, signer_cert=pki["signer"].cert,
                       recipients=[(PRACTICE, pki["alice"].cert)])  # fmt: skip
    agent = _agent(tmp_path / "cards")
    try:
        status, answer = _post(agent, "/kim/open", {"mail": base64.b64encode(other).decode()})
        assert status == 403 and answer["error"] == "not_recipient" and answer["fehler"]
    finally:
        agent.shutdown()


def test_ehba_without_rsa_keys_or_no_card_gives_a_german_message(ehba_pki, tmp_path):
    empty = _agent(tmp_path / "keine")
    try:
        status, answer = _post(empty, "/kim/open", {"mail": "eA=="})
        assert status >= 400 and answer["error"] == "no_card" and "eHBA" in answer["fehler"]
    finally:
        empty.shutdown()
    _issue(ehba_pki, tmp_path / "ecc", "brainpool")
    agent = _agent(tmp_path / "ecc")
    try:
        status, answer = _post(agent, "/kim/compose", {"from": DOCTOR, "to": [PRACTICE]})
        assert status == 503 and answer["error"] == "no_card" and "RSA" in answer["fehler"]
    finally:
        agent.shutdown()


def test_the_agent_without_kim_has_no_kim_routes(tmp_path):
    agent = SigningAgent(SoftCardBackend(directory=tmp_path), allowed_origins=[PORTAL], port=0,
                         log=lambda line: None)  # fmt: skip
    agent.start()
    try:
        status, _answer = _post(agent, "/kim/open", {"mail": "eA=="})
        assert status == 404
    finally:
        agent.shutdown()
    with pytest.raises(ValueError, match="nicht gefunden"):
        load_routes(agent, ["kvportal.gibtsnicht:routes"])


def test_card_agent_runs_the_client_module_with_the_same_ehba(ehba_pki, tmp_path, pki):
    """`--kim-client`: SMTPS/POP3S of the client module on 127.0.0.1 inside the card agent,
    PVS → client module (eHBA signs) → Fachdienst → client module (eHBA decrypts) → PVS."""
    import poplib
    import smtplib

    from kvportal.kim import fachdienst

    from .test_server_fachdienst import (
        ALPHA,
        BETA,
        PASSWORDS,
        accounts,
        free_port,
        running,
        server_tls,
    )

    card = _issue(ehba_pki, tmp_path / "cards", "rsa")
    server_ctx, client_ctx = tls_pair = server_tls(pki, tmp_path)
    (tmp_path / "ca.pem").write_text(_pem(pki["ca"].cert))
    (tmp_path / "vzd.json").write_text(json.dumps({
        ALPHA: {"certificates": [_pem(pki["alice"].cert)], "kim_version": "1.5"},
        BETA: {"certificates": [_pem(card.enc_certificate)], "kim_version": "1.5"},
    }))  # fmt: skip
    store = fachdienst.MailStore(tmp_path / "store")
    with running(store, accounts(), tls_pair) as fd:
        smtp_port, pop3_port = free_port(), free_port()
        (tmp_path / "cm.json").write_text(json.dumps({
            "address": BETA, "directory": str(tmp_path / "vzd.json"),
            "trust": [str(tmp_path / "ca.pem")], "fachdienst_ca": str(tmp_path / "ca.pem"),
            "tls_cert": str(tmp_path / "srv.crt"), "tls_key": str(tmp_path / "srv.key"),
            "smtp_port": smtp_port, "pop3_port": pop3_port,
        }))  # fmt: skip
        agent = SigningAgent(
            SoftCardBackend(directory=tmp_path / "cards"), allowed_origins=[PORTAL], port=0,
            pin_provider=fixed_pin_provider(f"{PIN_CH},{PIN_QES}"), log=lambda line: None,
        )  # fmt: skip
        agent.routes.update(
            load_routes(agent, ROUTE_PROVIDERS, {"client": str(tmp_path / "cm.json")})
        )
        try:
            pvs = smtplib.SMTP_SSL("127.0.0.1", smtp_port, timeout=30, context=client_ctx)
            pvs.login(f"{BETA}#127.0.0.1:{fd.smtp}#1#PVS#AP1", PASSWORDS[BETA])  # STARTTLS
            assert pvs.sendmail(BETA, [ALPHA], CLIENT_MAIL) == {}
            pvs.quit()
            (held,) = [m.read() for m in store.messages(ALPHA)]
            inner = komle.decrypt(mail.decoded_body(mail.split(held)), pki["alice"].key)
            verified = komle.verify(mail.decoded_body(mail.split(inner.content)), trust=[])
            assert verified.signature_valid and "Müller" in verified.signer_subject

            for_doctor = mail.build(
                CLIENT_MAIL, signer_key=pki["signer"].key, signer_cert=pki["signer"].cert,
                recipients=[(BETA, card.enc_certificate)], chain=[pki["ca"].cert],
            )  # fmt: skip
            store.deliver(BETA, for_doctor)
            box = poplib.POP3_SSL("127.0.0.1", pop3_port, timeout=30, context=client_ctx)
            box.user(f"{BETA}#127.0.0.1:{fd.pop3}#1#PVS#AP1#arzt#KON")
            box.pass_(PASSWORDS[BETA])
            received = b"\r\n".join(box.retr(1)[1])
            box.quit()
            assert b"X-KIM-DecryptionResult: erfolgreich" in received
            assert b"Synthetischer Testinhalt." in received
        finally:
            agent.shutdown()
    assert server_ctx is not None

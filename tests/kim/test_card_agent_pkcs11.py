"""Issue 15: the eHBA on a PKCS#11 token (SoftHSM2) in `kvportal card agent --pkcs11-lib … --kim`:
C.HP.ENC decrypts KIM mails with raw RSA on the token and OAEP-SHA-256 decoding in Python (the
keys never leave it), C.HP.QES signs the transport signature (RSASSA-PSS) on the token; wrong
PIN and a mail for someone else give German messages."""

from __future__ import annotations

import base64

import pytest

from kvportal.cardlib.agent import (
    ROUTE_PROVIDERS,
    Pkcs11Backend,
    SigningAgent,
    fixed_pin_provider,
    load_routes,
)
from kvportal.kim import komle, mail

from . import softhsm
from .softhsm import SOFTHSM_LIB
from .test_card_agent_kim import PORTAL, _pem, _post
from .test_roundtrip import CLIENT_MAIL

PIN = "56781234"
DOCTOR = "dr-token@kv-sachsen.kim.example"
PRACTICE = "praxis-alpha@kv-sachsen.kim.example"


@pytest.fixture(scope="module")
def ehba_token(pki, tmp_path_factory):
    """A token "eHBA-Token" with RSA keys and certificates "ENC" (bob) and "QES" (signer)."""
    yield from softhsm.token(
        tmp_path_factory, "eHBA-Token", PIN, {"QES": pki["signer"], "ENC": pki["bob"]}
    )


def _agent(pki, token_label, pins):
    from kvportal.cardlib.pkcs11 import Pkcs11Token

    token = Pkcs11Token(SOFTHSM_LIB, token_label, key_label="QES", ca_chain=[pki["ca"].cert])
    agent = SigningAgent(
        Pkcs11Backend(token), allowed_origins=[PORTAL], port=0,
        pin_provider=fixed_pin_provider(pins), log=lambda line: None,
    )  # fmt: skip
    agent.routes.update(load_routes(agent, ROUTE_PROVIDERS, {"trust": []}))
    agent.start()
    return agent


def _from_practice(pki, address: str, enc_holder) -> str:
    """A KIM mail signed by the practice (alice) for `address` (ENC certificate), base64."""
    raw = mail.build(
        CLIENT_MAIL,
        signer_key=pki["alice"].key,
        signer_cert=pki["alice"].cert,
        recipients=[(address, enc_holder.cert)],
    )
    return base64.b64encode(raw).decode()


def test_pkcs11_ehba_composes_on_the_token_and_opens_mail_for_it(pki, ehba_token):
    agent = _agent(pki, ehba_token, f"{PIN},{PIN}")
    try:
        status, built = _post(agent, "/kim/compose", {
            "from": DOCTOR, "to": [PRACTICE], "subject": "Befund (Token)", "text": "Hallo\n",
            "certificates": {PRACTICE: [_pem(pki["alice"].cert)]},
        })  # fmt: skip
        assert status == 200, built
        raw = base64.b64decode(built["mail"])
        # the practice opens it with its own key: signed on the token with the QES key
        inner = komle.decrypt(mail.decoded_body(mail.split(raw)), pki["alice"].key)
        verified = komle.verify(
            mail.decoded_body(mail.split(inner.content)), trust=[pki["ca"].cert]
        )
        assert verified.signature_valid and verified.chain_valid
        assert verified.signer_subject and "Praxis Test OSIG" in verified.signer_subject
        # the doctor's own copy opens through the token (raw RSA + OAEP decoding in Python)
        status, opened = _post(agent, "/kim/open", {"mail": built["mail"]})
        assert status == 200 and opened["subject"] == "Befund (Token)", opened
        # a mail from the practice for the doctor (ENC = bob's key on the token)
        status, opened = _post(
            agent, "/kim/open", {"mail": _from_practice(pki, DOCTOR, pki["bob"])}
        )
        assert status == 200 and opened["signature_valid"]
        # and one that is not addressed to the token's ENC key
        foreign = _from_practice(pki, PRACTICE, pki["mallory"])
        status, refused = _post(agent, "/kim/open", {"mail": foreign})
        assert status == 403 and refused["fehler"] and "Traceback" not in refused["fehler"]
    finally:
        agent.shutdown()


def test_pkcs11_ehba_wrong_pin_is_a_german_message(pki, ehba_token):
    agent = _agent(pki, ehba_token, "000000,000000")
    try:
        incoming = _from_practice(pki, DOCTOR, pki["bob"])
        status, refused = _post(agent, "/kim/open", {"mail": incoming})
        assert status == 403 and "PIN.CH" in refused["fehler"]
        status, refused = _post(agent, "/kim/compose", {
            "from": DOCTOR, "to": [PRACTICE], "text": "x",
            "certificates": {PRACTICE: [_pem(pki["alice"].cert)]},
        })  # fmt: skip
        assert status == 403 and "PIN.QES" in refused["fehler"]
    finally:
        agent.shutdown()

"""Card keys through PKCS#11 (SoftHSM2): raw RSA on the token + OAEP decoding in Python."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from kvportal.kim import clientmodule as cm
from kvportal.kim import komle, mail, pkcs11card

from . import softhsm
from .softhsm import SOFTHSM_LIB
from .test_roundtrip import CLIENT_MAIL
from .test_server_fachdienst import ALPHA, BETA

PIN = "123456"


def _oaep(label=None):
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label)


def _raw_decrypt(key, ciphertext: bytes) -> bytes:
    numbers = key.private_numbers()
    k = (key.key_size + 7) // 8
    value = pow(int.from_bytes(ciphertext, "big"), numbers.d, numbers.public_numbers.n)
    return value.to_bytes(k, "big")


@pytest.mark.parametrize("label", [None, b"KIM"])
def test_oaep_decoding_matches_the_standard(pki, label):
    key = pki["alice"].key
    secret = os.urandom(32)
    ciphertext = key.public_key().encrypt(secret, _oaep(label))
    em = _raw_decrypt(key, ciphertext)
    assert pkcs11card.oaep_decode(em, 256, label=label or b"") == secret
    assert pkcs11card.oaep_decode(em.lstrip(b"\x00"), 256, label=label or b"") == secret


def test_oaep_decoding_refuses_wrong_key_label_and_damage(pki):
    ciphertext = pki["alice"].key.public_key().encrypt(b"k" * 32, _oaep())
    wrong_key = _raw_decrypt(pki["bob"].key, ciphertext.rjust(256, b"\x00"))
    for em, label in ((wrong_key, b""), (_raw_decrypt(pki["alice"].key, ciphertext), b"x")):
        with pytest.raises(pkcs11card.CardKeyError, match="OAEP"):
            pkcs11card.oaep_decode(em, 256, label=label)
    damaged = bytearray(_raw_decrypt(pki["alice"].key, ciphertext))
    damaged[0] = 1
    with pytest.raises(pkcs11card.CardKeyError):
        pkcs11card.oaep_decode(bytes(damaged), 256)


@pytest.fixture(scope="module")
def token(pki, tmp_path_factory):
    yield from softhsm.token(
        tmp_path_factory, "SMC-B-Test", PIN, {"OSIG": pki["signer"], "ENC": pki["bob"]}
    )


def test_card_on_the_token_decrypts_and_signs(pki, token):
    card = pkcs11card.Pkcs11Card.open(SOFTHSM_LIB, token_label=token, pin=PIN)
    try:
        directory = cm.FileDirectory({BETA: [pki["bob"].cert]})
        sealed = cm.seal(
            CLIENT_MAIL, sender=ALPHA, recipients=[BETA], card=card, directory=directory
        )  # fmt: skip — signed on the token (PSS)
        trust = cm.Trust(anchors=[pki["ca"].cert])
        opened = cm.open_message(sealed.message, card=card, trust=trust)  # ENC on the token
        assert opened.decrypted and opened.integrity == "nicht prüfbar"  # no CRL given
        assert opened.message.endswith(CLIENT_MAIL)
        other = komle.encrypt(b"x", [(ALPHA, pki["alice"].cert)])
        with pytest.raises(komle.NotARecipientError):
            komle.decrypt(other, card.enc[0][1])
        signed = komle.sign(b"inhalt", card.osig_key, card.osig_cert)
        assert komle.verify(signed, trust=[pki["ca"].cert]).signature_valid
        assert mail.split(sealed.message).get("Subject") == "KOM-LE-Nachricht"
    finally:
        card.close()


def test_wrong_pin_is_a_german_error(token):
    with pytest.raises(pkcs11card.CardKeyError, match="PIN falsch"):
        pkcs11card.Pkcs11Card.open(SOFTHSM_LIB, token_label=token, pin="000000")


def test_cards_file_can_name_a_pkcs11_token(pki, token, tmp_path):
    import json

    from kvportal.kim import cli

    _key, ca_path = pki["ca"].write(tmp_path, "ca")
    tls_key, tls_cert = pki["alice"].write(tmp_path, "tls")
    (tmp_path / "pin").write_text(PIN + "\n")
    (tmp_path / "vzd.json").write_text("{}")
    entry = {"pkcs11": {"lib": SOFTHSM_LIB, "token": token, "pin_file": str(tmp_path / "pin")}}
    (tmp_path / "karten.json").write_text(json.dumps({BETA: entry}))
    args = cli.build_parser().parse_args(
        ["client", "--cards", str(tmp_path / "karten.json"), "--directory",
         str(tmp_path / "vzd.json"), "--trust", str(ca_path), "--fachdienst-ca", str(ca_path),
         "--tls-cert", str(tls_cert), "--tls-key", str(tls_key)]
    )  # fmt: skip
    module = cli._client_module(args)
    card = module.cards.card_for(cm.parse_user(f"{BETA}#h:995#M#C#W"))
    assert card.enc[0][0] == pki["bob"].cert and card.osig_cert == pki["signer"].cert
    card.close()
    (tmp_path / "pin").write_text("000000")
    with pytest.raises(cli._UsageError, match="PIN falsch"):
        cli._client_module(args)

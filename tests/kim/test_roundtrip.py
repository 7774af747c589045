"""Own encrypt+sign → decrypt+verify, with keys made from the clock the test runs under."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from asn1crypto import cms

from kvportal.kim import cli, komle, mail

CLIENT_MAIL = (
    b"From: Praxis Alpha <praxis-alpha@kv-test.kim.example>\r\n"
    b"To: Dr. Beta <dr-beta@kv-test.kim.example>\r\n"
    b"Subject: Befund\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"X-KIM-Dienstkennung: KIM-Mail;Default;V1.0\r\n\r\n"
    b"Synthetischer Testinhalt.\r\n"
)


def _recipients(pki):
    return [
        ("praxis-alpha@kv-test.kim.example", pki["alice"].cert),
        ("dr-beta@kv-test.kim.example", pki["bob"].cert),
    ]


def test_encrypt_uses_the_gemsmime_algorithms(pki):
    der = komle.encrypt(b"inhalt", _recipients(pki))
    aed = cms.ContentInfo.load(der)["content"]
    assert aed["auth_encrypted_content_info"]["content_encryption_algorithm"][
        "algorithm"
    ].dotted == ("2.16.840.1.101.3.4.1.46")
    for ri in aed["recipient_infos"]:
        params = ri.chosen["key_encryption_algorithm"]
        assert params["algorithm"].native == "rsaes_oaep"
        assert params["parameters"]["hash_algorithm"]["algorithm"].native == "sha256"
        assert (
            params["parameters"]["mask_gen_algorithm"]["parameters"]["algorithm"].native == "sha256"
        )
    assert len(aed["mac"].native) == 16
    assert aed["unauth_attrs"][0]["type"].dotted == "1.2.276.0.76.4.173"


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_every_recipient_decrypts(pki, who):
    der = komle.encrypt(b"inhalt", _recipients(pki))
    result = komle.decrypt(der, pki[who].key)
    assert result.content == b"inhalt"
    assert sorted(result.recipient_emails) == sorted(e for e, _ in _recipients(pki))  # DER SET OF


def test_wrong_key_is_refused(pki):
    der = komle.encrypt(b"inhalt", _recipients(pki))
    with pytest.raises(komle.NotARecipientError, match="keinem Empfänger"):
        komle.decrypt(der, pki["mallory"].key)


def test_tampered_ciphertext_is_refused(pki):
    der = bytearray(komle.encrypt(b"inhalt " * 20, _recipients(pki)))
    aed = cms.ContentInfo.load(bytes(der))["content"]
    ciphertext = aed["auth_encrypted_content_info"]["encrypted_content"].native
    pos = bytes(der).find(ciphertext) + 3
    der[pos] ^= 0x01
    with pytest.raises(komle.TamperedError, match="verändert"):
        komle.decrypt(bytes(der), pki["alice"].key)


def test_signature_verifies_against_the_ca(pki):
    der = komle.sign(b"inhalt", pki["signer"].key, pki["signer"].cert)
    result = komle.verify(der, trust=[pki["ca"].cert])
    assert result.signature_valid and result.chain_valid
    assert result.content == b"inhalt"
    si = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    assert si["signature_algorithm"]["algorithm"].native == "rsassa_pss"
    names = {a["type"].native for a in si["signed_attrs"]}
    assert {
        "signing_time",
        "message_digest",
        "signing_certificate_v2",
        "cms_algorithm_protection",
    } <= names


def test_signature_with_foreign_anchor_is_not_verifiable(pki):
    der = komle.sign(b"inhalt", pki["signer"].key, pki["signer"].cert)
    result = komle.verify(der, trust=[pki["alice"].cert])
    assert result.signature_valid and not result.chain_valid


def test_expired_signer_certificate_is_reported(pki):
    der = komle.sign(b"inhalt", pki["signer"].key, pki["signer"].cert)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=60)
    result = komle.verify(der, trust=[pki["ca"].cert], at=later)
    assert result.signature_valid and not result.chain_valid
    assert any("nicht gültig" in m for m in result.chain_messages)


def test_changed_content_breaks_the_signature(pki):
    der = komle.sign(b"inhalt-original", pki["signer"].key, pki["signer"].cert)
    forged = der.replace(b"inhalt-original", b"inhalt-gefaelst")
    assert forged != der
    result = komle.verify(forged, trust=[pki["ca"].cert])
    assert not result.signature_valid


def test_full_komle_mail_opens_with_the_cli(pki, tmp_path):
    message = mail.build(
        CLIENT_MAIL,
        signer_key=pki["signer"].key,
        signer_cert=pki["signer"].cert,
        recipients=_recipients(pki),
    )
    assert b"Subject: KOM-LE-Nachricht" in message
    assert b"smime-type=authenticated-enveloped-data" in message
    assert b"X-KIM-Dienstkennung: KIM-Mail;Default;V1.0" in message
    assert b"Synthetischer" not in message
    source = tmp_path / "mail.eml"
    source.write_bytes(message)
    key_path, _ = pki["bob"].write(tmp_path, "bob")
    _, ca_path = pki["ca"].write(tmp_path, "ca")
    target = tmp_path / "client.eml"
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(
        [
            "open",
            str(source),
            "--key",
            str(key_path),
            "--trust",
            str(ca_path),
            "--out",
            str(target),
        ],
        stdout=out,
        stderr=err,
    )
    assert code == cli.EXIT_OK, out.getvalue() + err.getvalue()
    assert target.read_bytes() == mail.RFC822_WRAP_HEADER + CLIENT_MAIL
    assert "Zertifikatskette gültig" in out.getvalue()
    assert "Subject: Befund" in out.getvalue()

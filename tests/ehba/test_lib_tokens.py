"""Login token: success (brainpool and RSA) and each refusal reason."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kvportal.cardlib.certs import OID_HBA_AUT, OID_POLICY_HBA_CP
from kvportal.cardlib.ocsp import ocsp_revocation_check
from kvportal.cardlib.ocsp_server import OcspServer
from kvportal.cardlib.softcard import PinBlocked, WrongPin
from kvportal.cardlib.testpki import generate_key
from kvportal.cardlib.tokens import LoginTokenError, sign_login_challenge, verify_login_token
from tests.ehba.conftest import PIN_CH

AUD = "https://portal.kv.test"
CHALLENGE = "c-7f3a9e"


def verify(token, pki, **kw):
    params = {
        "expected_challenge": CHALLENGE,
        "audience": AUD,
        "trust_anchors": pki.trust_anchors_login,
        "revocation_check": pki.revocation_check,
    }
    params.update(kw)
    return verify_login_token(token, **params)


def refused(token, pki, **kw) -> str:
    with pytest.raises(LoginTokenError) as exc:
        verify(token, pki, **kw)
    assert exc.value.message_de  # always a German message
    return exc.value.code


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(cert, key, payload, alg="BP256R1") -> str:
    header = {
        "alg": alg,
        "typ": "JWT",
        "x5c": [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()],
    }
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def custom_aut_cert(pki, key, *, policies, profession_oid="1.2.276.0.76.4.30"):
    """An AUT-like certificate signed by the test HBA CA with chosen policy/profession."""
    ca_key = pki._key("hba")
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.GIVEN_NAME, "Zora"),
            x509.NameAttribute(NameOID.SURNAME, "Zahn"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "16.80276001010000000099"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    adm = x509.Admissions(
        None,
        [
            x509.Admission(
                None,
                None,
                [
                    x509.ProfessionInfo(
                        None, ["Beruf"], [x509.ObjectIdentifier(profession_oid)], "2-1234", None
                    )
                ],
            )
        ],
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(pki.hba_ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=100))
        .add_extension(
            x509.KeyUsage(True, False, False, False, True, False, False, False, False), True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(p), None) for p in policies]
            ),
            False,
        )
        .add_extension(adm, False)
        .sign(ca_key, hashes.SHA256())
    )


def test_login_success_brainpool(card, pki):
    token = sign_login_challenge(card, PIN_CH, CHALLENGE, AUD)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "BP256R1"
    ident = verify(token, pki)
    assert ident.telematik_id == "1-114123456789"
    assert (ident.given_name, ident.surname) == ("Anna", "Müller")
    assert ident.profession == "arzt"
    assert ident.serial == f"16.{card.card_id}"
    assert ident.fingerprint == card.aut_certificate.fingerprint(hashes.SHA256()).hex()
    assert ident.not_after == card.aut_certificate.not_valid_after_utc
    assert ident.issuer == "TEST.HBA-CA1 TEST-ONLY"


def test_login_success_rsa_ps256(new_card, pki):
    card = new_card(algorithm="rsa", profession="psychotherapeut", telematik_id="4-14123")
    token = sign_login_challenge(card, PIN_CH, CHALLENGE, AUD)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "PS256"
    ident = verify(token, pki)
    assert ident.profession == "psychotherapeut"
    assert ident.telematik_id == "4-14123"


def test_login_with_ocsp_over_http(card, pki):
    token = sign_login_challenge(card, PIN_CH, CHALLENGE, AUD)
    with OcspServer(pki) as srv:
        assert verify(token, pki, revocation_check=ocsp_revocation_check(url=srv.url))
        card.revoke(pki)
        assert refused(token, pki, revocation_check=ocsp_revocation_check(url=srv.url)) == "revoked"


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", "a.b", _b64(b'{"alg":"BP256R1"}') + "." + _b64(b"{}") + ".AAAA"],
)
def test_malformed(token, pki):
    assert refused(token, pki) == "malformed"


def test_wrong_ca(new_card, foreign_pki, pki):
    foreign = new_card(pki_=foreign_pki)
    token = sign_login_challenge(foreign, PIN_CH, CHALLENGE, AUD)
    assert refused(token, pki) == "wrong_ca"
    # trusting only the QES CA (or the root) is not enough for login either
    assert refused(token, foreign_pki, trust_anchors=[foreign_pki.qes_ca_cert]) == "wrong_ca"


def test_bad_signature(card, pki):
    token = sign_login_challenge(card, PIN_CH, CHALLENGE, AUD)
    h, p, s = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(p + "=="))
    payload["challenge"] = "other"
    forged = h + "." + _b64(json.dumps(payload).encode()) + "." + s
    assert refused(forged, pki, expected_challenge="other") == "bad_signature"
    # signature by another key under the right certificate
    other = make_token(card.aut_certificate, generate_key(), {"challenge": CHALLENGE, "aud": AUD})
    assert refused(other, pki) == "bad_signature"
    # algorithm confusion
    confused = _b64(
        json.dumps({**json.loads(base64.urlsafe_b64decode(h + "==")), "alg": "PS256"}).encode()
    )
    assert refused(confused + "." + p + "." + s, pki) == "bad_signature"


def test_expired_and_not_yet_valid(new_card, pki):
    now = dt.datetime.now(dt.UTC)
    card = new_card(not_before=now - dt.timedelta(days=900), not_after=now - dt.timedelta(days=1))
    card.enforce_validity = False
    token = sign_login_challenge(card, PIN_CH, CHALLENGE, AUD)
    assert refused(token, pki) == "expired"
    future = new_card(not_before=now + dt.timedelta(days=3))
    future.enforce_validity = False
    token = sign_login_challenge(future, PIN_CH, CHALLENGE, AUD)
    assert refused(token, pki) == "not_yet_valid"


def test_qes_certificate_has_wrong_key_usage(card, pki):
    token = make_token(card.qes_certificate, card._key("qes"), {"challenge": CHALLENGE, "aud": AUD})
    anchors = [pki.hba_ca_cert, pki.qes_ca_cert]
    assert refused(token, pki, trust_anchors=anchors) == "wrong_key_usage"


def test_wrong_policy(pki):
    key = generate_key()
    cert = custom_aut_cert(pki, key, policies=["1.2.276.0.76.4.163"])
    token = make_token(cert, key, {"challenge": CHALLENGE, "aud": AUD})
    assert refused(token, pki, revocation_check=lambda c, i: "good") == "wrong_policy"


def test_wrong_profession(pki):
    key = generate_key()
    cert = custom_aut_cert(
        pki, key, policies=[OID_POLICY_HBA_CP, OID_HBA_AUT], profession_oid="1.2.276.0.76.4.31"
    )
    token = make_token(cert, key, {"challenge": CHALLENGE, "aud": AUD})
    assert refused(token, pki, revocation_check=lambda c, i: "good") == "wrong_profession"


def test_revoked(card, pki):
    token = sign_login_challenge(card, PIN_CH, CHALLENGE, AUD)
    card.revoke(pki)
    assert refused(token, pki) == "revoked"


def test_revocation_unknown(card, pki):
    token = sign_login_challenge(card, PIN_CH, CHALLENGE, AUD)
    assert refused(token, pki, revocation_check=lambda c, i: "unknown") == "revocation_unknown"
    unreachable = ocsp_revocation_check(url="http://127.0.0.1:9/ocsp")
    assert refused(token, pki, revocation_check=unreachable) == "revocation_unknown"


def test_wrong_challenge_or_audience(card, pki):
    token = sign_login_challenge(card, PIN_CH, CHALLENGE, AUD)
    assert refused(token, pki, expected_challenge="c-other") == "wrong_challenge"
    assert refused(token, pki, audience="https://evil.test") == "wrong_challenge"


def test_card_errors_surface_when_signing(card):
    with pytest.raises(WrongPin):
        sign_login_challenge(card, "000000", CHALLENGE, AUD)
    with pytest.raises(WrongPin):
        sign_login_challenge(card, "000000", CHALLENGE, AUD)
    with pytest.raises(PinBlocked):
        sign_login_challenge(card, "000000", CHALLENGE, AUD)

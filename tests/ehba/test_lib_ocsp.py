"""OCSP client checks: good/revoked over HTTP, untrusted responder, nonce, stale answers."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from kvportal.cardlib.ocsp import ocsp_revocation_check
from kvportal.cardlib.ocsp_server import OcspServer


def test_direct_form_over_http(card, pki):
    with OcspServer(pki) as srv:
        result = ocsp_revocation_check(card.aut_certificate, pki.hba_ca_cert, url=srv.url)
        assert result.status == "good"
        assert result.source == f"OCSP {srv.url}"
        card.revoke(pki)
        result = ocsp_revocation_check(card.qes_certificate, pki.qes_ca_cert, url=srv.url)
        assert result.status == "revoked" and result.revoked_at is not None


def test_aia_address_is_used_without_url(card, pki):
    seen = []

    def fetch(url, request):
        seen.append(url)
        return pki.ocsp_response(request)

    check = ocsp_revocation_check(fetch=fetch)
    assert check(card.aut_certificate, pki.hba_ca_cert).status == "good"
    assert seen == [pki.ocsp_url]


def test_response_signed_by_someone_else_is_not_trusted(card, pki, foreign_pki, new_card):
    foreign = new_card(pki_=foreign_pki, active=False)

    def fetch(url, request):
        # a responder answering "good" for our certificate, signed with a foreign CA key
        nonce = ocsp.load_der_ocsp_request(request).extensions.get_extension_for_class(
            x509.OCSPNonce
        )
        return (
            ocsp.OCSPResponseBuilder()
            .add_response(
                cert=card.aut_certificate,
                issuer=pki.hba_ca_cert,
                algorithm=hashes.SHA256(),
                cert_status=ocsp.OCSPCertStatus.GOOD,
                this_update=dt.datetime.now(dt.UTC),
                next_update=None,
                revocation_time=None,
                revocation_reason=None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, foreign_pki.hba_ca_cert)
            .add_extension(nonce.value, critical=False)
            .sign(foreign_pki._key("hba"), hashes.SHA256())
            .public_bytes(serialization.Encoding.DER)
        )

    result = ocsp_revocation_check(card.aut_certificate, pki.hba_ca_cert, fetch=fetch)
    assert result.status == "unknown" and "nicht vertrauenswürdig" in result.source
    assert foreign.card_id


def test_missing_nonce_and_stale_answers_are_unknown(card, pki):
    def no_nonce(url, request):
        req = ocsp.load_der_ocsp_request(request)
        plain = (
            ocsp.OCSPRequestBuilder()
            .add_certificate_by_hash(
                req.issuer_name_hash, req.issuer_key_hash, req.serial_number, req.hash_algorithm
            )
            .build()
        )
        return pki.ocsp_response(plain.public_bytes(serialization.Encoding.DER))

    result = ocsp_revocation_check(card.aut_certificate, pki.hba_ca_cert, fetch=no_nonce)
    assert result.status == "unknown" and "Nonce" in result.source
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    result = ocsp_revocation_check(
        card.aut_certificate, pki.hba_ca_cert, fetch=lambda u, r: pki.ocsp_response(r), now=later
    )
    assert result.status == "unknown" and "veraltet" in result.source


def test_unreachable_responder_and_missing_issuer(card, pki):
    result = ocsp_revocation_check(card.aut_certificate, pki.hba_ca_cert, url="http://127.0.0.1:9/")
    assert result.status == "unknown"
    with pytest.raises(ValueError):
        ocsp_revocation_check(card.aut_certificate)

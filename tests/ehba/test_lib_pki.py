"""Test PKI: certificate profiles C.HP.AUT/ENC/QES parsed back with cryptography, OCSP, CRL."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kvportal.cardlib import storage
from kvportal.cardlib.certs import (
    OID_ARZT,
    OID_HBA_AUT,
    OID_HBA_ENC,
    OID_HBA_QES,
    OID_POLICY_HBA_CP,
    OID_PSYCHOTHERAPEUT,
    OID_QC_COMPLIANCE,
    OID_QC_SSCD,
    OID_QCP_NATURAL_QSCD,
    OID_VALIDITY_MODEL_CHAIN,
    parse_card_certificate,
)
from kvportal.cardlib.testpki import TestPKI


def test_card_subject_is_one_multivalued_rdn_with_serial_number(card):
    cert = card.aut_certificate
    rdns = list(cert.subject.rdns)
    assert len(rdns) == 2
    first = {a.oid: a.value for a in rdns[0]}
    assert first[NameOID.GIVEN_NAME] == "Anna"
    assert first[NameOID.SURNAME] == "Müller"
    assert first[NameOID.COMMON_NAME] == "Anna Müller"
    assert first[NameOID.SERIAL_NUMBER] == f"16.{card.card_id}"
    assert {a.oid: a.value for a in rdns[1]} == {NameOID.COUNTRY_NAME: "DE"}
    # the same serialNumber in all three certificates (gemSpec_PKI)
    serials = {
        parse_card_certificate(c).serial_number
        for c in (card.aut_certificate, card.enc_certificate, card.qes_certificate)
    }
    assert serials == {f"16.{card.card_id}"}


def test_aut_profile_brainpool(card, pki):
    cert = card.aut_certificate
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert isinstance(cert.public_key().curve, ec.BrainpoolP256R1)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert ku.value.digital_signature and ku.value.key_agreement
    assert not ku.value.content_commitment and not ku.value.key_encipherment
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca is False
    profile = parse_card_certificate(cert)
    assert profile.policies == (OID_POLICY_HBA_CP, OID_HBA_AUT)
    assert profile.telematik_id == "1-114123456789"
    assert profile.profession_oids == (OID_ARZT,)
    assert profile.profession == "arzt"
    assert profile.ocsp_urls == (pki.ocsp_url,)
    assert profile.qc_statements == ()
    assert profile.issuer_cn == "TEST.HBA-CA1 TEST-ONLY"
    cert.verify_directly_issued_by(pki.hba_ca_cert)


def test_admission_extension_contents(card):
    adm = card.aut_certificate.extensions.get_extension_for_class(x509.Admissions).value
    assert isinstance(adm.authority, x509.DirectoryName)
    assert "Landesärztekammer" in adm.authority.value.rfc4514_string()
    (admission,) = list(adm)
    (info,) = admission.profession_infos
    assert info.profession_items == ["Ärztin/Arzt"]
    assert [o.dotted_string for o in info.profession_oids] == [OID_ARZT]
    assert info.registration_number == "1-114123456789"
    # GS-A_4901: identical Admission in all certificates of the card
    for cert in (card.enc_certificate, card.qes_certificate):
        assert cert.extensions.get_extension_for_class(x509.Admissions).value == adm


def test_enc_profile(card):
    profile = parse_card_certificate(card.enc_certificate)
    assert profile.key_usage == {"key_agreement"}
    assert profile.policies == (OID_POLICY_HBA_CP, OID_HBA_ENC)
    assert profile.ext_key_usage == ()


def test_qes_profile(card, pki):
    cert = card.qes_certificate
    profile = parse_card_certificate(cert)
    assert profile.key_usage == {"content_commitment"}
    assert set(profile.policies) == {OID_POLICY_HBA_CP, OID_HBA_QES, OID_QCP_NATURAL_QSCD}
    assert OID_QC_COMPLIANCE in profile.qc_statements
    assert OID_QC_SSCD in profile.qc_statements
    assert profile.validity_model == OID_VALIDITY_MODEL_CHAIN
    assert profile.issuer_cn == "TEST.HBA-qCA1 TEST-ONLY"
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    cert.verify_directly_issued_by(pki.qes_ca_cert)


def test_rsa_profiles(new_card):
    card = new_card(algorithm="rsa", active=False)
    aut = card.aut_certificate
    assert isinstance(aut.public_key(), rsa.RSAPublicKey)
    assert aut.public_key().key_size == 2048
    assert parse_card_certificate(aut).key_usage == {"digital_signature", "key_encipherment"}
    assert parse_card_certificate(card.enc_certificate).key_usage == {
        "key_encipherment",
        "data_encipherment",
    }
    assert parse_card_certificate(card.qes_certificate).key_usage == {"content_commitment"}


def test_psychotherapist_profession_oid(new_card):
    card = new_card(profession="psychotherapeut", telematik_id="4-14000111", active=False)
    profile = parse_card_certificate(card.aut_certificate)
    assert profile.profession_oids == (OID_PSYCHOTHERAPEUT,)
    assert profile.profession == "psychotherapeut"
    assert profile.telematik_id == "4-14000111"


def test_ca_hierarchy(pki):
    for ca in (pki.hba_ca_cert, pki.qes_ca_cert):
        ca.verify_directly_issued_by(pki.root_cert)
        bc = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
        assert bc.ca and bc.path_length == 0
    ou = pki.hba_ca_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    assert ou[0].value == "Heilberufsausweis-CA der Telematikinfrastruktur"
    qes_policies = parse_card_certificate(pki.qes_ca_cert).policies
    assert OID_QCP_NATURAL_QSCD in qes_policies


def test_pki_persists_and_reloads(pki):
    again = TestPKI.load(pki.directory)
    assert again.root_cert == pki.root_cert
    assert again.qes_ca_cert == pki.qes_ca_cert
    with pytest.raises(FileExistsError):
        TestPKI.create(pki.directory)


def test_load_or_create_uses_env_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("KVPORTAL_EHBA_DIR", str(tmp_path / "x"))
    assert storage.default_ehba_dir() == tmp_path / "x"
    created = TestPKI.load_or_create()
    assert created.directory == tmp_path / "x" / "pki"
    assert TestPKI.load_or_create().root_cert == created.root_cert


def _ocsp_request(cert, issuer, nonce=None):
    b = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    if nonce:
        b = b.add_extension(x509.OCSPNonce(nonce), critical=False)
    return b.build().public_bytes(serialization.Encoding.DER)


def test_ocsp_responder_good_revoked_unknown(new_card, pki, foreign_pki, card_dir):
    card = new_card(active=False)
    resp = ocsp.load_der_ocsp_response(
        pki.ocsp_response(_ocsp_request(card.qes_certificate, pki.qes_ca_cert, b"n0nce-123"))
    )
    assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"n0nce-123"
    pki.qes_ca_cert.public_key().verify(
        resp.signature, resp.tbs_response_bytes, ec.ECDSA(resp.signature_hash_algorithm)
    )
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    pki.revoke(card.qes_certificate, at=when)
    resp = ocsp.load_der_ocsp_response(
        pki.ocsp_response(_ocsp_request(card.qes_certificate, pki.qes_ca_cert))
    )
    assert resp.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert resp.revocation_time_utc == when
    # a certificate of another PKI's CA: not ours
    foreign = new_card(pki_=foreign_pki, active=False)
    resp = ocsp.load_der_ocsp_response(
        pki.ocsp_response(_ocsp_request(foreign.qes_certificate, foreign_pki.qes_ca_cert))
    )
    assert resp.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED
    assert (
        ocsp.load_der_ocsp_response(pki.ocsp_response(b"garbage")).response_status
        == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )


def test_revocation_is_irreversible_and_in_crl(new_card, pki):
    card = new_card(active=False)
    first = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    pki.revoke(card.aut_certificate, at=first)
    pki.revoke(card.aut_certificate, at=first + dt.timedelta(days=5))
    result = pki.revocation_check(card.aut_certificate, pki.hba_ca_cert)
    assert result.status == "revoked" and result.revoked_at == first
    assert pki.revocation_check(card.enc_certificate).status == "good"
    crl = x509.load_der_x509_crl(pki.crl("hba"))
    assert crl.get_revoked_certificate_by_serial_number(card.aut_certificate.serial_number)
    assert crl.get_revoked_certificate_by_serial_number(card.enc_certificate.serial_number) is None
    assert crl.is_signature_valid(pki.hba_ca_cert.public_key())


def test_revocation_check_unknown_for_foreign_certificate(pki, foreign_pki, new_card):
    foreign = new_card(pki_=foreign_pki, active=False)
    assert pki.revocation_check(foreign.aut_certificate).status == "unknown"


def test_load_pem_certificates_reads_files_and_directories(pki, tmp_path):
    from kvportal.cardlib.certs import cert_to_pem, load_pem_certificates

    (tmp_path / "a.pem").write_text(cert_to_pem(pki.root_cert) + cert_to_pem(pki.hba_ca_cert))
    (tmp_path / "b.key.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    single = tmp_path / "single.crt"
    single.write_text(cert_to_pem(pki.qes_ca_cert))
    assert load_pem_certificates([tmp_path, single]) == [
        pki.root_cert,
        pki.hba_ca_cert,
        pki.qes_ca_cert,
    ]
    with pytest.raises(ValueError, match=r"single\.txt"):
        (tmp_path / "single.txt").write_text("kein PEM")
        load_pem_certificates([tmp_path / "single.txt"])
    with pytest.raises(FileNotFoundError):
        load_pem_certificates([tmp_path / "fehlt.pem"])

"""PAdES validation: valid, tampered, modified after signing, not the portal's document,
foreign CA, revoked, expired, not a QES certificate, wrong signer, missing signatory."""

from __future__ import annotations

import datetime as dt
from io import BytesIO

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from kvportal.cardlib.ocsp import ocsp_revocation_check
from kvportal.cardlib.ocsp_server import OcspServer
from kvportal.cardlib.signing import sign_pdf
from kvportal.cardlib.validation import (
    RequiredSigner,
    VerificationReport,
    validate_pdf_signatures,
)
from tests.ehba.conftest import PIN_QES, make_pdf

ANNA = RequiredSigner("Anna", "Müller", "1-114123456789", label="Träger")
BERND = RequiredSigner("Bernd", "Schulz", "1-114000222", label="Ärztlicher Leiter")


@pytest.fixture
def anna(new_card):
    return new_card()


@pytest.fixture
def bernd(new_card):
    return new_card(
        given_name="Bernd", surname="Schulz", telematik_id="1-114000222", lanr="222222201"
    )


def check(pdf, original, pki, **kw):
    params = {
        "original": original,
        "trust_roots": pki.trust_roots,
        "revocation_check": pki.revocation_check,
        "required_signers": [ANNA, BERND],
    }
    params.update(kw)
    return validate_pdf_signatures(pdf, **params)


def codes(report, i=0):
    return set(report.signatures[i].problem_codes)


def test_two_valid_signatures_complete_the_document(anna, bernd, pki):
    original = make_pdf()
    signed = sign_pdf(bernd, sign_pdf(anna, original, pin=PIN_QES), pin=PIN_QES)
    report = check(signed, original, pki)
    assert report.verdict == "valid" and report.complete
    assert report.missing_signers == []
    first, second = report.signatures
    assert first.signer_name == "Anna Müller" and first.telematik_id == "1-114123456789"
    assert first.matched_signer["label"] == "Träger"
    assert second.signer_name == "Bernd Schulz"
    assert first.intact and first.covers_original and not first.modified_after
    assert first.qes_profile_ok and first.trusted
    assert first.revocation["status"] == "good"
    assert first.certificate_path == [
        "TEST.RCA1 TEST-ONLY",
        "TEST.HBA-qCA1 TEST-ONLY",
        "Anna Müller",
    ]
    assert first.signing_time is not None
    assert "gültig" in report.text_de()


def test_missing_signatory_makes_it_incomplete(anna, pki):
    original = make_pdf()
    report = check(sign_pdf(anna, original, pin=PIN_QES), original, pki)
    assert report.verdict == "incomplete" and not report.complete
    assert report.missing_signers == [BERND]
    assert report.signatures[0].verdict == "valid"
    assert "Bernd Schulz" in report.text_de()


def test_wrong_signer(anna, new_card, pki):
    original = make_pdf()
    eve = new_card(given_name="Eva", surname="Fremd", telematik_id="1-114666", lanr="666666601")
    signed = sign_pdf(eve, sign_pdf(anna, original, pin=PIN_QES), pin=PIN_QES)
    report = check(signed, original, pki)
    assert codes(report, 1) == {"wrong_signer"}
    assert report.signatures[1].verdict == "invalid"
    assert report.verdict == "incomplete"
    assert report.missing_signers == [BERND]


def test_same_telematik_id_but_other_name_is_not_the_signer(new_card, pki):
    original = make_pdf()
    impostor = new_card(given_name="Anne", surname="Müller")
    report = check(sign_pdf(impostor, original, pin=PIN_QES), original, pki)
    assert "wrong_signer" in codes(report)


def test_name_matching_rules(new_card, pki):
    original = make_pdf()
    signed = sign_pdf(new_card(), original, pin=PIN_QES)  # Anna Müller, 1-114123456789
    ok = [
        RequiredSigner("Anna Maria", "MÜLLER", "1-114123456789"),
        RequiredSigner("anna", "Muller", "1-114123456789"),
        RequiredSigner("Anna", "Müller", ""),  # no registered card: names decide
    ]
    for required in ok:
        report = check(signed, original, pki, required_signers=[required])
        assert report.verdict == "valid", required
    wrong = [
        RequiredSigner("Anna", "Müller", "1-114000999"),
        RequiredSigner("Maria", "Müller", "1-114123456789"),
        RequiredSigner("Anna", "Meier", ""),
    ]
    for required in wrong:
        report = check(signed, original, pki, required_signers=[required])
        assert codes(report) == {"wrong_signer"}, required
        assert report.missing_signers == [required]


def test_predicate_for_required_signers(anna, pki):
    original = make_pdf()
    signed = sign_pdf(anna, original, pin=PIN_QES)
    report = check(signed, original, pki, required_signers=lambda s: s.surname == "Müller")
    assert report.verdict == "valid"
    report = check(signed, original, pki, required_signers=lambda s: False)
    assert codes(report) == {"wrong_signer"}


def test_tampered_pdf(anna, pki):
    original = make_pdf("Antrag auf Zulassung")
    signed = sign_pdf(anna, original, pin=PIN_QES)
    tampered = signed.replace(b"(Antrag auf Zulassung)", b"(Antrag auf Ablehnung)")
    assert tampered != signed
    report = check(tampered, original, pki)
    assert "tampered" in codes(report)
    assert not report.signatures[0].intact
    assert report.verdict == "invalid"


def _change_content(pdf: bytes, text: bytes) -> bytes:
    w = IncrementalPdfFileWriter(BytesIO(pdf))
    page = w.root["/Pages"]["/Kids"][0].get_object()
    page["/Contents"] = w.add_object(
        generic.StreamObject(stream_data=b"BT /F1 14 Tf 50 750 Td (" + text + b") Tj ET")
    )
    w.update_container(page)
    out = BytesIO()
    w.write(out)
    return out.getvalue()


def test_content_changed_after_signing(anna, bernd, pki):
    original = make_pdf()
    signed = sign_pdf(anna, original, pin=PIN_QES)
    changed = _change_content(signed, b"Anderer Inhalt")
    report = check(changed, original, pki)
    assert "modified_after" in codes(report)
    assert report.verdict == "invalid"
    # a later signature on top of the changed content does not heal it
    report = check(sign_pdf(bernd, changed, pin=PIN_QES), original, pki)
    assert "modified_after" in codes(report, 0)
    assert report.verdict == "invalid"


def test_signed_document_is_not_the_portal_document(anna, pki):
    original = make_pdf("Antrag Nr. 1")
    other = sign_pdf(anna, make_pdf("Antrag Nr. 2"), pin=PIN_QES)
    assert "not_original" in codes(check(other, original, pki))
    # original bytes kept, but content changed before signing
    sneaky = sign_pdf(anna, _change_content(original, b"Anderer Inhalt"), pin=PIN_QES)
    report = check(sneaky, original, pki)
    assert "not_original" in codes(report)
    assert not report.signatures[0].covers_original


def test_foreign_ca(new_card, foreign_pki, pki):
    original = make_pdf()
    foreign = new_card(pki_=foreign_pki)
    report = check(sign_pdf(foreign, original, pin=PIN_QES), original, pki)
    assert "wrong_ca" in codes(report)
    assert not report.signatures[0].trusted
    assert report.verdict == "invalid"


def test_revoked(anna, pki):
    original = make_pdf()
    signed = sign_pdf(anna, original, pin=PIN_QES)
    anna.revoke(pki)
    report = check(signed, original, pki)
    assert codes(report) == {"revoked"}
    assert report.signatures[0].revocation["status"] == "revoked"
    assert report.verdict == "invalid"


def test_revocation_through_ocsp(anna, pki):
    original = make_pdf()
    signed = sign_pdf(anna, original, pin=PIN_QES)
    with OcspServer(pki) as srv:
        check_ = ocsp_revocation_check(url=srv.url)
        report = check(signed, original, pki, revocation_check=check_, required_signers=[ANNA])
        assert report.verdict == "valid"
        assert report.signatures[0].revocation["source"].startswith("OCSP http://127.0.0.1")
        anna.revoke(pki)
        report = check(signed, original, pki, revocation_check=check_, required_signers=[ANNA])
        assert codes(report) == {"revoked"}


def test_revocation_not_checked_is_indeterminate(anna, pki):
    original = make_pdf()
    signed = sign_pdf(anna, original, pin=PIN_QES)
    report = check(signed, original, pki, revocation_check=None, required_signers=[ANNA])
    assert report.verdict == "indeterminate"
    assert codes(report) == {"revocation_unknown"}


def test_expired_certificate(new_card, pki):
    now = dt.datetime.now(dt.UTC)
    card = new_card(not_before=now - dt.timedelta(days=800), not_after=now - dt.timedelta(days=2))
    card.enforce_validity = False
    original = make_pdf()
    report = check(sign_pdf(card, original, pin=PIN_QES), original, pki, required_signers=[ANNA])
    assert "expired" in codes(report)
    assert report.verdict == "invalid"


def test_signature_with_non_qes_certificate(anna, pki):
    """Signed with the AUT key/certificate: chains to the root, but is not C.HP.QES."""
    cert = asn1_x509.Certificate.load(anna.aut_certificate.public_bytes(serialization.Encoding.DER))
    key = asn1_keys.PrivateKeyInfo.load(
        anna._key("aut").private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    chain = [
        asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
        for c in (pki.hba_ca_cert, pki.root_cert)
    ]
    signer = signers.SimpleSigner(
        signing_cert=cert, signing_key=key, cert_registry=SimpleCertificateStore.from_certs(chain)
    )
    original = make_pdf()
    out = signers.sign_pdf(
        IncrementalPdfFileWriter(BytesIO(original)),
        signers.PdfSignatureMetadata(field_name="Signatur-1"),
        signer=signer,
    ).getvalue()
    report = check(out, original, pki, required_signers=[ANNA])
    assert "not_qes" in codes(report)
    assert report.verdict == "invalid"


def test_unsigned_and_broken_documents(pki):
    original = make_pdf()
    report = check(original, original, pki)
    assert report.verdict == "invalid"
    assert report.problems[0]["code"] == "no_signatures"
    assert report.missing_signers == [ANNA, BERND]
    report = check(b"kein pdf", original, pki)
    assert report.problems[0]["code"] == "not_a_pdf"


def test_report_round_trip(anna, pki):
    original = make_pdf()
    report = check(sign_pdf(anna, original, pin=PIN_QES), original, pki)
    data = report.to_dict()
    import json

    json.dumps(data)  # storable as JSON
    again = VerificationReport.from_dict(data)
    assert again.to_dict() == data
    assert again.verdict == "incomplete"
    assert data["verdict_de"] == "unvollständig (es fehlen Signaturen)"


def test_weasyprint_pdfa_document(anna, bernd, pki):
    """The portal's PDFs come from WeasyPrint (PDF/A-3b): sign twice, validate, then tamper."""
    weasyprint = pytest.importorskip("weasyprint")
    original = weasyprint.HTML(string="<h1>Antrag auf Zulassung</h1><p>Seite 1</p>").write_pdf(
        pdf_variant="pdf/a-3b"
    )
    signed = sign_pdf(bernd, sign_pdf(anna, original, pin=PIN_QES), pin=PIN_QES)
    assert check(signed, original, pki).verdict == "valid"
    changed = _change_content(signed, b"Anderer Inhalt")
    report = check(changed, original, pki)
    assert report.verdict == "invalid"
    assert all("modified_after" in s.problem_codes for s in report.signatures)

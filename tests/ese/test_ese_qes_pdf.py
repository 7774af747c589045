"""QES inside the eSE PDF over KIM (issue 16): when the signed PDF rendering `ese_….pdf` travels
with the eSE, the KV re-checks its qualified signature on receipt — valid (pyHanko), signed by
the doctor the declaration is for (name + Telematik-ID of the registered eHBA), a C.HP.QES
chaining to the QES trust anchors, not revoked, and naming the XML's SHA-256. A failure refuses
the delivery with a German answer that names the reason. Synthetic data; the QES test PKI is
built after the clock is frozen."""

from __future__ import annotations

import hashlib

import pytest

from kvportal.billing.models import Declaration, Submission
from kvportal.cardlib import signing
from kvportal.cardlib.testpki import TestPKI
from kvportal.core.storage import private_storage
from kvportal.oneclick import begleitdatei as bd
from kvportal.oneclick import ese_services
from kvportal.oneclick.models import Sammelerklaerung
from tests.ehba.conftest import PIN_QES, activate, issue, make_pdf
from tests.ese.conftest import TID, accepted_submission, con_file
from tests.ese.test_ese_kim import _refused, answer_texts, ese_xml, send


@pytest.fixture
def qes(world, settings, tmp_path):
    """A QES test PKI (the portal's eHBA trust) and the declaring doctor's eHBA with the
    Telematik-ID of his registered card; `other` is a colleague's eHBA."""
    pki = TestPKI.create(tmp_path / "qes-pki")
    settings.EHBA_TEST_PKI = True
    settings.EHBA_TEST_PKI_DIR = str(pki.directory)
    person = world["doctor"].person
    own, _secrets = issue(
        pki,
        tmp_path / "cards",
        given_name=person.first_name,
        surname=person.last_name,
        telematik_id=TID,
        lanr=person.lanr,
    )
    other, _secrets = issue(
        pki,
        tmp_path / "cards",
        given_name="Bernd",
        surname="Kollege",
        telematik_id="1-1-ARZT-ANDERER",
        lanr="999999901",
    )
    return {"pki": pki, "own": activate(own), "other": activate(other)}


def signed_pdf(card, xml: bytes, *, bind: bool = True) -> bytes:
    text = f"eSE SHA-256 {hashlib.sha256(xml).hexdigest()}" if bind else "eSE ohne Hashwert"
    return signing.sign_pdf(card, make_pdf(text), pin=PIN_QES)


def _deliver(world, capture, files, typ=bd.SAMMELERKLAERUNG) -> None:
    send(world, capture, files, typ)


def test_valid_qes_pdf_gives_the_declaration_with_its_evidence(
    world, qes, django_capture_on_commit_callbacks
):
    accepted_submission(world, django_capture_on_commit_callbacks)
    name, xml = ese_xml(world)
    pdf = signed_pdf(qes["own"], xml)
    pdf_name = ese_services.pdf_name_for(name)
    _deliver(world, django_capture_on_commit_callbacks, {name: xml, pdf_name: pdf})
    declaration = Declaration.objects.get()
    obj = Sammelerklaerung.objects.get()
    assert obj.declaration == declaration
    person = world["doctor"].person
    assert obj.qes_evidence["qes_telematik_id"] == TID
    assert person.last_name in obj.qes_evidence["qes_signer"]
    assert obj.qes_evidence["revocation"] == "good"
    assert declaration.evidence["qes_pdf_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert private_storage.open(obj.qes_pdf_path).read() == pdf
    (receipt,) = answer_texts(world)
    assert "Erklärung zur Abrechnung ist damit abgegeben" in receipt


def test_tampered_pdf_is_refused_naming_the_reason(world, qes, django_capture_on_commit_callbacks):
    accepted_submission(world, django_capture_on_commit_callbacks)
    name, xml = ese_xml(world)
    pdf = signed_pdf(qes["own"], xml)
    digest = hashlib.sha256(xml).hexdigest().encode()
    assert digest in pdf
    tampered = pdf.replace(digest, digest[::-1], 1)  # inside the signed byte range
    _deliver(
        world,
        django_capture_on_commit_callbacks,
        {name: xml, ese_services.pdf_name_for(name): tampered},
    )
    text = _refused(world, "ese")
    assert "qualifizierte Signatur der Sammelerklärung" in text
    assert "nach dem Signieren verändert" in text


def test_pdf_signed_by_another_doctor_is_refused(world, qes, django_capture_on_commit_callbacks):
    accepted_submission(world, django_capture_on_commit_callbacks)
    name, xml = ese_xml(world)
    pdf = signed_pdf(qes["other"], xml)
    _deliver(
        world, django_capture_on_commit_callbacks, {name: xml, ese_services.pdf_name_for(name): pdf}
    )
    text = _refused(world, "ese")
    assert "Bernd Kollege" in text and "nicht zu den für dieses Dokument vorgesehenen" in text
    assert f"LANR {world['doctor'].person.lanr}" in text


def test_revoked_qes_certificate_is_refused(world, qes, django_capture_on_commit_callbacks):
    accepted_submission(world, django_capture_on_commit_callbacks)
    name, xml = ese_xml(world)
    pdf = signed_pdf(qes["own"], xml)
    qes["pki"].revoke(qes["own"].qes_certificate)
    _deliver(
        world, django_capture_on_commit_callbacks, {name: xml, ese_services.pdf_name_for(name): pdf}
    )
    assert "gesperrt" in _refused(world, "ese")


def test_pdf_that_does_not_name_the_xml_hash_is_refused(
    world, qes, django_capture_on_commit_callbacks
):
    accepted_submission(world, django_capture_on_commit_callbacks)
    name, xml = ese_xml(world)
    pdf = signed_pdf(qes["own"], xml, bind=False)
    _deliver(
        world, django_capture_on_commit_callbacks, {name: xml, ese_services.pdf_name_for(name): pdf}
    )
    assert "bindet die XML-Datei daher nicht" in _refused(world, "ese")


def test_qes_evidence_carried_when_the_declaration_takes_effect_on_acceptance(
    world, qes, django_capture_on_commit_callbacks
):
    con_name, content = con_file(world)
    name, xml = ese_xml(world)
    pdf = signed_pdf(qes["own"], xml)
    _deliver(
        world,
        django_capture_on_commit_callbacks,
        {con_name: content, name: xml, ese_services.pdf_name_for(name): pdf},
        bd.ABRECHNUNG_UND_SAMMELERKLAERUNG,
    )
    assert Submission.objects.get().state == "accepted"
    declaration = Declaration.objects.get()
    assert declaration.evidence["qes_telematik_id"] == TID

"""QES on applications: validation service, stored Prüfprotokoll, signing flow and scope."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kvportal.accounts.constants import Right
from kvportal.audit.models import AccessLogEntry, Activity
from kvportal.cardlib import signing
from kvportal.cardlib.agent import SoftCardBackend, fixed_pin_provider
from kvportal.ehba import services
from kvportal.ehba.models import SignatureDocument, Verdict, VerificationReport
from kvportal.members.models import Betriebsstaette
from tests.ehba.conftest import PIN_QES, make_pdf
from tests.factories import BetriebsstaetteFactory, PersonFactory, UserFactory, grant

pytestmark = pytest.mark.django_db
LABEL = "members.betriebsstaette"


@pytest.fixture(autouse=True)
def trust(settings, pki):
    settings.EHBA_TEST_PKI_DIR = str(pki.directory)
    return pki


@pytest.fixture
def practice():
    return BetriebsstaetteFactory(name="BAG Müller & Schulz")


@pytest.fixture
def people(practice):
    anna_p = PersonFactory(first_name="Anna", last_name="Müller")
    bernd_p = PersonFactory(first_name="Bernd", last_name="Schulz")
    anna = UserFactory(person=anna_p, first_name="Anna", last_name="Müller")
    bernd = UserFactory(person=bernd_p, first_name="Bernd", last_name="Schulz")
    grant(anna, practice, Right.BILLING)
    grant(bernd, practice, Right.BILLING)
    return {"anna": anna, "bernd": bernd}


@pytest.fixture
def cards(new_card):
    return {
        "anna": new_card(),
        "bernd": new_card(given_name="Bernd", surname="Schulz", telematik_id="1-114555"),
    }


@pytest.fixture
def signable(people):
    """A test signable: a Betriebsstätte stands in for an application with two documents."""
    completed = []

    def documents(obj):
        return [
            services.SignableDocumentSpec(
                "antrag", "Antrag", lambda: make_pdf(f"Antrag {obj.bsnr}")
            ),
            services.SignableDocumentSpec("anlage", "Anlage", lambda: make_pdf("Anlage")),
        ]

    def required(obj):
        return [
            services.required_signer(person=people["anna"].person, label="Antragstellerin"),
            services.required_signer(name="Dr. med. Bernd Schulz", label="Gesellschafter"),
        ]

    spec = services.Signable(
        label="Testantrag",
        documents=documents,
        required_signers=required,
        queryset_for=lambda user: Betriebsstaette.objects.filter(
            portal_rights__user=user
        ).distinct(),
        on_complete=lambda *, actor, application: completed.append((actor, application)),
    )
    services.register_signable(LABEL, spec)
    spec.completed = completed
    yield spec
    services._signables.pop(LABEL, None)


def sign(card, pdf: bytes) -> bytes:
    return signing.sign_pdf(card, pdf, pin=PIN_QES)


# --- validation service -------------------------------------------------------------------------


def test_valid_signature_stores_report_with_signer_path_and_revocation(practice, people, cards):
    original = make_pdf("Erklärung")
    signed = sign(cards["anna"], original)
    required = [services.required_signer(person=people["anna"].person, label="Antragstellerin")]
    report = services.validate_signed_application_pdf(
        actor=people["anna"],
        original_pdf=original,
        signed_pdf=signed,
        required_signers=required,
        application=practice,
        document_title="Erklärung",
    )
    assert report.verdict == Verdict.VALID and report.complete
    assert report.application == practice
    check = report.signatures.get()
    assert check.signer_name == "Anna Müller"
    assert check.telematik_id == cards["anna"].telematik_id
    assert check.signing_time is not None
    assert len(check.certificate_path) == 3  # signer, qualified CA, root
    assert "HBA-qCA1" in check.certificate_path[1]
    assert check.revocation_status == "good"
    assert check.matched_signer == "Antragstellerin"
    assert AccessLogEntry.objects.filter(
        activity=Activity.SIGN, detail__ehba_report=report.pk
    ).exists()


def test_tampered_pdf_is_invalid(practice, people, cards):
    original = make_pdf("Erklärung")
    signed = bytearray(sign(cards["anna"], original))
    pos = signed.find(b"Erkl")
    signed[pos : pos + 4] = b"XXXX"
    report = services.validate_signed_application_pdf(
        actor=None,
        original_pdf=original,
        signed_pdf=bytes(signed),
        required_signers=[],
        application=practice,
    )
    assert report.verdict == Verdict.INVALID
    assert report.problems


def test_wrong_signer_and_missing_signatory(practice, people, cards):
    original = make_pdf("Erklärung")
    signed = sign(cards["bernd"], original)
    report = services.validate_signed_application_pdf(
        actor=None,
        original_pdf=original,
        signed_pdf=signed,
        required_signers=[services.required_signer(person=people["anna"].person)],
        application=practice,
    )
    # a stranger's signature does not spoil the document, but nobody required has signed
    assert report.verdict == Verdict.INCOMPLETE and not report.complete
    assert report.signatures.get().verdict == "invalid"
    assert "wrong_signer" in [p["code"] for p in report.signatures.get().problems]
    assert report.missing_signers == ["Anna Müller"]


def test_foreign_ca_signature_is_invalid(practice, people, new_card, foreign_pki):
    original = make_pdf("Erklärung")
    signed = sign(new_card(pki_=foreign_pki), original)
    report = services.validate_signed_application_pdf(
        actor=None,
        original_pdf=original,
        signed_pdf=signed,
        required_signers=[services.required_signer(person=people["anna"].person)],
        application=practice,
    )
    assert report.verdict == Verdict.INVALID


def test_split_name_drops_titles():
    assert services.split_name("Dr. med. Erika Muster") == ("Erika", "Muster")
    assert services.split_name("Muster-Lang, Anna Maria") == ("Anna Maria", "Muster-Lang")
    assert services.split_name("Prof. Dr. Hans Peter Schmidt") == ("Hans Peter", "Schmidt")


def test_required_signer_uses_registered_telematik_id(people, cards):
    from kvportal.ehba.models import CardRegistration

    anna = people["anna"]
    assert services.required_signer(person=anna.person).telematik_id == ""
    CardRegistration.objects.create(
        user=anna,
        person=anna.person,
        name="eHBA",
        telematik_id="1-114123456789",
        profession="arzt",
        holder_name="Anna Müller",
        certificate_fingerprint="x",
    )
    assert services.required_signer(person=anna.person).telematik_id == "1-114123456789"


# --- signing flow through the views ----------------------------------------------------------


def upload(client, document, pdf):
    return client.post(
        reverse("ehba:document_upload", args=[document.pk]),
        {"signed_pdf": SimpleUploadedFile("s.pdf", pdf, content_type="application/pdf")},
        HTTP_ACCEPT="application/json",
    )


def download(client, document):
    resp = client.get(reverse("ehba:document_download", args=[document.pk, "aktuell"]))
    assert resp.status_code == 200
    return b"".join(resp.streaming_content)


def test_two_signatories_in_any_order_complete_the_application(
    client, practice, people, cards, signable
):
    url = reverse("ehba:sign", args=[LABEL, practice.pk])
    client.force_login(people["bernd"])  # the partner signs first
    assert client.get(url).status_code == 200
    docs = list(SignatureDocument.objects.order_by("key"))
    assert [d.key for d in docs] == ["anlage", "antrag"]
    backend = SoftCardBackend(cards["bernd"].card_id, directory=cards["bernd"].path.parent.parent)
    pins = []

    def pin_provider(name, prompt):
        pins.append(name)
        return PIN_QES

    batch = backend.sign_pdfs(
        [download(client, d) for d in docs], reason="Testantrag", pin_provider=pin_provider
    )
    assert pins == ["PIN.QES"]  # batch: one PIN entry for all documents
    for doc, pdf in zip(docs, batch, strict=True):
        resp = upload(client, doc, pdf)
        assert resp.status_code == 200, resp.json()
        assert resp.json()["ok"] and not resp.json()["complete"]
    assert signable.completed == []

    client.force_login(people["anna"])
    page = client.get(url).content.decode()
    assert "Bernd Schulz" in page and "Antragstellerin" in page
    for doc in docs:
        doc.refresh_from_db()
        signed = sign(cards["anna"], download(client, doc))
        resp = upload(client, doc, signed)
        assert resp.json()["ok"], resp.json()
    assert resp.json()["complete"]
    assert [a for a, _ in signable.completed] == [people["anna"]]
    assert all(d.complete and d.signature_count == 2 for d in SignatureDocument.objects.all())
    assert services.application_complete(practice)
    page = client.get(url).content.decode()
    assert 'id="ehba-complete"' in page
    report = VerificationReport.objects.filter(accepted=True).order_by("-id").first()
    detail = client.get(reverse("ehba:report", args=[report.pk])).content.decode()
    assert "Anna Müller" in detail and "Bernd Schulz" in detail and "gültig" in detail


def test_original_is_frozen_and_download_is_logged(client, practice, people, signable):
    client.force_login(people["anna"])
    client.get(reverse("ehba:sign", args=[LABEL, practice.pk]))
    doc = SignatureDocument.objects.get(key="antrag")
    first = download(client, doc)
    client.get(reverse("ehba:sign", args=[LABEL, practice.pk]))
    assert SignatureDocument.objects.count() == 2
    assert download(client, doc) == first
    assert AccessLogEntry.objects.filter(
        activity=Activity.DOWNLOAD, detail__ehba_document="antrag"
    ).exists()


def test_upload_must_extend_the_current_version(client, practice, people, cards, signable):
    client.force_login(people["anna"])
    client.get(reverse("ehba:sign", args=[LABEL, practice.pk]))
    doc = SignatureDocument.objects.get(key="antrag")
    original = download(client, doc)
    by_anna = sign(cards["anna"], original)
    by_bernd_parallel = sign(cards["bernd"], original)  # signed the old version meanwhile
    assert upload(client, doc, by_anna).json()["ok"]
    resp = upload(client, doc, by_bernd_parallel)
    assert resp.status_code == 422
    assert "aktuelle Fassung herunter" in resp.json()["message"]


def test_rejected_upload_keeps_current_version_and_report(
    client, practice, people, signable, new_card
):
    client.force_login(people["anna"])
    client.get(reverse("ehba:sign", args=[LABEL, practice.pk]))
    doc = SignatureDocument.objects.get(key="antrag")
    stranger = new_card(given_name="Carla", surname="Fremd", telematik_id="1-119")
    resp = upload(client, doc, sign(stranger, download(client, doc)))
    assert resp.status_code == 422
    assert "gehört nicht zu den Unterzeichnenden" in resp.json()["message"]
    report = VerificationReport.objects.get()
    assert not report.accepted
    assert resp.json()["report_url"] == reverse("ehba:report", args=[report.pk])
    doc.refresh_from_db()
    assert doc.signature_count == 0 and doc.current_sha256 == doc.original_sha256


def test_upload_of_non_pdf_is_refused_at_the_field(client, practice, people, signable):
    client.force_login(people["anna"])
    client.get(reverse("ehba:sign", args=[LABEL, practice.pk]))
    doc = SignatureDocument.objects.get(key="antrag")
    resp = upload(client, doc, b"hello")
    assert resp.status_code == 422
    assert "keine PDF-Datei" in resp.json()["message"]


def test_outsider_sees_nothing(client, practice, people, signable):
    client.force_login(people["anna"])
    client.get(reverse("ehba:sign", args=[LABEL, practice.pk]))
    doc = SignatureDocument.objects.get(key="antrag")
    outsider = UserFactory(person=PersonFactory())
    client.force_login(outsider)
    assert client.get(reverse("ehba:sign", args=[LABEL, practice.pk])).status_code == 404
    assert (
        client.get(reverse("ehba:document_download", args=[doc.pk, "original"])).status_code == 404
    )
    assert client.get(reverse("ehba:sign", args=["unbekannt.modell", 1])).status_code == 404


def test_agent_batch_larger_than_card_limit_needs_one_pin_per_part(cards, tmp_path):
    card = cards["anna"]
    data = card._data
    data["batch_size"] = 2
    card._write(data)
    backend = SoftCardBackend(card.card_id, directory=card.path.parent.parent)
    pins = []
    pdfs = [make_pdf(f"Dokument {i}") for i in range(5)]
    signed = backend.sign_pdfs(
        pdfs, reason="Stapel", pin_provider=lambda n, p: pins.append(p) or PIN_QES
    )
    assert len(signed) == 5 and len(pins) == 3
    assert all(s.startswith(p) for s, p in zip(signed, pdfs, strict=True))
    assert fixed_pin_provider("1")("PIN.QES", "") == "1"

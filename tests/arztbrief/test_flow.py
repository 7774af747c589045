"""The whole eArztbrief path in-process: write → batch QES (one PIN) → KIM send through the
agent's compose → receiver opens with its SMC-B, reports the hash, confirms receipt → counts."""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kvportal.arztbrief import selectors, services
from kvportal.arztbrief.models import Arztbrief, Empfang, State
from kvportal.arztbrief.signing import LABEL
from kvportal.cardlib import signing
from kvportal.core.quarters import Quarter
from kvportal.core.storage import private_storage
from kvportal.ehba.models import SignatureDocument
from kvportal.kim import agent_endpoints
from kvportal.kim.models import StoredMessage
from tests.conftest import otp_verify
from tests.ehba.conftest import PIN_QES

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    otp_verify(client, user)
    return client


def write_letter(client, author, colleague, title="Befundbericht (synthetisch)"):
    resp = client.post(
        reverse("arztbrief:write"),
        {
            "sender": author.account.pk,
            "recipient": colleague.account.address,
            "title": title,
            "patient_name": "Erika Testfall",
            "patient_birth_date": "1970-01-01",
            "subject": "Mitbehandlung",
            "text": "Sehr geehrter Herr Kollege,\n\nanbei der Befund.",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    return Arztbrief.objects.get(title=title)


def sign_batch(client, letters, card):
    resp = client.post(reverse("arztbrief:sign"), {"briefe": [x.pk for x in letters]})
    assert resp.status_code == 302
    assert resp["Location"] == reverse(
        "ehba:sign", args=[LABEL, letters[0].__class__.objects.get(pk=letters[0].pk).mappe_id]
    )
    assert client.get(resp["Location"]).status_code == 200  # prepares (freezes) the documents
    docs = list(SignatureDocument.objects.order_by("key"))
    assert len(docs) == len(letters)
    originals = [private_storage.open(d.original_path).read() for d in docs]
    pins = []
    result = signing.sign_pdfs(card, originals, ask_pin=lambda i: pins.append(i) or PIN_QES)
    assert result.error is None and len(pins) == 1  # one PIN.QES for the whole batch
    for doc, signed in zip(docs, result.signed, strict=True):
        resp = client.post(
            reverse("ehba:document_upload", args=[doc.pk]),
            {"signed_pdf": SimpleUploadedFile("s.pdf", signed, content_type="application/pdf")},
            HTTP_ACCEPT="application/json",
        )
        assert resp.json()["ok"], resp.json()


def send(client, letter, author):
    data = client.get(reverse("arztbrief:send_data", args=[letter.pk])).json()
    assert data["dienstkennung"] == "Arztbrief;VHitG-Versand;V1.2"
    built = agent_endpoints.handle_compose(author.agent_card(), data)
    return client.post(
        reverse("arztbrief:send", args=[letter.pk]),
        json.dumps({"mail": built["mail"]}),
        content_type="application/json",
    )


def sent_letter(kim_world, new_card):
    """(author, colleague) once the author has written a letter to the colleague, signed it
    with Anna Müller's card and sent it."""
    author, colleague = kim_world
    client = _client(author.doctor)
    letter = write_letter(client, author, colleague)
    sign_batch(client, [letter], new_card(given_name="Anna", surname="Müller"))
    assert send(client, letter, author).status_code == 200
    return author, colleague


def open_as_receiver(colleague, message):
    raw = private_storage.open(message.path).read()
    opened = agent_endpoints.handle_open(
        colleague.agent_card(), {"mail": base64.b64encode(raw).decode()}
    )
    pdf = next(a for a in opened["attachments"] if a["content_type"] == "application/pdf")
    return opened, base64.b64decode(pdf["data"])


def confirmation_mail(colleague, author, opened) -> str:
    pem = services.recipient_for(author.account.address)[1]
    built = agent_endpoints.handle_compose(
        colleague.agent_card(),
        {
            "from": colleague.account.address,
            "to": [author.account.address],
            "subject": "Eingangsbestätigung",
            "text": "eingegangen",
            "dienstkennung": services.DK_BESTAETIGUNG,
            "certificates": {author.account.address: [pem]},
        },
    )
    return built["mail"]


def test_write_sign_send_receive_confirm_and_count(kim_world, new_card):
    author, colleague = kim_world
    card = new_card(given_name="Anna", surname="Müller")
    client = _client(author.doctor)
    first = write_letter(client, author, colleague)
    second = write_letter(client, author, colleague, title="Zweiter Brief (synthetisch)")
    assert first.state == State.ENTWURF and first.recipient_bsnr == colleague.practice.bsnr
    assert private_storage.open(first.pdf_path).read().startswith(b"%PDF-")
    # the title is in the access log, never the patient
    from kvportal.audit.models import AccessLogEntry

    assert "Testfall" not in json.dumps(
        list(AccessLogEntry.objects.values("detail", "object_repr"))
    )

    sign_batch(client, [first, second], card)
    first.refresh_from_db()
    assert first.state == State.SIGNIERT and first.signer_name.endswith("Müller")
    assert first.report.verdict == "valid"

    resp = send(client, first, author)
    assert resp.status_code == 200, resp.content
    first.refresh_from_db()
    assert first.state == State.VERSANDT and first.pdf_path == "" and first.content_deleted_at
    assert not SignatureDocument.objects.filter(key=f"brief-{first.pk}").exists()
    assert client.get(reverse("arztbrief:pdf", args=[first.pk])).status_code == 410
    inbox = StoredMessage.objects.get(account=colleague.account, folder="inbox")
    assert inbox.dienstkennung == "Arztbrief;VHitG-Versand;V1.2"
    assert b"Testfall" not in private_storage.open(inbox.path).read()  # only ciphertext

    # the colleague opens it with the practice's SMC-B; the PDF is the one the portal checked
    opened, pdf = open_as_receiver(colleague, inbox)
    assert opened["dienstkennung"] == "Arztbrief;VHitG-Versand;V1.2" and opened["signature_valid"]
    sha = hashlib.sha256(pdf).hexdigest()
    assert sha == first.signed_sha256
    receiver = _client(colleague.doctor)
    page = receiver.get(reverse("arztbrief:received", args=[inbox.pk]))
    assert page.status_code == 200 and "BEGIN CERTIFICATE" in page.content.decode()
    resp = receiver.post(
        reverse("arztbrief:confirm", args=[inbox.pk]),
        json.dumps({"sha256": sha, "bestaetigung": confirmation_mail(colleague, author, opened)}),
        content_type="application/json",
    )
    report = resp.json()["bericht"]
    assert report["gueltig"] is True
    assert report["signaturen"][0]["unterzeichner"].endswith("Müller")
    assert report["signaturen"][0]["ergebnis"] == "valid"
    receipt = Empfang.objects.get()
    assert receipt.lanr == colleague.doctor.person.lanr and receipt.confirmation_sent
    answer = StoredMessage.objects.get(account=author.account, folder="inbox")
    assert answer.dienstkennung == "Arztbrief;Eingangsbestaetigung;V1.2"
    # opened again: the same report, no second confirmation
    again = receiver.post(
        reverse("arztbrief:confirm", args=[inbox.pk]), "{}", content_type="application/json"
    )
    assert again.json()["bericht"]["gueltig"] is True
    assert StoredMessage.objects.filter(account=author.account, folder="inbox").count() == 1

    quarter = Quarter.of(timezone.localdate())
    counted = selectors.counts([author.doctor.person.lanr, colleague.doctor.person.lanr], quarter)
    assert counted[author.doctor.person.lanr].sent == 1  # the second letter is not sent
    assert counted[author.doctor.person.lanr].received == 0
    assert counted[colleague.doctor.person.lanr].received == 1
    # the practice's start page shows the figures
    home = client.get("/").content.decode()
    assert 'id="arztbrief-panel"' in home and author.doctor.person.lanr in home
    assert "data-arztbrief-sent>1</td>" in home and "0,28 €" in home
    assert "data-arztbrief-received>1</td>" in receiver.get("/").content.decode()


def test_refusals_on_send(kim_world, new_card):
    author, colleague = kim_world
    client = _client(author.doctor)
    letter = write_letter(client, author, colleague)
    # not signed yet: no send data, no send
    assert client.get(reverse("arztbrief:send_data", args=[letter.pk])).status_code == 400
    sign_batch(client, [letter], new_card(given_name="Anna", surname="Müller"))
    data = client.get(reverse("arztbrief:send_data", args=[letter.pk])).json()
    data["dienstkennung"] = "KIM-Mail;Default;V1.0"
    built = agent_endpoints.handle_compose(author.agent_card(), data)
    resp = client.post(
        reverse("arztbrief:send", args=[letter.pk]),
        json.dumps({"mail": built["mail"]}),
        content_type="application/json",
    )
    assert resp.status_code == 400 and "Dienstkennung" in resp.json()["fehler"]
    resp = client.post(
        reverse("arztbrief:send", args=[letter.pk]),
        '{"mail": "%%%"}',
        content_type="application/json",
    )
    assert resp.status_code == 400 and "unlesbar" in resp.json()["fehler"]
    letter.refresh_from_db()
    assert letter.state == State.SIGNIERT and letter.pdf_path  # nothing sent, nothing deleted


def test_signature_by_someone_else_does_not_make_the_letter_sendable(kim_world, new_card):
    author, colleague = kim_world
    client = _client(author.doctor)
    letter = write_letter(client, author, colleague)
    other = new_card(given_name="Bernd", surname="Fremd", telematik_id="1-999", lanr="999999901")
    client.post(reverse("arztbrief:sign"), {"briefe": [letter.pk]})
    letter.refresh_from_db()
    client.get(reverse("ehba:sign", args=[LABEL, letter.mappe_id]))
    doc = SignatureDocument.objects.get()
    signed = signing.sign_pdf(other, private_storage.open(doc.original_path).read(), pin=PIN_QES)
    resp = client.post(
        reverse("ehba:document_upload", args=[doc.pk]),
        {"signed_pdf": SimpleUploadedFile("s.pdf", signed, content_type="application/pdf")},
        HTTP_ACCEPT="application/json",
    )
    assert not resp.json()["ok"]
    letter.refresh_from_db()
    assert letter.state == State.ENTWURF


def test_receipt_of_an_unknown_pdf_is_not_counted_and_staff_cannot_confirm(kim_world, new_card):
    from kvportal.accounts.constants import Right
    from tests.factories import UserFactory, grant

    _author, colleague = sent_letter(kim_world, new_card)
    inbox = StoredMessage.objects.get(account=colleague.account, folder="inbox")
    # Praxispersonal with the mailbox right: no LANR, cannot confirm for a doctor
    staff = UserFactory(person=None)
    grant(staff, colleague.practice, Right.KIM_POSTFACH)
    resp = _client(staff).post(
        reverse("arztbrief:confirm", args=[inbox.pk]),
        json.dumps({"sha256": "a" * 64}),
        content_type="application/json",
    )
    assert resp.status_code == 400 and "LANR" in resp.json()["fehler"]
    receiver = _client(colleague.doctor)
    bad = receiver.post(
        reverse("arztbrief:confirm", args=[inbox.pk]),
        json.dumps({"sha256": "xyz"}),
        content_type="application/json",
    )
    assert bad.status_code == 400 and "SHA-256" in bad.json()["fehler"]
    resp = receiver.post(
        reverse("arztbrief:confirm", args=[inbox.pk]),
        json.dumps({"sha256": "b" * 64}),
        content_type="application/json",
    )
    assert resp.json()["bericht"]["gueltig"] is False
    quarter = Quarter.of(timezone.localdate())
    assert (
        selectors.counts([colleague.doctor.person.lanr], quarter)[
            colleague.doctor.person.lanr
        ].received
        == 0
    )


def test_confirmation_must_carry_its_dienstkennung_and_go_to_the_sender(kim_world, new_card):
    author, colleague = sent_letter(kim_world, new_card)
    inbox = StoredMessage.objects.get(account=colleague.account, folder="inbox")
    _opened, pdf = open_as_receiver(colleague, inbox)
    pem = services.recipient_for(author.account.address)[1]
    wrong = agent_endpoints.handle_compose(
        colleague.agent_card(),
        {
            "from": colleague.account.address,
            "to": [author.account.address],
            "text": "x",
            "certificates": {author.account.address: [pem]},
        },
    )
    resp = _client(colleague.doctor).post(
        reverse("arztbrief:confirm", args=[inbox.pk]),
        json.dumps({"sha256": hashlib.sha256(pdf).hexdigest(), "bestaetigung": wrong["mail"]}),
        content_type="application/json",
    )
    assert resp.status_code == 400 and "Eingangsbestaetigung" in resp.json()["fehler"]
    assert not Empfang.objects.exists()  # the whole receipt is rolled back


def test_purge_deletes_unsent_content_after_the_period(kim_world, settings):
    author, colleague = kim_world
    client = _client(author.doctor)
    old = write_letter(client, author, colleague, title="alt")
    fresh = write_letter(client, author, colleague, title="neu")
    now = timezone.now()
    Arztbrief.objects.filter(pk=old.pk).update(
        created_at=now - dt.timedelta(days=settings.ARZTBRIEF_UNSENT_DAYS + 1)
    )
    dry = services.purge_unsent(now=now, dry_run=True)
    assert dry.count == 1
    services.purge_unsent(now=now)
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.pdf_path == "" and old.content_deleted_at and fresh.pdf_path
    assert client.get(reverse("arztbrief:pdf", args=[old.pk])).status_code == 410
    assert client.get(reverse("arztbrief:send_data", args=[old.pk])).status_code == 400


def test_batch_is_limited_to_the_cards_batch_size(kim_world):
    author, colleague = kim_world
    client = _client(author.doctor)
    letter = write_letter(client, author, colleague)
    many = [letter] * (services.BATCH_MAX + 1)
    with pytest.raises(services.Refused, match="höchstens 254"):
        services.open_batch(actor=author.doctor, letters=many)
    with pytest.raises(services.Refused, match="mindestens einen"):
        services.open_batch(actor=colleague.doctor, letters=[letter])  # not the author


def test_message_headers_are_the_komle_outer_ones(kim_world, new_card):
    """The server sees Dienstkennung and addresses only on the outer mail (no subject)."""
    _author, colleague = sent_letter(kim_world, new_card)
    inbox = StoredMessage.objects.get(account=colleague.account, folder="inbox")
    outer = email.message_from_bytes(
        private_storage.open(inbox.path).read(), policy=email.policy.default
    )
    assert outer["Subject"] == "KOM-LE-Nachricht"
    assert outer["X-KIM-Dienstkennung"] == services.DK_VERSAND

"""Pages of the eArztbrief: scope (404 for foreign letters and messages), form refusals,
upload with a CDA document, the staff view of the counts."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kvportal.accounts.constants import StaffRole
from kvportal.arztbrief.models import Arztbrief
from kvportal.core.storage import private_storage
from kvportal.kim.models import StoredMessage
from tests.arztbrief.test_flow import _client, send, sent_letter, sign_batch, write_letter
from tests.ehba.conftest import make_pdf
from tests.factories import kv_staff

pytestmark = pytest.mark.django_db


def test_foreign_letters_and_messages_are_404(kim_world, new_card):
    author, colleague = kim_world
    client = _client(author.doctor)
    letter = write_letter(client, author, colleague)
    sign_batch(client, [letter], new_card(given_name="Anna", surname="Müller"))
    other = _client(colleague.doctor)
    for name in ("detail", "pdf", "send_data"):
        assert other.get(reverse(f"arztbrief:{name}", args=[letter.pk])).status_code == 404
    assert (
        other.post(
            reverse("arztbrief:send", args=[letter.pk]), "{}", content_type="application/json"
        ).status_code
        == 404
    )
    assert send(client, letter, author).status_code == 200
    inbox = StoredMessage.objects.get(account=colleague.account, folder="inbox")
    sent = StoredMessage.objects.get(account=author.account, folder="sent")
    # the author does not hold the colleague's mailbox; his own sent copy is no received letter
    for msg in (inbox, sent):
        assert client.get(reverse("arztbrief:received", args=[msg.pk])).status_code == 404
        resp = client.post(
            reverse("arztbrief:confirm", args=[msg.pk]),
            json.dumps({"sha256": "a" * 64}),
            content_type="application/json",
        )
        assert resp.status_code == 404
    assert other.get(reverse("arztbrief:received", args=[inbox.pk])).status_code == 200
    listing = other.get(reverse("arztbrief:inbox")).content.decode()
    assert author.account.address in listing


def test_write_form_refuses_unknown_recipient_at_the_field(kim_world):
    author, _colleague = kim_world
    client = _client(author.doctor)
    resp = client.post(
        reverse("arztbrief:write"),
        {
            "sender": author.account.pk,
            "recipient": "niemand@kv-sachsen.kim.example",
            "title": "x",
            "patient_name": "Test",
            "patient_birth_date": "1970-01-01",
            "subject": "s",
            "text": "t",
        },
    )
    assert resp.status_code == 200
    errors = resp.context["form"].errors
    assert "niemand@kv-sachsen.kim.example" in errors["recipient"][0]
    assert not Arztbrief.objects.exists()


def test_upload_with_cda_and_refusal_of_non_pdf(kim_world):
    author, colleague = kim_world
    client = _client(author.doctor)
    base = {"sender": author.account.pk, "recipient": colleague.account.address, "title": "U"}
    resp = client.post(
        reverse("arztbrief:upload"),
        {**base, "pdf": SimpleUploadedFile("b.pdf", b"kein pdf")},
    )
    assert "PDF-Datei" in resp.context["form"].errors["pdf"][0]
    resp = client.post(
        reverse("arztbrief:upload"),
        {
            **base,
            "pdf": SimpleUploadedFile("b.pdf", make_pdf()),
            "cda": SimpleUploadedFile("c.txt", b"<x/>"),
        },
    )
    assert ".xml" in resp.context["form"].errors["cda"][0]
    resp = client.post(
        reverse("arztbrief:upload"),
        {
            **base,
            "pdf": SimpleUploadedFile("b.pdf", make_pdf()),
            "cda": SimpleUploadedFile("arztbrief.xml", b"<ClinicalDocument/>"),
        },
    )
    assert resp.status_code == 302
    letter = Arztbrief.objects.get()
    assert letter.source == "upload" and letter.cda_name == "arztbrief.xml"
    assert private_storage.open(letter.cda_path).read() == b"<ClinicalDocument/>"


def test_a_colleague_without_mailbox_right_cannot_send_from_the_practice(kim_world):
    author, colleague = kim_world
    client = _client(colleague.doctor)
    resp = client.post(
        reverse("arztbrief:upload"),
        {
            "sender": author.account.pk,
            "recipient": author.account.address,
            "title": "U",
            "pdf": SimpleUploadedFile("b.pdf", make_pdf()),
        },
    )
    assert resp.status_code == 200 and "sender" in resp.context["form"].errors


def test_staff_view_is_for_billing_staff_only(kim_world, new_card):
    author, _colleague = sent_letter(kim_world, new_card)
    billing = kv_staff(StaffRole.ABRECHNUNG, username="kv.abr.ab")
    page = _client(billing).get(reverse("arztbrief:staff"))
    assert page.status_code == 200
    text = page.content.decode()
    assert author.doctor.person.lanr in text and "0,28 €" in text
    bad = _client(billing).get(reverse("arztbrief:staff") + "?quartal=2026-9")
    assert "JJJJ-Q" in bad.content.decode()
    registry = kv_staff(StaffRole.ARZTREGISTER, username="kv.reg.ab2")
    assert _client(registry).get(reverse("arztbrief:staff")).status_code in (403, 404)
    assert _client(author.doctor).get(reverse("arztbrief:staff")).status_code in (302, 403, 404)


def test_billing_staff_see_the_counts_on_the_submission_page(kim_world, new_card):
    from django.utils import timezone

    from kvportal.core.quarters import Quarter
    from tests.arztbrief.test_check import billed

    author, colleague = sent_letter(kim_world, new_card)
    lanr = author.doctor.person.lanr
    quarter = Quarter.of(timezone.localdate())
    sub = billed(author, quarter, versand=1, empfang=0)
    billing = kv_staff(StaffRole.ABRECHNUNG, username="kv.abr.ab3")
    page = _client(billing).get(reverse("billing:staff_detail", args=[sub.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="arztbrief-staff-counts"' in text
    section = text[text.index('id="arztbrief-staff-counts"') :]
    assert lanr in section and "0,28 €" in section
    assert colleague.doctor.person.lanr not in section  # another practice's doctor

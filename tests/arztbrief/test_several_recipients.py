"""Several recipients in the portal letter form: one KOM-LE message encrypted for all of them
(one AuthEnvelopedData with a RecipientInfo per recipient certificate, plus the sender), a copy
in each mailbox; GOP 86900 counts „je Empfänger-Praxis“ (EBM: „Versenden eines elektronischen
Briefes je Empfänger-Praxis“) — two mailboxes of one practice count once — and 86901 once per
letter and receiving practice."""

from __future__ import annotations

import hashlib
import json

import pytest
from asn1crypto import cms
from django.urls import reverse
from django.utils import timezone

from kvportal.arztbrief import selectors
from kvportal.arztbrief.models import Arztbrief, Empfang
from kvportal.arztbrief.rules import split_addresses
from kvportal.core.quarters import Quarter
from kvportal.core.storage import private_storage
from kvportal.kim import mail, services
from kvportal.kim.models import StoredMessage
from tests.arztbrief.conftest import Side, make_side
from tests.arztbrief.test_flow import _client, open_as_receiver, send, sign_batch
from tests.factories import kv_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(kim_world):
    """author; colleague (Praxis Schulz) with a second mailbox; a third practice."""
    from kvportal.accounts.constants import StaffRole

    author, colleague = kim_world
    registrar = kv_staff(StaffRole.ARZTREGISTER, username="kv.register.c")
    second = services.request_practice_account(
        actor=colleague.doctor, betriebsstaette=colleague.practice, local_part="schulz-empfang"
    )
    services.register_account(actor=registrar, account=second)
    second.refresh_from_db()
    third = make_side(
        registrar, name="Praxis Weber", local="praxis-weber", first="Clara", last="Weber"
    )
    return (
        author,
        colleague,
        Side(colleague.practice, colleague.doctor, second, colleague.card),
        third,
    )


def _write(client, author, addresses: str):
    return client.post(
        reverse("arztbrief:write"),
        {
            "sender": author.account.pk,
            "recipient": addresses,
            "title": "Befund an mehrere (synthetisch)",
            "patient_name": "Erika Testfall",
            "patient_birth_date": "1970-01-01",
            "subject": "Mitbehandlung",
            "text": "Sehr geehrte Kolleginnen und Kollegen,\n\nanbei der Befund.",
        },
    )


def _counts(*sides):
    lanrs = [s.doctor.person.lanr for s in sides]
    return selectors.counts(lanrs, Quarter.of(timezone.localdate()))


def test_split_addresses():
    assert split_addresses(" A@x.example; b@x.example,\na@x.example  c@y.example ") == [
        "a@x.example",
        "b@x.example",
        "c@y.example",
    ]


def test_letter_to_three_mailboxes_in_two_practices(three, new_card):
    author, colleague, colleague2, third = three
    card = new_card(given_name="Anna", surname="Müller")
    client = _client(author.doctor)
    addresses = [colleague.account.address, colleague2.account.address, third.account.address]
    resp = _write(client, author, ",\n".join(addresses))
    assert resp.status_code == 302, resp.content.decode()[:1500]
    letter = Arztbrief.objects.get()
    rows = list(letter.empfaenger.all())
    assert [r.address for r in rows] == addresses
    assert [r.counted for r in rows] == [True, False, True]  # Praxis Schulz once
    assert {r.practice_key for r in rows} == {colleague.practice.bsnr, third.practice.bsnr}

    sign_batch(client, [letter], card)
    data = client.get(reverse("arztbrief:send_data", args=[letter.pk])).json()
    assert data["to"] == addresses and set(data["certificates"]) == set(addresses)
    assert send(client, letter, author).status_code == 200
    letter.refresh_from_db()
    assert letter.state == "versandt"

    # one message, one AuthEnvelopedData with a RecipientInfo per certificate (+ the sender)
    sent = StoredMessage.objects.get(account=author.account, folder="sent")
    raw = private_storage.open(sent.path).read()
    info = cms.ContentInfo.load(mail.decoded_body(mail.split(raw)))
    assert info["content_type"].native == "authenticated_enveloped_data"
    assert len(info["content"]["recipient_infos"]) == 4
    inboxes = StoredMessage.objects.filter(folder="inbox")
    assert sorted(m.account.address for m in inboxes) == sorted(addresses)
    assert len({m.path for m in inboxes}) == 1  # the same ciphertext for all

    # 86900: two receiving practices
    counted = _counts(author, colleague, third)
    assert counted[author.doctor.person.lanr].sent == 2

    # each receiver opens its copy with its SMC-B; the QES is the portal's
    for side in (colleague, colleague2, third):
        message = StoredMessage.objects.get(account=side.account, folder="inbox")
        _opened, pdf = open_as_receiver(side, message)
        resp = _client(side.doctor).post(
            reverse("arztbrief:confirm", args=[message.pk]),
            json.dumps({"sha256": hashlib.sha256(pdf).hexdigest()}),
            content_type="application/json",
        )
        assert resp.json()["bericht"]["gueltig"] is True
    assert Empfang.objects.filter(valid_qes=True).count() == 3
    counted = _counts(author, colleague, third)
    # 86901: once per receiving practice (the second mailbox of Praxis Schulz does not count)
    assert counted[colleague.doctor.person.lanr].received == 1
    assert counted[third.doctor.person.lanr].received == 1
    detail = client.get(reverse("arztbrief:detail", args=[letter.pk])).content.decode()
    assert all(a in detail for a in addresses) and "zählt nicht für GOP 86900" in detail


def test_message_must_go_to_exactly_the_letters_recipients(three, new_card):
    from kvportal.kim import agent_endpoints

    author, colleague, _colleague2, third = three
    card = new_card(given_name="Anna", surname="Müller")
    client = _client(author.doctor)
    _write(client, author, f"{colleague.account.address}, {third.account.address}")
    letter = Arztbrief.objects.get()
    sign_batch(client, [letter], card)
    data = client.get(reverse("arztbrief:send_data", args=[letter.pk])).json()
    data["to"] = [colleague.account.address]  # one recipient dropped
    built = agent_endpoints.handle_compose(author.agent_card(), data)
    resp = client.post(
        reverse("arztbrief:send", args=[letter.pk]),
        json.dumps({"mail": built["mail"]}),
        content_type="application/json",
    )
    assert resp.status_code == 400 and third.account.address in resp.json()["fehler"]
    letter.refresh_from_db()
    assert letter.state == "signiert"


def test_form_names_the_unknown_address(three):
    author, colleague, _c2, _third = three
    resp = _write(
        _client(author.doctor), author, f"{colleague.account.address}, nix@nirgends.example"
    )
    assert resp.status_code == 200
    assert "nix@nirgends.example" in resp.content.decode()
    assert not Arztbrief.objects.exists()


def test_own_practice_mailbox_is_a_recipient_but_does_not_count(three, new_card):
    author, colleague, _c2, _third = three
    from kvportal.accounts.constants import StaffRole

    registrar = kv_staff(StaffRole.ARZTREGISTER, username="kv.register.own")
    own = services.request_practice_account(
        actor=author.doctor, betriebsstaette=author.practice, local_part="mueller-intern"
    )
    services.register_account(actor=registrar, account=own)
    client = _client(author.doctor)
    resp = _write(client, author, f"{own.address} {colleague.account.address}")
    assert resp.status_code == 302, resp.content.decode()[:1500]
    rows = list(Arztbrief.objects.get().empfaenger.all())
    assert [(r.address, r.counted) for r in rows] == [
        (own.address, False),
        (colleague.account.address, True),
    ]

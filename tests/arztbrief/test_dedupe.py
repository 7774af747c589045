"""No double counting of GOP 86900/86901: a letter sent and confirmed through the portal's web
mailbox and also reported by a client module (Nachweis) counts once per direction and receiving
practice — the identity is the QES's byte-range digest, which the portal keeps when it checks
the signature. Another letter's report still counts (the dedupe is by identity, not by doctor)."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from kvportal.arztbrief import selectors
from kvportal.arztbrief.models import Nachweis
from kvportal.cardlib import signing
from kvportal.core.quarters import Quarter
from kvportal.kim.models import StoredMessage
from tests.arztbrief.test_flow import (
    _client,
    confirmation_mail,
    open_as_receiver,
    send,
    sign_batch,
    write_letter,
)
from tests.arztbrief.test_proof_api import post, proof_of, register, token
from tests.ehba.conftest import PIN_QES, make_pdf

pytestmark = pytest.mark.django_db


def _count(side):
    lanr = side.doctor.person.lanr
    return selectors.counts([lanr], Quarter.of(timezone.localdate()))[lanr]


def _portal_letter(author, colleague, card, *, confirm: bool):
    """Write, sign, send through the portal; the colleague opens it (and confirms)."""
    client = _client(author.doctor)
    letter = write_letter(client, author, colleague)
    sign_batch(client, [letter], card)
    assert send(client, letter, author).status_code == 200
    letter.refresh_from_db()
    inbox = StoredMessage.objects.get(account=colleague.account, folder="inbox")
    opened, pdf = open_as_receiver(colleague, inbox)
    if confirm:
        resp = _client(colleague.doctor).post(
            reverse("arztbrief:confirm", args=[inbox.pk]),
            json.dumps(
                {
                    "sha256": hashlib.sha256(pdf).hexdigest(),
                    "bestaetigung": confirmation_mail(colleague, author, opened),
                }
            ),
            content_type="application/json",
        )
        assert resp.json()["bericht"]["gueltig"] is True
    return letter, pdf


def _report(side, richtung, sender, recipient, pdf):
    contents, digest = proof_of(pdf)
    return post(
        token(side.doctor),
        {
            "richtung": richtung,
            "absender": sender.account.address,
            "empfaenger": [recipient.account.address],
            "signatur": contents,
            "digest": digest,
        },
    )


def test_letter_seen_in_web_mailbox_and_by_client_module_counts_once(kim_world, new_card):
    author, colleague = kim_world
    card = new_card(given_name="Anna", surname="Müller")
    register(author, card)
    letter, pdf = _portal_letter(author, colleague, card, confirm=True)
    # the portal kept the QES identity the client module reports
    assert letter.qes_digest == proof_of(pdf)[1]
    assert (_count(author).sent, _count(colleague).received) == (1, 1)

    sent = _report(author, "versand", author, colleague, pdf)
    received = _report(colleague, "empfang", author, colleague, pdf)
    for resp in (sent, received):
        assert resp.status_code == 200, resp.json()
        assert resp.json()["gezaehlt"] == [] and len(resp.json()["bereits_gezaehlt"]) == 1
    assert Nachweis.objects.count() == 2  # kept as evidence, not counted
    assert (_count(author).sent, _count(colleague).received) == (1, 1)
    rows = selectors.panel_rows(author.doctor, Quarter.of(timezone.localdate()))
    assert [r["sent"] for r in rows if r["lanr"] == author.doctor.person.lanr] == [1]
    staff = {r["lanr"]: r for r in selectors.all_counts(Quarter.of(timezone.localdate()))}
    assert staff[author.doctor.person.lanr]["sent"] == 1
    assert staff[colleague.doctor.person.lanr]["received"] == 1

    # a different letter reported by the client module counts on top
    other = signing.sign_pdf(card, make_pdf("Zweiter Befund synthetisch"), pin=PIN_QES)
    resp = _report(author, "versand", author, colleague, other)
    assert resp.status_code == 201 and len(resp.json()["gezaehlt"]) == 1
    assert _count(author).sent == 2


def test_client_module_report_first_then_portal_counts_once(kim_world, new_card):
    """Reverse order: the receiver's client module reported the receipt before the receiver
    confirmed it in the web mailbox; after the confirmation it counts once."""
    author, colleague = kim_world
    card = new_card(given_name="Anna", surname="Müller")
    register(author, card)
    _letter, pdf = _portal_letter(author, colleague, card, confirm=False)
    assert _report(colleague, "empfang", author, colleague, pdf).status_code == 201
    assert _count(colleague).received == 1
    inbox = StoredMessage.objects.get(account=colleague.account, folder="inbox")
    resp = _client(colleague.doctor).post(
        reverse("arztbrief:confirm", args=[inbox.pk]),
        json.dumps({"sha256": hashlib.sha256(pdf).hexdigest()}),
        content_type="application/json",
    )
    assert resp.json()["bericht"]["gueltig"] is True
    assert _count(colleague).received == 1
    # the sender's proof after sending through the portal: still one
    assert _count(author).sent == 1
    assert _report(author, "versand", author, colleague, pdf).status_code == 200
    assert _count(author).sent == 1

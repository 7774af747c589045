"""Practice-software path counted without content: the client module reports the CMS of the
PAdES signature and the digest of the signed byte ranges; the portal verifies the QES,
maps the registered eHBA to the LANR and counts once per letter and receiving practice."""

from __future__ import annotations

import base64
import hashlib
from io import BytesIO

import pytest
from django.test import Client
from django.utils import timezone
from pyhanko.pdf_utils.reader import PdfFileReader

from kvportal.accounts import services as accounts
from kvportal.arztbrief import proof, selectors
from kvportal.arztbrief.models import Nachweis
from kvportal.cardlib import signing
from kvportal.core.openapi_spec import build_spec
from kvportal.core.quarters import Quarter
from kvportal.ehba.models import CardRegistration
from tests.ehba.conftest import PIN_QES, make_pdf

pytestmark = pytest.mark.django_db
URL = "/api/v1/arztbrief/nachweise/"
EXTERN = "praxis-fern@kv-bayern.kim.example"


def proof_of(pdf: bytes) -> tuple[str, str]:
    """What the client module reports: /Contents (hex) and SHA-256 of the byte ranges."""
    sig = next(iter(PdfFileReader(BytesIO(pdf), strict=False).embedded_signatures))
    a, b, c, d = sig.byte_range
    contents = sig.sig_object.raw_get("/Contents")
    return bytes(contents).hex(), hashlib.sha256(pdf[a : a + b] + pdf[c : c + d]).hexdigest()


def register(side, card) -> None:
    CardRegistration.objects.create(
        user=side.doctor,
        person=side.doctor.person,
        name="eHBA",
        telematik_id=_tid(card),
        profession="arzt",
        holder_name="Anna Müller",
        certificate_fingerprint="x",
    )


def _tid(card) -> str:
    from kvportal.cardlib import certs

    return certs.parse_card_certificate(card.qes_certificate).telematik_id


def token(user, scopes=("arztbrief",)) -> str:
    return accounts.create_api_token(actor=user, name="Clientmodul", scopes=list(scopes))[1]


def post(raw_token: str, body: dict):
    import json

    return Client().post(
        URL,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw_token}",
    )


def report(author, recipients: list[str], contents: str, digest: str, richtung="versand") -> dict:
    """The report of a letter from the author's practice mailbox: sent („versand“) or, by a
    recipient, received („empfang“)."""
    return {
        "richtung": richtung,
        "absender": author.account.address,
        "empfaenger": recipients,
        "signatur": contents,
        "digest": digest,
    }


@pytest.fixture
def signed(kim_world, new_card):
    author, colleague = kim_world
    card = new_card(given_name="Anna", surname="Müller")
    register(author, card)
    pdf = signing.sign_pdf(card, make_pdf("Befundbericht synthetisch"), pin=PIN_QES)
    contents, digest = proof_of(pdf)
    return author, colleague, card, contents, digest


def _counts(side):
    quarter = Quarter.of(timezone.localdate())
    return selectors.counts([side.doctor.person.lanr], quarter)[side.doctor.person.lanr]


def test_sent_letter_to_two_practices_counts_twice_and_is_idempotent(signed):
    author, colleague, _card, contents, digest = signed
    raw = token(author.doctor)
    body = report(author, [colleague.account.address, EXTERN], contents, digest)
    resp = post(raw, body)
    assert resp.status_code == 201, resp.json()
    data = resp.json()
    assert data["unterzeichner"] == "Anna Müller"
    assert {r["empfaenger_praxis"] for r in data["gezaehlt"]} == {
        colleague.practice.bsnr,
        EXTERN,
    }
    assert {r["lanr"] for r in data["gezaehlt"]} == {author.doctor.person.lanr}
    assert _counts(author).sent == 2
    # the same report again (client module retries) counts nothing new
    again = post(raw, {**body, "empfaenger": [colleague.account.address.upper(), EXTERN]})
    assert again.status_code == 200
    assert len(again.json()["bereits_gezaehlt"]) == 2 and again.json()["gezaehlt"] == []
    assert _counts(author).sent == 2
    # Base64 instead of hex is the same signature
    b64 = base64.b64encode(bytes.fromhex(contents)).decode()
    assert post(raw, {**body, "signatur": b64}).status_code == 200
    assert Nachweis.objects.count() == 2
    # the start-page panel counts the proofs as well
    rows = selectors.panel_rows(author.doctor, Quarter.of(timezone.localdate()))
    assert [r["sent"] for r in rows if r["lanr"] == author.doctor.person.lanr] == [2]


def test_two_mailboxes_of_one_receiving_practice_count_once(signed):
    author, colleague, _card, contents, digest = signed
    from kvportal.accounts.constants import StaffRole
    from kvportal.kim import services as kim_services
    from tests.factories import kv_staff

    extra = kim_services.request_practice_account(
        actor=colleague.doctor, betriebsstaette=colleague.practice, local_part="schulz-2"
    )
    kim_services.register_account(
        actor=kv_staff(StaffRole.ARZTREGISTER, username="kv.register.p2"), account=extra
    )
    extra.refresh_from_db()
    second = extra.address
    resp = post(
        token(author.doctor),
        report(author, [colleague.account.address, second], contents, digest),
    )
    assert resp.status_code == 201, resp.json()
    [row] = resp.json()["gezaehlt"]
    assert row["empfaenger_praxis"] == colleague.practice.bsnr
    assert sorted(row["empfaenger"]) == sorted([colleague.account.address, second])
    assert _counts(author).sent == 1


def test_received_letter_counts_for_the_receiving_doctor(signed):
    author, colleague, _card, contents, digest = signed
    body = report(author, [colleague.account.address], contents, digest, richtung="empfang")
    resp = post(token(colleague.doctor), body)
    assert resp.status_code == 201, resp.json()
    assert resp.json()["gezaehlt"][0]["lanr"] == colleague.doctor.person.lanr
    assert _counts(colleague).received == 1
    assert _counts(author).sent == 0  # the receiver's report is not the sender's 86900
    assert post(token(colleague.doctor), body).status_code == 200
    assert _counts(colleague).received == 1
    # a doctor of another practice cannot be named as receiver
    wrong = post(token(colleague.doctor), {**body, "empfaenger_lanr": author.doctor.person.lanr})
    assert wrong.status_code == 422
    assert "nicht tätig" in wrong.json()["fehler"]


def test_tampered_digest_and_foreign_pki_are_refused_in_german(signed, new_card, foreign_pki):
    author, colleague, _card, contents, digest = signed
    base = {
        "richtung": "versand",
        "absender": author.account.address,
        "empfaenger": [colleague.account.address],
        "signatur": contents,
    }
    other = hashlib.sha256(b"ein anderer Brief").hexdigest()
    resp = post(token(author.doctor), {**base, "digest": other})
    assert resp.status_code == 422
    assert resp.json()["gruende"] == [proof.PROBLEMS_DE["digest_mismatch"]]
    stranger = new_card(pki_=foreign_pki, given_name="Fremd", surname="Person")
    pdf = signing.sign_pdf(stranger, make_pdf("Fremd"), pin=PIN_QES)
    f_contents, f_digest = proof_of(pdf)
    resp = post(token(author.doctor), {**base, "signatur": f_contents, "digest": f_digest})
    assert resp.status_code == 422
    assert proof.PROBLEMS_DE["wrong_ca"] in resp.json()["gruende"]
    garbage = post(token(author.doctor), {**base, "signatur": "00ff", "digest": digest})
    assert garbage.status_code == 422
    assert garbage.json()["gruende"] == [proof.PROBLEMS_DE["not_cms"]]
    assert Nachweis.objects.count() == 0


def test_revoked_certificate_is_not_counted(signed, pki):
    author, colleague, card, contents, digest = signed
    pki.revoke(card.qes_certificate)
    resp = post(
        token(author.doctor),
        report(author, [colleague.account.address], contents, digest),
    )
    assert resp.status_code == 422
    assert proof.PROBLEMS_DE["revoked"] in resp.json()["gruende"]


def test_refusals_scope_mailbox_registration_fields(signed, new_card):
    author, colleague, _card, contents, digest = signed
    body = report(author, [colleague.account.address], contents, digest)
    # token without the scope
    resp = post(token(author.doctor, scopes=("billing",)), body)
    assert resp.status_code == 403 and "arztbrief" in resp.json()["fehler"]
    # sender mailbox of another practice
    resp = post(token(colleague.doctor), body)
    assert resp.status_code == 403 and resp.json()["feld"] == "absender"
    # an address unknown to the portal counts as its own receiving practice
    unknown = author.account.address.replace("praxis-mueller", "x")
    assert post(token(author.doctor), {**body, "empfaenger": [unknown]}).status_code == 201
    # sender == recipient is refused
    resp = post(token(author.doctor), {**body, "empfaenger": [author.account.address]})
    assert resp.status_code == 422 and resp.json()["feld"] == "empfaenger"
    # unknown field, bad digest, bad address, empty list
    assert post(token(author.doctor), {**body, "patient": "x"}).json()["feld"] == "patient"
    assert post(token(author.doctor), {**body, "digest": "zz"}).status_code == 400
    resp = post(token(author.doctor), {**body, "empfaenger": ["keine adresse"]})
    assert resp.status_code == 400 and "keine KIM-Adresse" in resp.json()["fehler"]
    assert post(token(author.doctor), {**body, "empfaenger": []}).status_code == 400
    # receipt reported for a mailbox that is not the caller's
    resp = post(token(author.doctor), {**body, "richtung": "empfang"})
    assert resp.status_code == 403 and resp.json()["feld"] == "empfaenger"
    assert Nachweis.objects.count() == 1  # only the unknown-address letter above


def test_unregistered_ehba_is_refused(kim_world, new_card):
    author, colleague = kim_world
    card = new_card(given_name="Anna", surname="Müller")  # not registered in the portal
    contents, digest = proof_of(signing.sign_pdf(card, make_pdf("x"), pin=PIN_QES))
    resp = post(
        token(author.doctor),
        report(author, [colleague.account.address], contents, digest),
    )
    assert resp.status_code == 422
    assert "keiner Ärztin und keinem Arzt mit LANR zugeordnet" in resp.json()["fehler"]


def test_openapi_documents_the_operation_with_the_checked_patterns():
    from kvportal.arztbrief.services_proof import ADDRESS_PATTERN

    op = build_spec()["paths"]["/arztbrief/nachweise/"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["absender"]["pattern"] == f"^{ADDRESS_PATTERN}$"
    assert schema["properties"]["empfaenger"]["maxItems"] == 50
    assert {"200", "201", "400", "401", "403", "422"} <= set(op["responses"])


def test_client_module_reports_what_the_portal_counts(kim_world, new_card, pki):
    """kimhooks: after signing (outgoing) and after a valid QES check (incoming) the client
    module hands the proof to the reporter; the portal accepts exactly that body."""
    import email.policy
    from email.message import EmailMessage

    from kvportal.arztbrief import kimhooks

    author, colleague = kim_world
    card = new_card(given_name="Anna", surname="Müller")
    register(author, card)
    sent, received = [], []
    outgoing = kimhooks.make_outgoing(
        {author.account.address: (card, lambda: PIN_QES)}, report=sent.append
    )
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = author.account.address, colleague.account.address, "x"
    msg["Cc"] = EXTERN
    msg["X-KIM-Dienstkennung"] = kimhooks.DK_VERSAND
    msg.set_content("Anbei der Brief (synthetisch).")
    msg.add_attachment(make_pdf("Brief"), maintype="application", subtype="pdf", filename="b.pdf")
    signed_mail = outgoing(msg.as_bytes(), author.account.address)
    [body] = sent
    assert set(body) == {"richtung", "absender", "empfaenger", "signatur", "digest"}
    assert body["empfaenger"] == [colleague.account.address, EXTERN]
    assert post(token(author.doctor), body).status_code == 201
    assert _counts(author).sent == 2
    incoming = kimhooks.make_incoming(
        trust_roots=pki.trust_roots,
        revocation_check=pki.revocation_check,
        report=received.append,
        own_addresses=[colleague.account.address],
    )
    incoming(signed_mail)
    [back] = received
    assert back["richtung"] == "empfang" and back["empfaenger"] == [colleague.account.address]
    assert back["digest"] == body["digest"]
    assert post(token(colleague.doctor), back).status_code == 201
    assert _counts(colleague).received == 1
    # an unsigned, invalid letter is not reported on receipt
    incoming(msg.as_bytes())
    assert len(received) == 1


def test_portal_reporter_refuses_other_schemes():
    from kvportal.arztbrief import kimhooks

    with pytest.raises(ValueError, match="http"):
        kimhooks.portal_reporter("file:///etc/passwd", "t")

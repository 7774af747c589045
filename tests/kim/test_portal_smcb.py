"""SMC-B ordering (issue 15): order by the billing-right holder, prefilled from the register;
the KV confirms or refuses with a reason; the test TSP issues C.HCI.AUT/ENC/OSIG RSA-2048 with
the Telematik-ID; activation with the transport PIN (3 tries, PUK); directory entry; audit."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from kvportal.accounts.constants import Right
from kvportal.audit.models import AccessLogEntry
from kvportal.core.storage import private_storage
from kvportal.kim import services, smcb
from kvportal.kim.models import DirectoryEntry, EntryKind, OrderState
from kvportal.members.constants import Role
from tests.factories import doctor_account
from tests.kim.test_portal_support import *  # noqa: F403 (fixtures)
from tests.kim.test_portal_support import NEW_PIN, order_for

pytestmark = pytest.mark.django_db


def _admission_tid(cert: x509.Certificate) -> str:
    adm = cert.extensions.get_extension_for_class(x509.Admissions).value
    return adm[0].profession_infos[0].registration_number


def test_prefill_comes_from_the_register(practice):
    prefill = services.order_prefill(practice)
    assert prefill["practice_name"] == "Praxis Müller"
    assert prefill["city"] == "Leipzig"
    assert prefill["telematik_id"] == f"1-2{practice.bsnr}"


def test_only_billing_right_holder_may_order(practice):
    docs_only = doctor_account(practice, Role.VERTRAGSARZT, Right.DOCS_BSNR)
    with pytest.raises(Http404):
        order_for(docs_only, practice)


def test_second_open_order_is_refused(doctor, practice):
    order_for(doctor, practice)
    with pytest.raises(ValidationError, match="bereits"):
        order_for(doctor, practice)


def test_order_confirm_issue_activate_publish(doctor, practice, registrar):
    order = order_for(doctor, practice)
    assert order.state == OrderState.REQUESTED
    with pytest.raises(PermissionDenied):
        services.confirm_order(actor=doctor, order=order)
    services.confirm_order(actor=registrar, order=order)
    issued = services.issue_card(actor=registrar, order=order)
    card = issued.card
    order.refresh_from_db()
    assert order.state == OrderState.ISSUED
    ca = services.tsp().ca_certificate()
    for pem in (card.cert_aut, card.cert_enc, card.cert_osig):
        cert = x509.load_pem_x509_certificate(pem.encode())
        assert isinstance(cert.public_key(), rsa.RSAPublicKey)
        assert cert.public_key().key_size == 2048
        assert _admission_tid(cert) == f"1-2{practice.bsnr}"
        assert cert.issuer == ca.subject
        cert.verify_directly_issued_by(ca)
    policies = {
        kind: {
            p.policy_identifier.dotted_string
            for p in x509.load_pem_x509_certificate(pem.encode())
            .extensions.get_extension_for_class(x509.CertificatePolicies)
            .value
        }
        for kind, pem in (("aut", card.cert_aut), ("enc", card.cert_enc), ("osig", card.cert_osig))
    }
    assert smcb.OID_SMC_B_AUT in policies["aut"]
    assert smcb.OID_SMC_B_ENC in policies["enc"]
    assert smcb.OID_SMC_B_OSIG in policies["osig"]
    enc_usage = (
        x509.load_pem_x509_certificate(card.cert_enc.encode())
        .extensions.get_extension_for_class(x509.KeyUsage)
        .value
    )
    assert enc_usage.key_encipherment and not enc_usage.digital_signature
    # PIN and PUK are not stored in plain text
    assert issued.pin not in card.pin_hash and issued.puk not in card.puk_hash
    assert not DirectoryEntry.objects.filter(betriebsstaette=practice).exists()

    services.activate_card(actor=doctor, card=card, transport_pin=issued.pin, new_pin=NEW_PIN)
    card.refresh_from_db()
    order.refresh_from_db()
    assert card.activated_at and order.state == OrderState.ACTIVATED
    entry = DirectoryEntry.objects.get(betriebsstaette=practice, kind=EntryKind.ORGANIZATION)
    assert entry.enc_certificate == card.cert_enc
    assert entry.telematik_id == card.telematik_id and entry.published
    # the card file now opens with the practice's own PIN only
    data = private_storage.open(card.card_file).read()
    _, certs, keys = smcb.open_card_file(data, NEW_PIN)
    assert set(keys) == {"aut", "enc", "osig"}
    assert keys["enc"].public_key().public_numbers() == certs["enc"].public_key().public_numbers()
    with pytest.raises(smcb.CardError, match="PIN"):
        smcb.open_card_file(data, issued.pin)
    activities = list(
        AccessLogEntry.objects.filter(bsnr=practice.bsnr).values_list("activity", flat=True)
    )
    assert {"submit", "decision", "create", "update"} <= set(activities)


def test_refusal_needs_a_reason_and_ends_the_order(doctor, practice, registrar):
    order = order_for(doctor, practice)
    with pytest.raises(ValidationError):
        services.refuse_order(actor=registrar, order=order, reason="  ")
    services.refuse_order(actor=registrar, order=order, reason="Keine Zulassung")
    order.refresh_from_db()
    assert order.state == OrderState.REFUSED and order.refusal_reason == "Keine Zulassung"
    with pytest.raises(ValidationError):
        services.issue_card(actor=registrar, order=order)
    # a new order is possible after a refusal
    assert order_for(doctor, practice).state == OrderState.REQUESTED


def test_wrong_transport_pin_three_times_blocks_and_puk_unblocks(doctor, practice, registrar):
    order = order_for(doctor, practice)
    services.confirm_order(actor=registrar, order=order)
    issued = services.issue_card(actor=registrar, order=order)
    wrong = "000001" if issued.pin != "000001" else "000002"
    for left in (2, 1, 0):
        with pytest.raises(ValidationError, match=f"Versuche: {left}"):
            services.activate_card(
                actor=doctor, card=issued.card, transport_pin=wrong, new_pin=NEW_PIN
            )
    with pytest.raises(ValidationError, match="gesperrt"):
        services.activate_card(
            actor=doctor, card=issued.card, transport_pin=issued.pin, new_pin=NEW_PIN
        )
    with pytest.raises(ValidationError, match="PUK ist falsch"):
        services.unblock_pin(actor=doctor, card=issued.card, puk="00000000")
    card = services.unblock_pin(actor=doctor, card=issued.card, puk=issued.puk)
    assert card.pin_tries_left == 3 and card.puk_uses_left == 8
    services.activate_card(actor=doctor, card=card, transport_pin=issued.pin, new_pin=NEW_PIN)


def test_weak_new_pin_is_refused_without_costing_a_try(doctor, practice, registrar):
    order = order_for(doctor, practice)
    services.confirm_order(actor=registrar, order=order)
    issued = services.issue_card(actor=registrar, order=order)
    with pytest.raises(ValidationError, match="Ziffern"):
        services.activate_card(
            actor=doctor, card=issued.card, transport_pin=issued.pin, new_pin="123456"
        )
    issued.card.refresh_from_db()
    assert issued.card.pin_tries_left == 3


def test_other_practice_cannot_activate(doctor, practice, registrar):
    from tests.factories import BetriebsstaetteFactory

    other = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    order = order_for(doctor, practice)
    services.confirm_order(actor=registrar, order=order)
    issued = services.issue_card(actor=registrar, order=order)
    with pytest.raises(Http404):
        services.activate_card(
            actor=other, card=issued.card, transport_pin=issued.pin, new_pin=NEW_PIN
        )

"""Test helper (no tests here): a practice with an activated SMC-B and a registered KIM account
sends a 1-Click delivery to the KV's billing address — sealed exactly as its client module would
(signed with the SMC-B OSIG key, encrypted for the KV's ENC certificate) and put into the KV's
Maildir in the Fachdienst store, as `kim serve` does. Synthetic data only."""

from __future__ import annotations

import contextlib
import datetime as dt
import mailbox
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography import x509
from django.conf import settings

from kvportal.core.storage import private_storage
from kvportal.kim import clientmodule, inbound, services
from kvportal.kim.smcb import TestTsp, open_card_file

PIN = "482913"
KV = "abrechnung@kv-sachsen.kim.example"
BERLIN = ZoneInfo("Europe/Berlin")


@contextlib.contextmanager
def in_submission_window():
    """Freeze the clock 3 days into the submission window of the quarter just ended (built from
    the clock the tests run under); yields that quarter."""
    import time_machine
    from django.utils import timezone

    from kvportal.billing import rules as billing_rules
    from kvportal.core.quarters import Quarter

    quarter = Quarter.of(timezone.localdate()).previous()
    starts = billing_rules.default_window(quarter).starts
    when = dt.datetime.combine(starts + dt.timedelta(days=3), dt.time(10), tzinfo=BERLIN)
    with time_machine.travel(when, tick=True):
        yield quarter


def service_mailbox_settings(settings, tmp_path) -> None:
    """The KV's billing service mailbox in test mode (test TSP card, Maildir under tmp_path)."""
    settings.KIM_TSP_DIR = tmp_path / "tsp"
    settings.KIM_STORE_DIR = str(tmp_path / "store")
    settings.KIM_DOMAIN = "kv-sachsen.kim.example"
    settings.KIM_SERVICE_BILLING_ADDRESS = KV
    settings.KIM_SERVICE_CARD = ""
    settings.KIM_SERVICE_TEST_PKI = True


def kim_practice(settings, tmp_path, username: str) -> dict:
    """The KV's service mailbox set up (`service_mailbox_settings`) and a practice (Praxis
    Müller) with a billing-right Vertragsarzt, an activated SMC-B and a registered KIM account
    `praxis-mueller@…`: keys registrar, practice, doctor, account, card (the SMC-B as PemCard)."""
    from kvportal.accounts.constants import Right, StaffRole
    from kvportal.members.constants import Role
    from tests.factories import BetriebsstaetteFactory, doctor_account, kv_staff

    service_mailbox_settings(settings, tmp_path)
    registrar = kv_staff(StaffRole.ARZTREGISTER, username=username)
    practice = BetriebsstaetteFactory(name="Praxis Müller", city="Leipzig")
    doctor = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR)
    account, card = activated_practice_account(doctor, practice, registrar, "praxis-mueller")
    return {
        "registrar": registrar,
        "practice": practice,
        "doctor": doctor,
        "account": account,
        "card": pem_card(card),
    }


def activated_practice_account(user, practice, registrar, local: str):
    """(KimAccount, SmcbCard): SMC-B ordered, issued, activated; practice account registered."""
    prefill = services.order_prefill(practice)
    order = services.order_smcb(
        actor=user,
        betriebsstaette=practice,
        practice_name=prefill["practice_name"],
        street=prefill["street"],
        postal_code=prefill["postal_code"],
        city=prefill["city"],
        contact_email="praxis@praxis.example",
    )
    services.confirm_order(actor=registrar, order=order)
    issued = services.issue_card(actor=registrar, order=order)
    card = services.activate_card(
        actor=user, card=issued.card, transport_pin=issued.pin, new_pin=PIN
    )
    account = services.request_practice_account(
        actor=user, betriebsstaette=practice, local_part=local
    )
    creds = services.register_account(actor=registrar, account=account)
    return creds.account, card


def pem_card(card) -> clientmodule.PemCard:
    with private_storage.open(card.card_file, "rb") as fh:
        data = fh.read()
    _doc, certs, keys = open_card_file(data, PIN)
    return clientmodule.PemCard(
        osig_key=keys["osig"],
        osig_cert=certs["osig"],
        enc=[(certs["enc"], keys["enc"])],
        chain=[TestTsp(settings.KIM_TSP_DIR).ensure()],
    )


class KvDirectory:
    """The practice's view of the directory: the KV's ENC certificate for its billing address."""

    def encryption_certificates(self, address: str) -> list[x509.Certificate]:
        if address.lower() != KV:
            return []
        return [cert for cert, _key in inbound.service_card(KV).enc]


def seal_delivery(
    *,
    card: clientmodule.PemCard,
    sender: str,
    files: dict[str, bytes],
    dienstkennung: str = "1ClickAbrechnung;Lieferung;V2.0",
    directory=None,
) -> bytes:
    client = inbound.build_client_mail(
        sender=sender,
        recipient=KV,
        dienstkennung=dienstkennung,
        subject="1-Click-Abrechnung",
        text="Lieferung der Abrechnung (synthetisch).",
        attachments=[(n, "application/octet-stream", c) for n, c in files.items()],
    )
    return clientmodule.seal(
        client, sender=sender, recipients=[KV], card=card, directory=directory or KvDirectory()
    ).message


def drop(raw: bytes) -> str:
    """Into the KV's Maildir (what the Fachdienst does on delivery); returns the Maildir key."""
    Path(settings.KIM_STORE_DIR).mkdir(parents=True, exist_ok=True)
    store = mailbox.Maildir(Path(settings.KIM_STORE_DIR) / KV, factory=None, create=True)
    return store.add(raw)


def open_answer(message, card: clientmodule.PemCard) -> clientmodule.Opened:
    """The practice's client module opens an answer from its web mailbox copy."""
    with private_storage.open(message.path, "rb") as fh:
        raw = fh.read()
    trust = clientmodule.Trust(anchors=[TestTsp(settings.KIM_TSP_DIR).ensure()])
    return clientmodule.open_message(raw, card=card, trust=trust)


def ehba_card(practice_card: clientmodule.PemCard, *, telematik_id: str, name: str):
    """A doctor's eHBA-like signing card (profession Ärztin/Arzt, Telematik-ID) from the test TSP
    CA; the ENC part stays the practice's (the KV answers the sending account)."""
    import datetime as dt

    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    from kvportal.cardlib import testpki

    tsp = TestTsp(settings.KIM_TSP_DIR)
    ca = tsp.ensure()
    key = testpki.generate_key("rsa")
    now = dt.datetime.now(dt.UTC)
    cert = (
        testpki.end_entity_builder(
            subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]),
            public_key=key.public_key(),
            ca_cert=ca,
            ca_key=tsp._ca_key(),
            not_before=now - dt.timedelta(minutes=5),
            not_after=now + dt.timedelta(days=365),
            usage=testpki.key_usage(content_commitment=True),
            policies=[],
        )
        .add_extension(
            testpki.profession_admission(
                item="Ärztin/Arzt", oid="1.2.276.0.76.4.30", telematik_id=telematik_id
            ),
            critical=False,
        )
        .sign(tsp._ca_key(), hashes.SHA256())
    )
    return clientmodule.PemCard(
        osig_key=key, osig_cert=cert, enc=practice_card.enc, chain=practice_card.chain
    )

"""The KV's billing address as a real KIM account (issue 16): an Organization entry in the
directory with the KV card's ENC certificate, department „Abrechnung“ and a description,
created idempotently by `kvportal oneclick_kv_account` / the demo; practice software finds it
through the FHIR-Directory and its client module encrypts the 1-Click delivery to exactly that
certificate, which the KV's service mailbox opens."""

from __future__ import annotations

import json

import pytest
from cryptography import x509
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from kvportal.accounts import services as accounts
from kvportal.accounts.constants import StaffRole
from kvportal.billing import staff as billing_staff
from kvportal.billing.models import Submission
from kvportal.core.quarters import Quarter
from kvportal.kim import clientmodule, inbound
from kvportal.kim import selectors as kim_selectors
from kvportal.kim.models import AccountKind, AccountState, DirectoryEntry, KimAccount
from kvportal.members.models import Betriebsstaette
from kvportal.oneclick import kvaccount
from kvportal.oneclick.models import DeliveryState, KimDelivery
from tests.oneclick import kimhelpers as kh
from tests.oneclick.test_kim_channel import con


class InProcessFhirDirectory(clientmodule.FhirDirectory):
    """The client module's FHIR-Directory client, its HTTP GET through Django's test client."""

    def __init__(self, token: str):
        super().__init__("http://testserver/api/v1/kim/fhir/", token=token)

    def _get(self, path: str) -> dict:
        resp = Client().get("/api/v1/kim/fhir/" + path, HTTP_AUTHORIZATION=f"Bearer {self.token}")
        assert resp.status_code == 200, resp.content[:500]
        return json.loads(resp.content)


def _token(user) -> str:
    return accounts.create_api_token(actor=user, name="PVS", scopes=["kim"])[1]


def test_created_once_and_idempotent(world):
    bsnrs = set(Betriebsstaette.objects.values_list("bsnr", flat=True))
    first = kvaccount.ensure_billing_account()
    assert first.changed
    identity = inbound.service_identity(kh.KV)
    assert first.account.address == kh.KV and first.account.usable()
    assert first.entry.kind == "organization" and first.entry.department == "Abrechnung"
    assert "1ClickAbrechnung;Lieferung;V2.0" in first.entry.description
    assert first.entry.enc_certificate == identity.enc_pem
    assert first.entry.telematik_id == inbound.SERVICE_TELEMATIK_ID
    # a service mailbox of the KV: no practice, no person, no owner; the KV's own entry
    assert first.account.kind == AccountKind.SERVICE
    assert first.account.betriebsstaette is None and first.account.person is None
    assert first.account.owner is None and first.account.service_entry == first.entry
    assert first.entry.betriebsstaette is None and first.entry.person is None
    assert first.entry.versions.count() == 1
    again = kvaccount.ensure_billing_account()
    assert not again.changed and again.entry.pk == first.entry.pk
    assert KimAccount.objects.filter(address=kh.KV).count() == 1
    assert first.entry.versions.count() == 1
    # no made-up practice: the register holds only the world's Betriebsstätten, and billing
    # staff's missing list is unchanged
    assert set(Betriebsstaette.objects.values_list("bsnr", flat=True)) == bsnrs
    quarter = Quarter.of(world["quarter"].start)
    missing = {p.bsnr for p in billing_staff.missing_submissions(quarter)}
    assert world["practice"].bsnr in missing and missing <= bsnrs


def test_fhir_directory_finds_the_kv_and_its_certificate(world):
    kvaccount.ensure_billing_account()
    token = _token(world["doctor"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    orgs = Client().get("/api/v1/kim/fhir/Organization", {"name": "Abrechnung"}, **auth).json()
    (org,) = [e["resource"] for e in orgs["entry"]]
    assert org["alias"] == ["Abrechnung"] and org["endpoint"][0]["display"] == kh.KV
    assert "Abrechnungsadresse der KV" in org["extension"][0]["valueString"]
    certs = InProcessFhirDirectory(token).encryption_certificates(kh.KV)
    card = inbound.service_card(kh.KV)
    assert certs == [card.enc[0][0]]


def test_practice_software_encrypts_to_the_directory_certificate(
    world, django_capture_on_commit_callbacks
):
    kvaccount.ensure_billing_account()
    directory = InProcessFhirDirectory(_token(world["doctor"]))
    raw = kh.seal_delivery(
        card=world["card"],
        sender=world["account"].address,
        files=con(world),
        directory=directory,
    )
    kh.drop(raw)
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound.poll() == 1
    delivery = KimDelivery.objects.get()
    assert delivery.state == DeliveryState.ANSWERED
    assert Submission.objects.get().channel == "kim"


def test_without_the_entry_the_sender_finds_no_certificate(world):
    """Before the set-up the directory has nothing for the billing address (the client module
    would refuse with 4003); the test above therefore depends on the entry."""
    directory = InProcessFhirDirectory(_token(world["doctor"]))
    assert directory.encryption_certificates(kh.KV) == []


def test_command_reports_and_refuses_in_german(world, settings, capsys):
    call_command("oneclick_kv_account")
    assert "angelegt/aktualisiert" in capsys.readouterr().out
    call_command("oneclick_kv_account")
    assert "unverändert" in capsys.readouterr().out
    KimAccount.objects.filter(address=kh.KV).delete()
    settings.KIM_SERVICE_TEST_PKI = False
    settings.KIM_SERVICE_CARD = ""
    with pytest.raises(CommandError, match="keine Karte eingerichtet"):
        call_command("oneclick_kv_account")
    assert not KimAccount.objects.filter(address=kh.KV).exists()


def test_certificate_of_a_renewed_card_replaces_the_entry(world):
    done = kvaccount.ensure_billing_account()
    DirectoryEntry.objects.filter(pk=done.entry.pk).update(enc_certificate="alt")
    again = kvaccount.ensure_billing_account()
    assert again.changed
    assert again.entry.enc_certificate == inbound.service_identity(kh.KV).enc_pem
    assert x509.load_pem_x509_certificate(again.entry.enc_certificate.encode())


@pytest.mark.django_db
def test_demo_sets_up_the_kv_billing_account(settings, tmp_path):
    from io import StringIO

    kh.service_mailbox_settings(settings, tmp_path)
    out = StringIO()
    call_command("demo", stdout=out)
    assert f"Abrechnungsadresse der KV {kh.KV} im KIM-Verzeichnis" in out.getvalue()
    call_command("demo", stdout=StringIO())
    assert KimAccount.objects.filter(address=kh.KV).count() == 1
    entry = KimAccount.objects.get(address=kh.KV).service_entry
    assert entry.department == "Abrechnung" and entry.enc_certificate


def test_no_member_sees_the_service_mailbox(world, member_client):
    """A service mailbox of the KV is in no member's scope: not on /kim/, not among the
    mailboxes, its pages 404; practices find it only in the directory (to send to it)."""
    done = kvaccount.ensure_billing_account()
    doctor = world["doctor"]
    assert done.account not in kim_selectors.manageable_accounts(doctor)
    assert done.account not in kim_selectors.mailboxes(doctor)
    assert kim_selectors.entry_for_address(kh.KV) == done.entry
    c = member_client(doctor)
    for url in ("/kim/", "/kim/postfach/"):
        page = c.get(url, follow=True)  # the only mailbox opens at once
        assert page.status_code == 200
        text = page.content.decode()
        assert world["account"].address in text and kh.KV not in text
    for url in (f"/kim/konto/{done.account.pk}/", f"/kim/postfach/{done.account.pk}/"):
        assert c.get(url).status_code == 404
    assert c.post(f"/kim/konto/{done.account.pk}/", {"action": "deregister"}).status_code == 404
    done.account.refresh_from_db()
    assert done.account.state == AccountState.REGISTERED
    found = c.get("/kim/kollegensuche/", {"q": "Abrechnung"}).content.decode()
    assert kh.KV in found


def test_arztregister_sees_no_made_up_practice_but_the_kv_mailbox(world, staff_client):
    done = kvaccount.ensure_billing_account()
    c, _user = staff_client(StaffRole.ARZTREGISTER)
    practices = c.get("/arztregister/kv/betriebsstaetten/")
    assert practices.status_code == 200
    text = practices.content.decode()
    assert world["practice"].bsnr in text and "989999900" not in text
    assert f"{settings.KV_NAME} – Abrechnung" not in text
    listing = c.get("/kim/kv/konten/", {"status": "registered"}).content.decode()
    assert kh.KV in listing and "die KV selbst" in listing
    step = c.get(f"/kim/kv/konten/{done.account.pk}/", {"action": "deregister"})
    assert "Funktionspostfach der KV" in step.content.decode()
    letter = c.post(f"/kim/kv/konten/{done.account.pk}/", {"action": "reissue"})
    assert letter["Content-Type"] == "application/pdf"

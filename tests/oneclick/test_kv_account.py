"""The KV's billing address as a real KIM account (issue 16): an Organization entry in the
directory with the KV card's ENC certificate, department „Abrechnung“ and a description,
created idempotently by `kvportal oneclick_kv_account` / the demo; practice software finds it
through the FHIR-Directory and its client module encrypts the 1-Click delivery to exactly that
certificate, which the KV's service mailbox opens."""

from __future__ import annotations

import json

import pytest
from cryptography import x509
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from kvportal.accounts import services as accounts
from kvportal.billing import staff as billing_staff
from kvportal.billing.models import Submission
from kvportal.core.quarters import Quarter
from kvportal.kim import clientmodule, inbound
from kvportal.kim.models import DirectoryEntry, KimAccount
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
    first = kvaccount.ensure_billing_account()
    assert first.changed
    identity = inbound.service_identity(kh.KV)
    assert first.account.address == kh.KV and first.account.usable()
    assert first.entry.kind == "organization" and first.entry.department == "Abrechnung"
    assert "1ClickAbrechnung;Lieferung;V2.0" in first.entry.description
    assert first.entry.enc_certificate == identity.enc_pem
    assert first.entry.telematik_id == inbound.SERVICE_TELEMATIK_ID
    again = kvaccount.ensure_billing_account()
    assert not again.changed and again.entry.pk == first.entry.pk
    assert KimAccount.objects.filter(address=kh.KV).count() == 1
    assert DirectoryEntry.objects.filter(betriebsstaette=first.practice).count() == 1
    # not a practice that owes a billing: billing staff's missing list does not show it
    quarter = Quarter.of(world["quarter"].start)
    missing = {p.bsnr for p in billing_staff.missing_submissions(quarter)}
    assert first.practice.bsnr not in missing and world["practice"].bsnr in missing


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
    with pytest.raises(CommandError, match="BSNR der KV-Abrechnung"):
        call_command("oneclick_kv_account", "--bsnr", "12")
    settings.KIM_SERVICE_TEST_PKI = False
    settings.KIM_SERVICE_CARD = ""
    with pytest.raises(CommandError, match="keine Karte eingerichtet"):
        call_command("oneclick_kv_account", "--bsnr", "989999901")
    assert not Betriebsstaette.objects.filter(bsnr="989999901").exists()


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
    entry = DirectoryEntry.objects.get(betriebsstaette__bsnr=kvaccount.DEFAULT_BSNR)
    assert entry.department == "Abrechnung" and entry.enc_certificate

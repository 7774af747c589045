"""Service mailboxes of the KV itself (AccountKind.SERVICE): no practice, no person; only KV
staff or the configuration create them; never in a member's scope; the directory shows them
under the KV's own Organization entry (with its ENC certificate), also in the FHIR API."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from kvportal.audit.models import AccessLogEntry
from kvportal.kim import selectors, services_kv
from kvportal.kim.models import AccountKind, DirectoryEntry, EntryKind, KimAccount
from kvportal.members.models import Betriebsstaette
from tests.factories import BetriebsstaetteFactory
from tests.kim.conftest import make_cert
from tests.kim.test_portal_directory import _get, token  # noqa: F401 (fixture)
from tests.kim.test_portal_support import *  # noqa: F403 (fixtures)
from tests.kim.test_portal_support import practice_account

pytestmark = pytest.mark.django_db

ADDRESS = "poststelle@kv-sachsen.kim.example"


def _mailbox(actor=None, *, address=ADDRESS, department="Poststelle", pem=None, until=None):
    pem = pem or make_cert("KV ENC TEST-ONLY").cert.public_bytes(Encoding.PEM).decode()
    return services_kv.ensure_service_mailbox(
        actor=actor,
        address=address,
        department=department,
        description="Allgemeine Post an die KV",
        telematik_id="5-2-KV-TEST",
        enc_pem=pem,
        enc_not_after=until or timezone.now() + dt.timedelta(days=30),
    )


def test_created_by_staff_without_practice_or_person(registrar):
    done = _mailbox(registrar)
    account, entry = done.account, done.entry
    assert account.kind == AccountKind.SERVICE and account.usable()
    assert (account.betriebsstaette, account.person, account.owner) == (None, None, None)
    assert account.bsnr == "" and account.service_entry == entry
    assert entry.kind == EntryKind.ORGANIZATION and entry.betriebsstaette is None
    assert entry.department == "Poststelle" and entry.version == 1
    assert selectors.addresses_of(entry) == [account]
    assert selectors.entry_of(account) == entry
    assert AccessLogEntry.objects.filter(
        object_id=str(account.pk), detail__kim="service_mailbox"
    ).exists()
    again = _mailbox(registrar, pem=entry.enc_certificate, until=entry.enc_not_after)
    assert not again.changed and again.entry.version == 1


def test_members_may_not_create_it_and_practice_addresses_stay_theirs(doctor, practice, registrar):
    with pytest.raises(PermissionDenied):
        _mailbox(doctor)
    account, _password = practice_account(doctor, practice, registrar)
    with pytest.raises(ValidationError, match="bereits als KIM-Konto"):
        _mailbox(registrar, address=account.address)
    assert not KimAccount.objects.filter(kind=AccountKind.SERVICE).exists()


def test_never_in_a_members_scope(doctor, practice, registrar):
    own, _password = practice_account(doctor, practice, registrar)
    done = _mailbox()
    for user in (doctor, registrar):
        assert done.account not in selectors.manageable_accounts(user)
        assert done.account not in selectors.mailboxes(user)
    assert list(selectors.mailboxes(doctor)) == [own]


def test_check_constraint_holds_the_kinds_apart(practice):
    entry = DirectoryEntry.objects.create(
        kind=EntryKind.ORGANIZATION, telematik_id="5-2-X", display_name="KV"
    )
    bad = [
        {"kind": AccountKind.SERVICE},  # no entry
        {"kind": AccountKind.SERVICE, "service_entry": entry, "betriebsstaette": practice},
        {"kind": AccountKind.PRACTICE, "betriebsstaette": practice, "service_entry": entry},
    ]
    for n, fields in enumerate(bad):
        with pytest.raises(IntegrityError), transaction.atomic():
            KimAccount.objects.create(address=f"x{n}@kv.example", **fields)


def test_directory_search_and_fhir_show_the_kv_entry(client, token):  # noqa: F811
    done = _mailbox()
    found = list(selectors.search_directory(text="poststelle@kv-sachsen"))
    assert found == [done.entry]
    org = _get(client, token, f"/api/v1/kim/fhir/Organization/org-{done.entry.pk}").json()
    assert org["endpoint"] == [{"reference": f"Endpoint/kim-{done.account.pk}", "display": ADDRESS}]
    bundle = _get(
        client, token, f"/api/v1/kim/fhir/Endpoint?organization=Organization/org-{done.entry.pk}"
    ).json()
    (endpoint,) = [e["resource"] for e in bundle["entry"]]
    assert endpoint["address"] == f"mailto:{ADDRESS}" and endpoint["extension"]
    assert endpoint["managingOrganization"]["reference"] == f"Organization/org-{done.entry.pk}"


def test_migration_turns_the_made_up_practice_into_a_service_mailbox():
    """arzt16's first version attached the billing mailbox to a Betriebsstätte 989999900."""
    migration = importlib.import_module("kvportal.kim.migrations.0004_service_accounts")
    fake = BetriebsstaetteFactory(bsnr=migration.LEGACY_KV_BSNR, name="KV – Abrechnung")
    other = BetriebsstaetteFactory()
    entry = DirectoryEntry.objects.create(
        kind=EntryKind.ORGANIZATION, betriebsstaette=fake, telematik_id="5-2-KV", display_name="KV"
    )
    KimAccount.objects.create(kind=AccountKind.PRACTICE, betriebsstaette=fake, address=ADDRESS)
    kept = KimAccount.objects.create(
        kind=AccountKind.PRACTICE, betriebsstaette=other, address="praxis@kv.example"
    )
    migration.practice_to_service(apps, None)
    account = KimAccount.objects.get(address=ADDRESS)
    assert account.kind == AccountKind.SERVICE and account.service_entry_id == entry.pk
    entry.refresh_from_db()
    assert entry.betriebsstaette is None
    assert not Betriebsstaette.objects.filter(bsnr=migration.LEGACY_KV_BSNR).exists()
    kept.refresh_from_db()
    assert kept.kind == AccountKind.PRACTICE and kept.betriebsstaette == other

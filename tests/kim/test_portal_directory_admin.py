"""Directory administration (issue 15): the KV as card issuer creates, updates and
(de)activates entries over an API in the shape of gematik's I_Directory_Administration; only a
token with scope „kim_admin“, which only Arztregister staff get; every change is a new
version with a readable history and an access-log entry; OpenAPI documented."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from django.core.exceptions import PermissionDenied, ValidationError

from kvportal.accounts.constants import Right, StaffRole
from kvportal.accounts.services import create_api_token
from kvportal.audit.models import AccessLogEntry
from kvportal.kim import directory_rules, services, services_directory
from kvportal.kim.models import DirectoryEntry
from kvportal.members.constants import Role
from tests.factories import BetriebsstaetteFactory, doctor_account, kv_staff
from tests.kim.conftest import make_cert
from tests.kim.test_portal_directory import _expired_pem
from tests.kim.test_portal_support import *  # noqa: F403 (fixtures)

BASE = "/api/v1/kim/DirectoryEntries"
NOW = dt.datetime.now(dt.UTC)


def _der_b64(holder) -> str:
    return base64.b64encode(holder.cert.public_bytes(Encoding.DER)).decode()


# --- the rules (no database) ---------------------------------------------------------------


def test_rules_map_vzd_attributes_and_refuse_with_the_attribute_named():
    changes = directory_rules.check_changes(
        {"telematikID": "1-2123456700", "displayName": " Praxis Nord ", "postalCode": "04109",
         "localityName": "Leipzig", "department": "Kardiologie"},
        create=True, now=NOW,
    )  # fmt: skip
    assert changes == {
        "telematik_id": "1-2123456700",
        "display_name": "Praxis Nord",
        "postal_code": "04109",
        "city": "Leipzig",
        "department": "Kardiologie",
    }
    cases = [
        ({"telematikID": "1-2", "displayName": "x", "mail": "a"}, True, "mail"),
        ({"displayName": "x"}, True, "telematikID"),
        ({"telematikID": "12345", "displayName": "x"}, True, "telematikID"),
        ({"telematikID": "1-2", "displayName": "   "}, True, "displayName"),
        ({"telematikID": "1-2", "displayName": "x", "entryType": "practitioner"}, True,
         "entryType"),
        ({"telematikID": "1-3"}, False, "telematikID"),  # create-only
        ({}, False, ""),
        ({"postalCode": "0410"}, False, "postalCode"),
        ({"title": "x" * 51}, False, "title"),
        ({"description": "Zeile\nZeile"}, False, "description"),
        ({"sn": 5}, False, "sn"),
        ({"userCertificate": "kein base64!"}, False, "userCertificate"),
    ]  # fmt: skip
    for data, create, field in cases:
        with pytest.raises(directory_rules.FieldError) as err:
            directory_rules.check_changes(data, create=create, now=NOW)
        assert err.value.field == field and err.value.status == 400, data
        assert field in err.value.message or not field


def test_rules_certificate_domain_refusals_are_422(pki):
    ok = directory_rules.check_changes(
        {"userCertificate": _der_b64(pki["alice"])}, create=False, now=NOW
    )
    assert ok["enc_certificate"].pem.startswith("-----BEGIN CERTIFICATE-----")
    assert directory_rules.check_changes({"userCertificate": None}, create=False, now=NOW) == {
        "enc_certificate": None
    }
    expired = base64.b64encode(
        __import__("cryptography").x509.load_pem_x509_certificate(_expired_pem().encode())
        .public_bytes(Encoding.DER)
    ).decode()  # fmt: skip
    for value in ("QUJDRA==", expired):
        with pytest.raises(directory_rules.FieldError) as err:
            directory_rules.check_changes({"userCertificate": value}, create=False, now=NOW)
        assert err.value.status == 422


# --- API ------------------------------------------------------------------------------------


@pytest.fixture
def admin_token(registrar):
    return create_api_token(actor=registrar, name="VZD-Pflege", scopes=["kim_admin"])[1]


def _call(client, method, path, token, body=None):
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    return getattr(client, method)(path, **kwargs)


@pytest.mark.django_db
def test_create_update_deactivate_with_versions_history_and_audit(client, admin_token, pki,
                                                                   registrar):  # fmt: skip
    created = _call(client, "post", BASE, admin_token, {
        "telematikID": "5-2-KH-Nord", "displayName": "Klinikum Nord, Notaufnahme",
        "organization": "Klinikum Nord", "localityName": "Leipzig", "postalCode": "04109",
        "department": "Notaufnahme", "userCertificate": _der_b64(pki["alice"]),
    })  # fmt: skip
    assert created.status_code == 201, created.content
    entry = created.json()
    uid = entry["uid"]
    assert entry["version"] == 1 and entry["active"] and entry["published"]
    assert entry["entryType"] == "organization" and entry["department"] == "Notaufnahme"
    assert created["Location"].endswith(f"/DirectoryEntries/{uid}")
    # the practice software finds it in the FHIR directory with the certificate
    kim_user = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    kim_token = create_api_token(actor=kim_user, name="CM", scopes=["kim"])[1]
    fhir = _call(client, "get", "/api/v1/kim/fhir/Organization?name=Klinikum", kim_token)
    assert fhir.json()["total"] == 1

    changed = _call(
        client,
        "put",
        f"{BASE}/{uid}/baseDirectoryEntries",
        admin_token,
        {"displayName": "Klinikum Nord, Zentrale Notaufnahme", "title": ""},
    )
    assert changed.status_code == 200 and changed.json()["version"] == 2
    same = _call(
        client,
        "put",
        f"{BASE}/{uid}/baseDirectoryEntries",
        admin_token,
        {"displayName": "Klinikum Nord, Zentrale Notaufnahme"},
    )
    assert same.json()["version"] == 2  # nothing changed: no new version

    off = _call(client, "put", f"{BASE}/{uid}/active", admin_token, {"active": False})
    assert off.status_code == 200 and off.json()["version"] == 3 and not off.json()["published"]
    fhir = _call(client, "get", "/api/v1/kim/fhir/Organization?name=Klinikum", kim_token)
    assert fhir.json()["total"] == 0  # hidden at once
    listed = _call(client, "get", f"{BASE}?active=false&telematikID=5-2-KH-Nord", admin_token)
    assert [e["uid"] for e in listed.json()["directoryEntries"]] == [uid]
    on = _call(client, "put", f"{BASE}/{uid}/active", admin_token, {"active": True})
    assert on.json()["version"] == 4

    history = _call(client, "get", f"{BASE}/{uid}/versions", admin_token).json()
    assert [(v["version"], v["change"]) for v in history["versions"]] == [
        (1, "angelegt"), (2, "geändert"), (3, "deaktiviert"), (4, "aktiviert"),
    ]  # fmt: skip
    v1, v2 = history["versions"][0]["data"], history["versions"][1]["data"]
    assert v1["display_name"] == "Klinikum Nord, Notaufnahme"
    assert v2["display_name"] == "Klinikum Nord, Zentrale Notaufnahme"
    assert v1["certificate_sha256"] and history["versions"][2]["data"]["active"] is False
    assert {v["changedBy"] for v in history["versions"]} == {registrar.username}
    audits = AccessLogEntry.objects.filter(detail__kim__startswith="directory_")
    assert [a.detail["kim"] for a in audits.order_by("pk")] == [
        "directory_create", "directory_update", "directory_state", "directory_state",
    ]  # fmt: skip
    assert _call(client, "get", f"{BASE}/{uid}", admin_token).json()["version"] == 4


@pytest.mark.django_db
def test_api_refusals_in_german(client, admin_token, pki):
    body = {"telematikID": "1-2999999900", "displayName": "Praxis Doppelt"}
    assert _call(client, "post", BASE, admin_token, body).status_code == 201
    dup = _call(client, "post", BASE, admin_token, body)
    assert dup.status_code == 409 and dup.json()["feld"] == "telematikID"
    assert "schon einen" in dup.json()["fehler"]
    bad = _call(client, "post", BASE, admin_token, {**body, "telematikID": "x"})
    assert bad.status_code == 400 and bad.json()["feld"] == "telematikID"
    cert = _call(
        client,
        "post",
        BASE,
        admin_token,
        {"telematikID": "1-2888888800", "displayName": "P", "userCertificate": "QUJD"},
    )
    assert cert.status_code == 422 and "Zertifikat" in cert.json()["fehler"]
    assert _call(client, "get", f"{BASE}/999999", admin_token).status_code == 404
    assert (
        _call(client, "put", f"{BASE}/999999/active", admin_token, {"active": False}).status_code
        == 404
    )
    uid = DirectoryEntry.objects.get(telematik_id="1-2999999900").pk
    state = _call(client, "put", f"{BASE}/{uid}/active", admin_token, {"active": "nein"})
    assert state.status_code == 400 and state.json()["feld"] == "active"
    not_json = client.post(
        BASE, data="{", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {admin_token}"
    )
    assert not_json.status_code == 400 and "JSON" in not_json.json()["fehler"]
    query = _call(client, "get", f"{BASE}?mail=x", admin_token)
    assert query.status_code == 400 and "mail" in query.json()["fehler"]
    assert _call(client, "delete", f"{BASE}/{uid}", admin_token).status_code == 405


@pytest.mark.django_db
def test_only_arztregister_staff_may_administer(client, doctor, registrar):
    # a member's "kim" token reads the FHIR directory but cannot write
    member = create_api_token(actor=doctor, name="CM", scopes=["kim"])[1]
    refused = _call(client, "post", BASE, member, {"telematikID": "1-2", "displayName": "x"})
    assert refused.status_code == 403 and "kim_admin" in refused.json()["fehler"]
    with pytest.raises(ValidationError):
        create_api_token(actor=doctor, name="x", scopes=["kim_admin"])
    billing_staff = kv_staff(StaffRole.ABRECHNUNG, username="abrechnung")
    with pytest.raises(ValidationError):
        create_api_token(actor=billing_staff, name="x", scopes=["kim_admin"])
    # the service checks the role itself (a token outliving the role)
    with pytest.raises(PermissionDenied):
        services_directory.create_entry(
            actor=billing_staff, data={"telematikID": "1-2", "displayName": "x"}
        )
    _token, raw = create_api_token(actor=registrar, name="VZD", scopes=["kim_admin"])
    registrar.groups.clear()
    lost = _call(client, "get", BASE, raw)
    assert lost.status_code == 403 and "Arztregister" in lost.json()["fehler"]


@pytest.mark.django_db
def test_consent_and_smcb_publication_are_versions_too(client, doctor, practice, registrar,
                                                       admin_token):  # fmt: skip
    entry = services.consent_publication(
        actor=doctor, enc_certificate=make_cert("Dr. V ENC TEST-ONLY").cert.public_bytes(
            Encoding.PEM).decode(),
    )  # fmt: skip
    assert entry.version == 1
    # the KV corrects the department; the doctor's entry stays published only with consent
    changed = _call(
        client,
        "put",
        f"{BASE}/{entry.pk}/baseDirectoryEntries",
        admin_token,
        {"department": "Hausärztliche Versorgung"},
    )
    assert changed.json()["version"] == 2 and changed.json()["published"]
    services.revoke_consent(actor=doctor)
    entry.refresh_from_db()
    assert entry.version == 3 and not entry.published
    history = _call(client, "get", f"{BASE}/{entry.pk}/versions", admin_token).json()
    assert [v["change"] for v in history["versions"]] == [
        "Einwilligung", "geändert", "Einwilligung widerrufen",
    ]  # fmt: skip
    assert history["versions"][0]["changedBy"] == doctor.username
    assert history["versions"][2]["data"]["consent"] is False


@pytest.mark.django_db
def test_openapi_documents_the_administration(client):
    spec = client.get("/api/openapi.json").json()
    for path, methods in {
        "/kim/DirectoryEntries": {"get", "post"},
        "/kim/DirectoryEntries/{uid}": {"get"},
        "/kim/DirectoryEntries/{uid}/baseDirectoryEntries": {"put"},
        "/kim/DirectoryEntries/{uid}/active": {"put"},
        "/kim/DirectoryEntries/{uid}/versions": {"get"},
    }.items():
        assert set(spec["paths"][path]) >= methods
    post = spec["paths"]["/kim/DirectoryEntries"]["post"]
    assert {"201", "400", "401", "403", "409", "422"} <= set(post["responses"])
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["telematikID", "displayName"]
    assert schema["additionalProperties"] is False

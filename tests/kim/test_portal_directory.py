"""Directory (issue 15): practices from the SMC-B, doctors only with consent (seed 003
„Veröffentlichung“), revocable; the FHIR-Directory-shaped API with the ENC certificate at the
Endpoint; German JSON errors; OpenAPI."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.core.exceptions import ValidationError

from kvportal.accounts.constants import Right
from kvportal.accounts.services import create_api_token
from kvportal.kim import selectors, services
from kvportal.kim.api import CERT_EXTENSION
from kvportal.members.constants import Role
from tests.factories import BetriebsstaetteFactory, doctor_account
from tests.kim.conftest import make_cert
from tests.kim.test_portal_support import *  # noqa: F403 (fixtures)
from tests.kim.test_portal_support import practice_account

pytestmark = pytest.mark.django_db


def _pem(holder) -> str:
    return holder.cert.public_bytes(Encoding.PEM).decode()


def _expired_pem() -> str:
    import datetime as dt

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Alt ENC TEST-ONLY")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=10))
        .not_valid_after(now - dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM).decode()


@pytest.fixture
def token(db):
    user = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    return create_api_token(actor=user, name="Clientmodul", scopes=["kim"])[1]


def _get(client, token, path):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_doctor_entry_only_with_consent_and_gone_after_revocation(doctor, practice):
    assert selectors.own_entry(doctor) is None
    cert = make_cert("Dr. Test ENC TEST-ONLY")
    entry = services.consent_publication(
        actor=doctor, enc_certificate=_pem(cert), department="Sprechstunde Diabetes"
    )
    assert entry.published and entry.organization == practice.name
    found = selectors.search_directory(text=doctor.person.last_name)
    assert entry in found
    assert entry in selectors.search_directory(text="Diabetes")
    services.revoke_consent(actor=doctor)
    entry.refresh_from_db()
    assert not entry.published and entry.consent_revoked_at
    assert entry not in selectors.search_directory(text=doctor.person.last_name)


def test_consent_refuses_garbage_and_expired_certificates(doctor):
    with pytest.raises(ValidationError, match="PEM"):
        services.consent_publication(actor=doctor, enc_certificate="kein Zertifikat")
    with pytest.raises(ValidationError, match="abgelaufen"):
        services.consent_publication(actor=doctor, enc_certificate=_expired_pem())


def test_publication_page_consent_and_revoke(client, doctor):
    client.force_login(doctor)
    response = client.post("/kim/veroeffentlichung/", {"enc_certificate": "x"})
    html = response.content.decode()
    assert "Ohne Einwilligung wird nichts veröffentlicht" in html
    assert selectors.own_entry(doctor) is None
    cert = make_cert("Dr. Test ENC TEST-ONLY")
    response = client.post(
        "/kim/veroeffentlichung/", {"enc_certificate": _pem(cert), "consent": "on"}
    )
    assert response.status_code == 302
    assert 'id="kim-published"' in client.get("/kim/veroeffentlichung/").content.decode()
    client.post("/kim/veroeffentlichung/", {"action": "revoke"})
    assert 'id="kim-revoked"' in client.get("/kim/veroeffentlichung/").content.decode()


def test_endpoint_search_gives_the_encryption_certificate(
    client, token, doctor, practice, registrar
):
    account, _ = practice_account(doctor, practice, registrar)
    response = _get(
        client, token, f"/api/v1/kim/fhir/Endpoint?address=mailto:{account.address.upper()}"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["total"] == 1
    resource = bundle["entry"][0]["resource"]
    assert resource["address"] == f"mailto:{account.address}"
    ext = next(e for e in resource["extension"] if e["url"] == CERT_EXTENSION)
    cert = x509.load_der_x509_certificate(base64.b64decode(ext["valueBase64Binary"]))
    assert cert.public_bytes(Encoding.PEM).decode() == account.smcb.cert_enc
    unknown = _get(
        client, token, "/api/v1/kim/fhir/Endpoint?address=niemand@kv-sachsen.kim.example"
    )
    assert unknown.json()["total"] == 0


def test_organization_and_practitioner_search(client, token, doctor, practice, registrar):
    practice_account(doctor, practice, registrar)
    services.consent_publication(actor=doctor, enc_certificate=_pem(make_cert("Dr. ENC")))
    orgs = _get(
        client, token, "/api/v1/kim/fhir/Organization?name=Müller&address-city=Leipzig"
    ).json()
    assert orgs["total"] == 1
    org = orgs["entry"][0]["resource"]
    assert org["identifier"][0]["value"] == f"1-2{practice.bsnr}"
    assert org["endpoint"][0]["display"] == "praxis-mueller@kv-sachsen.kim.example"
    read = _get(client, token, f"/api/v1/kim/fhir/Organization/{org['id']}").json()
    assert read["id"] == org["id"]
    family = doctor.person.last_name
    pract = _get(client, token, f"/api/v1/kim/fhir/Practitioner?family={family}").json()
    assert pract["total"] == 1
    assert pract["entry"][0]["resource"]["identifier"][1]["value"] == doctor.person.lanr
    roles = _get(client, token, f"/api/v1/kim/fhir/PractitionerRole?name={family}").json()
    assert roles["entry"][0]["resource"]["organization"]["reference"] == f"Organization/{org['id']}"
    by_org = _get(client, token, f"/api/v1/kim/fhir/Endpoint?organization=Organization/{org['id']}")
    assert by_org.json()["total"] == 1
    # after revocation the doctor is gone from the API too
    services.revoke_consent(actor=doctor)
    assert (
        _get(client, token, f"/api/v1/kim/fhir/Practitioner?family={family}").json()["total"] == 0
    )


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/kim/fhir/Organization?foo=1", "foo"),
        ("/api/v1/kim/fhir/Endpoint?_count=0", "_count"),
        ("/api/v1/kim/fhir/Practitioner?_count=abc", "_count"),
        ("/api/v1/kim/fhir/Endpoint?organization=xyz", "organization"),
        ("/api/v1/kim/fhir/Organization?name=a%00b", "name"),
        ("/api/v1/kim/fhir/Practitioner?family=" + "x" * 201, "family"),
    ],
)
def test_bad_parameters_are_german_400(client, token, path, field):
    response = _get(client, token, path)
    assert response.status_code == 400
    assert response.json()["feld"] == field
    assert field in response.json()["fehler"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/kim/fhir/Organization/abc",
        "/api/v1/kim/fhir/Organization/org-999999",
        "/api/v1/kim/fhir/Endpoint/kim-99999999999999999999",
        "/api/v1/kim/fhir/Practitioner/pra-0",
        "/api/v1/kim/fhir/Unbekannt",
    ],
)
def test_unknown_ids_are_json_404(client, token, path):
    response = _get(client, token, path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["fehler"]


def test_token_without_kim_scope_is_403_and_none_is_401(client, db):
    user = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    raw = create_api_token(actor=user, name="PVS", scopes=["billing"])[1]
    assert _get(client, raw, "/api/v1/kim/fhir/Endpoint").status_code == 403
    assert client.get("/api/v1/kim/fhir/Endpoint").status_code == 401


def test_openapi_documents_the_fhir_paths(client):
    spec = client.get("/api/openapi.json").json()
    for resource in ("Organization", "Practitioner", "PractitionerRole", "Endpoint"):
        op = spec["paths"][f"/kim/fhir/{resource}"]["get"]
        for status in ("200", "400", "401", "403", "404"):
            assert status in op["responses"]
        assert "application/json" in op["responses"]["400"]["content"]
        assert spec["paths"][f"/kim/fhir/{resource}/{{id}}"]["get"]["responses"]["404"]

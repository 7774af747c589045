"""API errors (issue 11): JSON with a German message for any bad id or unknown path under
/api/, and the OpenAPI document lists 400/401/403/404 for every operation."""

from __future__ import annotations

import pytest

from kvportal.accounts.constants import Right
from kvportal.accounts.services import create_api_token
from kvportal.members.constants import Role
from tests.factories import BetriebsstaetteFactory, doctor_account

pytestmark = pytest.mark.django_db

UNKNOWN_PATHS = [
    "/api/",
    "/api/v1/",
    "/api/v1/gibtesnicht/",
    "/api/v1/billing/submissions/abc/",
    "/api/v1/billing/submissions/-1/",
    "/api/v1/billing/submissions/1/unbekannt",
    "/api/v1/documents/abc",
    "/api/v1/documents/1/download/x",
    "/api/v2/documents/",
]


@pytest.fixture
def token(db):
    practice = BetriebsstaetteFactory()
    user = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR)
    return create_api_token(actor=user, name="PVS", scopes=["billing", "documents"])[1]


def _german_json_404(response):
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    message = response.json()["fehler"]
    assert "Nicht gefunden" in message or "nicht" in message.lower()
    return message


@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_unknown_api_path_is_json_404(client, token, path):
    response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
    message = _german_json_404(response)
    assert "<html" not in response.content.decode().lower()
    assert message


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/billing/submissions/{id}/",
        "/api/v1/billing/submissions/{id}/protocol/",
        "/api/v1/billing/submissions/{id}/protocol.pdf",
        "/api/v1/billing/submissions/{id}/receipt.pdf",
        "/api/v1/documents/{id}",
        "/api/v1/documents/{id}/download",
    ],
)
@pytest.mark.parametrize("pk", [0, 999999, 2**31, 2**63 - 1, 2**63, 10**30])
def test_bad_id_is_json_404(client, token, path, pk):
    response = client.get(path.format(id=pk), HTTP_AUTHORIZATION=f"Bearer {token}")
    _german_json_404(response)


def test_unknown_path_outside_api_stays_html(client):
    response = client.get("/gibtesnicht/")
    assert response.status_code == 404
    assert "text/html" in response["Content-Type"]


def test_missing_token_is_json_401(client):
    response = client.get("/api/v1/documents/")
    assert response.status_code == 401
    assert "API-Zugang" in response.json()["fehler"]


def test_openapi_documents_common_errors_for_every_operation(client):
    spec = client.get("/api/openapi.json").json()
    assert spec["components"]["schemas"]["Fehler"]["properties"]["fehler"]["type"] == "string"
    operations = [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) >= 8
    for path, method, op in operations:
        for status in ("400", "401", "403", "404"):
            response = op["responses"].get(status)
            assert response, f"{method.upper()} {path}: {status} fehlt"
            assert response["description"].strip("–- "), f"{method} {path} {status}"
            assert "application/json" in response["content"], f"{method} {path} {status}"

"""Billing API for practice software: token auth, scope, submit, poll, protocol, receipt."""

from __future__ import annotations

import pytest
import time_machine

from kvportal.accounts.services import create_api_token
from kvportal.core.pdf import pdf_text
from tests.billing.conftest import ON_TIME, kvdt_file, std_name, upload

pytestmark = pytest.mark.django_db


def auth(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def token(employed):
    return create_api_token(actor=employed, name="PVS", scopes=["billing"])[1]


def submit(client, raw, bsnr, content, name=None):
    return client.post(
        "/api/v1/billing/submissions/",
        {"bsnr": bsnr, "quartal": "12026", "datei": upload(content, name or std_name(bsnr))},
        **auth(raw),
    )


def test_submit_poll_protocol_receipt(client, token, practice, django_capture_on_commit_callbacks):
    with time_machine.travel(ON_TIME, tick=False), django_capture_on_commit_callbacks(execute=True):
        response = submit(client, token, practice.bsnr, kvdt_file(practice.bsnr))
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["weg"] == "api" and data["bsnr"] == practice.bsnr
    status = client.get(data["links"]["self"], **auth(token)).json()
    assert (
        status["abgeschlossen"] and status["status"] == "accepted" and status["pruefergebnis"] == 0
    )
    protocol = client.get(data["links"]["protokoll"], **auth(token)).json()
    assert protocol["protokoll"]["stats"]["cases"] == 8
    receipt = client.get(data["links"]["empfangsbestaetigung_pdf"], **auth(token))
    assert receipt["Content-Type"] == "application/pdf"
    assert practice.bsnr in pdf_text(receipt.content)
    listing = client.get("/api/v1/billing/submissions/", **auth(token)).json()
    assert [s["id"] for s in listing["einreichungen"]] == [data["id"]]


def test_refusals_as_json(client, token, practice, other_practice):
    with time_machine.travel(ON_TIME, tick=False):
        r = submit(client, token, other_practice.bsnr, kvdt_file(other_practice.bsnr))
        assert r.status_code == 403 and other_practice.bsnr in r.json()["fehler"]
        r = submit(client, token, practice.bsnr, b"x", name="a.txt")
        assert r.status_code == 422 and r.json()["codes"] == ["filename_extension"]


def test_duplicate_is_409_with_pointer(client, token, practice, employed, submit_file):
    content = kvdt_file(practice.bsnr)
    first = submit_file(employed, practice, content)
    with time_machine.travel(ON_TIME, tick=False):
        r = submit(client, token, practice.bsnr, content)
    assert r.status_code == 409 and r.json()["duplikat"]["id"] == first.pk


def test_token_needed_and_scope_checked(client, employed, practice):
    assert client.get("/api/v1/billing/submissions/").status_code == 401
    docs_only = create_api_token(actor=employed, name="Doku", scopes=["documents"])[1]
    assert client.get("/api/v1/billing/submissions/", **auth(docs_only)).status_code == 403


def test_other_users_submissions_are_invisible(client, outsider, employed, practice, submit_file):
    s = submit_file(employed, practice, kvdt_file(practice.bsnr))
    raw = create_api_token(actor=outsider, name="PVS", scopes=["billing"])[1]
    assert client.get("/api/v1/billing/submissions/", **auth(raw)).json() == {"einreichungen": []}
    for suffix in ("", "protocol/", "protocol.pdf", "receipt.pdf"):
        assert (
            client.get(f"/api/v1/billing/submissions/{s.pk}/{suffix}", **auth(raw)).status_code
            == 404
        )


def test_openapi_lists_billing_paths(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert "/billing/submissions/" in paths and "post" in paths["/billing/submissions/"]
    assert "/billing/submissions/{id}/receipt.pdf" in paths

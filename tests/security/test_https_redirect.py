"""Plain HTTP is redirected to HTTPS when HTTPS is on (issue 11); the probes stay reachable
over plain HTTP, and behind a TLS proxy its X-Forwarded-Proto header is honoured."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.django_db

_PRINT = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'redirect': s.SECURE_SSL_REDIRECT, 'exempt': s.SECURE_REDIRECT_EXEMPT, "
    "'proxy': s.SECURE_PROXY_SSL_HEADER, 'hsts': s.SECURE_HSTS_SECONDS}))"
)


def production_settings(**env) -> dict:
    """The security settings as `kvportal.settings` computes them from the environment."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("KVPORTAL_", "DJANGO_"))}
    environ.update(
        DJANGO_SETTINGS_MODULE="kvportal.settings",
        KVPORTAL_SECRET_KEY="x" * 50,
        KVPORTAL_VAR_DIR=os.environ.get("KVPORTAL_VAR_DIR", "/tmp"),
        **env,
    )
    out = subprocess.run(
        [sys.executable, "-c", _PRINT], env=environ, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_https_on_turns_the_redirect_on():
    config = production_settings(KVPORTAL_HTTPS="1")
    assert config["redirect"] is True
    assert config["hsts"] > 0
    assert production_settings(KVPORTAL_HTTPS="0")["redirect"] is False
    assert production_settings(KVPORTAL_HTTPS="1", KVPORTAL_SSL_REDIRECT="0")["redirect"] is False


def test_proxy_header_only_when_behind_a_proxy():
    assert production_settings(KVPORTAL_HTTPS="1")["proxy"] is None
    behind = production_settings(KVPORTAL_HTTPS="1", KVPORTAL_BEHIND_PROXY="1")
    assert behind["proxy"] == ["HTTP_X_FORWARDED_PROTO", "https"]


@pytest.fixture
def https_on(settings):
    config = production_settings(KVPORTAL_HTTPS="1", KVPORTAL_BEHIND_PROXY="1")
    settings.SECURE_SSL_REDIRECT = config["redirect"]
    settings.SECURE_REDIRECT_EXEMPT = config["exempt"]
    settings.SECURE_PROXY_SSL_HEADER = tuple(config["proxy"])
    return config


def test_plain_http_is_redirected_to_https(client, https_on):
    for path in ("/", "/login/", "/api/openapi.json", "/api/v1/billing/submissions/?x=1"):
        response = client.get(path)
        assert response.status_code == 301, path
        assert response["Location"] == f"https://testserver{path}"


def test_https_via_proxy_header_is_not_redirected(client, https_on):
    response = client.get("/api/openapi.json", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert client.get("/healthz", secure=True).status_code == 200


def test_probes_stay_on_plain_http(client, https_on):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200

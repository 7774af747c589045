"""Liveness (`/healthz`) and readiness (`/readyz`): readiness names what failed, liveness
never depends on the database (issue 11: "/healthz says ok while PostgreSQL is down")."""

from __future__ import annotations

import os
import shutil
import socket

import pytest
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper

from kvportal.core.storage import private_storage

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def database_down(monkeypatch):
    """Every attempt to reach the database fails the way a stopped server does."""

    def refuse(self):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", refuse)
    monkeypatch.setattr(BaseDatabaseWrapper, "connection", None, raising=False)


def test_ready_when_everything_answers(client, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["fehlgeschlagen"] == []
    assert body["pruefungen"]["datenbank"]["ok"] and body["pruefungen"]["speicher"]["ok"]
    assert "broker" not in body["pruefungen"], "no broker configured: nothing to check"
    assert response["Cache-Control"] == "no-store"


def test_database_down_readiness_503_liveness_ok(client, database_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fehler"
    assert body["fehlgeschlagen"] == ["datenbank"]
    assert body["pruefungen"]["datenbank"] == {"ok": False, "fehler": "OperationalError"}
    assert "127.0.0.1" not in response.content.decode(), "no exception text (hosts) leaks"
    live = client.get("/healthz")
    assert live.status_code == 200 and live.json() == {"status": "ok"}


def test_liveness_touches_no_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/healthz").status_code == 200


def test_storage_gone_is_named(client):
    private_storage._setup()
    shutil.rmtree(private_storage.location)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["fehlgeschlagen"] == ["speicher"]
    assert body["pruefungen"]["datenbank"]["ok"] is True


def test_storage_read_only_is_named(client, tmp_path):
    private_storage._setup()
    root = private_storage.location
    os.chmod(root, 0o500)
    try:
        if os.access(root, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        response = client.get("/readyz")
    finally:
        os.chmod(root, 0o700)
    assert response.status_code == 503
    assert response.json()["fehlgeschlagen"] == ["speicher"]


def test_configured_broker_unreachable_is_named(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/5"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["fehlgeschlagen"] == ["broker"]
    assert body["pruefungen"]["broker"]["ok"] is False


def test_configured_broker_that_answers(client, settings):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis(host="127.0.0.1", port=6379, db=5, socket_timeout=1).ping()
    except Exception:
        pytest.skip("no Redis on 127.0.0.1:6379")
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/5"
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["pruefungen"]["broker"]["ok"] is True


def test_real_database_driver_refused_is_named(client, monkeypatch):
    """The real driver against a database port nobody listens on (PostgreSQL or SQLite)."""
    from django.db import connections

    from kvportal.core import health

    broken = connections.create_connection("default")
    if broken.vendor == "postgresql":
        broken.settings_dict = {**broken.settings_dict, "HOST": "127.0.0.1"}
        broken.settings_dict["PORT"] = str(_closed_port())
    else:
        broken.settings_dict = {**broken.settings_dict, "NAME": "/nonexistent/dir/db.sqlite3"}
    monkeypatch.setattr(health, "connections", {"default": broken})
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["fehlgeschlagen"] == ["datenbank"]
    assert response.json()["pruefungen"]["datenbank"]["fehler"] == "OperationalError"

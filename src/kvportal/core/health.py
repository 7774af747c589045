"""Readiness checks for `/readyz`: database, private storage, broker (when configured).

Each check returns {"ok": bool, ...}; failures carry only the exception class, never its
text (it may contain host names or credentials)."""

from __future__ import annotations

import os
from collections.abc import Callable

from django.conf import settings
from django.db import connections

BROKER_TIMEOUT_SECONDS = 2


def check_database() -> dict:
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "art": connection.vendor}


def check_storage() -> dict:
    from kvportal.core.storage import private_storage

    if settings.PRIVATE_STORAGE_BACKEND == "s3":
        bucket = private_storage.bucket
        bucket.meta.client.head_bucket(Bucket=bucket.name)
        return {"ok": True, "art": "s3"}
    root = private_storage.location
    if not os.path.isdir(root) or not os.access(root, os.W_OK | os.X_OK):
        return {
            "ok": False,
            "art": "filesystem",
            "fehler": "Verzeichnis fehlt oder ist nicht beschreibbar",
        }
    return {"ok": True, "art": "filesystem"}


def check_broker() -> dict:
    from kombu import Connection

    with Connection(settings.CELERY_BROKER_URL, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS
        )
    return {"ok": True}


#: German check names shown in the JSON body.
CHECKS: dict[str, Callable[[], dict]] = {
    "datenbank": check_database,
    "speicher": check_storage,
}


def run_checks() -> dict[str, dict]:
    checks = dict(CHECKS)
    if settings.CELERY_BROKER_URL:
        checks["broker"] = check_broker
    results: dict[str, dict] = {}
    for name, check in checks.items():
        try:
            results[name] = check()
        except Exception as exc:  # a probe reports, it never raises
            results[name] = {"ok": False, "fehler": type(exc).__name__}
    return results

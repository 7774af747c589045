"""Issue 11: the embedded SQLite database is set up for a small multi-user server (WAL,
IMMEDIATE write transactions, busy timeout), checked on a real file database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.faults.conftest import ROOT

PROBE = """
import json, threading, django
django.setup()
from django.db import connection, transaction
from django.db import connections
with connection.cursor() as c:
    c.execute("PRAGMA journal_mode"); mode = c.fetchone()[0]
    c.execute("PRAGMA synchronous"); sync = c.fetchone()[0]
    c.execute("CREATE TABLE t (n integer)"); c.execute("INSERT INTO t VALUES (0)")
errors = []
def worker():
    try:
        for _ in range(20):
            with transaction.atomic():  # read, then write: the pattern that failed before
                with connection.cursor() as c:
                    c.execute("SELECT n FROM t"); n = c.fetchone()[0]
                    c.execute("UPDATE t SET n = %s", [n + 1])
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connections.close_all()
threads = [threading.Thread(target=worker) for _ in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]
with connection.cursor() as c:
    c.execute("SELECT n FROM t"); total = c.fetchone()[0]
print(json.dumps({"mode": mode, "sync": sync, "errors": errors, "total": total,
  "tx": connection.settings_dict["OPTIONS"].get("transaction_mode")}))
"""


def test_sqlite_uses_wal_and_immediate_transactions(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}",
        "DJANGO_SETTINGS_MODULE": "kvportal.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'probe.sqlite3'}",
        "KVPORTAL_VAR_DIR": str(tmp_path / "var"),
        "KVPORTAL_SECRET_KEY": "probe-only-secret-key-0123456789abcdef",
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["mode"] == "wal"
    assert result["sync"] == 1  # NORMAL
    assert result["tx"] == "IMMEDIATE"
    assert result["errors"] == []  # no "database is locked"
    assert result["total"] == 8 * 20  # no lost update either

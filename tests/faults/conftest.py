"""Fixtures of the fault tests: an own SQLite database and var directory, child processes
(Celery worker, portal server) started in their own process group and killed by that id."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
REDIS_URL = os.environ.get("FAULTS_REDIS_URL", "redis://127.0.0.1:6379/3")
#: generous: the machine is shared by many test runs
TIMEOUT = float(os.environ.get("FAULTS_TIMEOUT", "180"))


def redis_ok() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping())
    except Exception:
        return False


class Env:
    def __init__(self, tmp: Path, broker: bool) -> None:
        self.tmp = tmp
        self.db = tmp / "faults.sqlite3"
        self.env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}",
            "DJANGO_SETTINGS_MODULE": "tests.faults.fault_settings",
            "DATABASE_URL": f"sqlite:///{self.db}",
            "KVPORTAL_VAR_DIR": str(tmp / "var"),
            "KVPORTAL_SECRET_KEY": "faults-only-secret-key-0123456789abcdef",
            "KVPORTAL_HTTPS": "0",
            "KVPORTAL_DEBUG": "0",
            "KVPORTAL_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CELERY_BROKER_URL": REDIS_URL if broker else "",
        }
        self.procs: list[subprocess.Popen] = []

    def run(self, *args: str) -> str:
        out = subprocess.run(
            [PY, *args], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT
        )
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout

    def start(self, *args: str, log: str) -> subprocess.Popen:
        handle = open(self.tmp / log, "ab")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            [PY, *args],
            env=self.env,
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        """kill -9 of the process group this fixture started (never anything else)."""
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def log(self, name: str) -> str:
        path = self.tmp / name
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    # --- reading the database directly (the processes own it) ---
    def row(self, pk: int) -> dict:
        with sqlite3.connect(self.db, timeout=30) as con:
            con.row_factory = sqlite3.Row
            row = con.execute(
                "select state, progress, check_attempts, check_status, report "
                "from billing_submission where id = ?",
                (pk,),
            ).fetchone()
        return dict(row)

    def checked_events(self, pk: int) -> int:
        with sqlite3.connect(self.db, timeout=30) as con:
            rows = con.execute(
                "select detail from audit_accesslogentry where object_type = ? and object_id = ?",
                ("billing.submission", str(pk)),
            ).fetchall()
        return sum(1 for (d,) in rows if json.loads(d or "{}").get("event") == "billing.checked")

    def wait_for(self, what: str, predicate, *, poke=None) -> None:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if poke is not None:
                poke()
            if predicate():
                return
            time.sleep(0.2)
        logs = "\n".join(f"--- {p.name}\n{self.log(p.name)}" for p in self.tmp.glob("*.log"))
        pytest.fail(f"timed out waiting for {what}\n{logs}")


@pytest.fixture
def fault_env(tmp_path):
    def make(*, broker: bool) -> Env:
        env = Env(tmp_path, broker)
        env.run("-m", "django", "migrate", "--noinput", "-v", "0")
        return env

    created: list[Env] = []

    def factory(*, broker: bool) -> Env:
        env = make(broker=broker)
        created.append(env)
        return env

    yield factory
    for env in created:
        for proc in env.procs:
            env.kill(proc)


def pytest_collection_modifyitems(config, items):
    """The fault tests start and kill processes: they run from `.ci/faults` (KVPORTAL_FAULTS=1),
    not in the ordinary suite."""
    if os.environ.get("KVPORTAL_FAULTS") == "1":
        return
    skip = pytest.mark.skip(reason="fault tests run with .ci/faults (KVPORTAL_FAULTS=1)")
    for item in items:
        if item.get_closest_marker("faults") is not None:
            item.add_marker(skip)

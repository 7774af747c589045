"""Issue 11 fault tests: kill -9 a real Celery worker (Redis broker) and a real portal server
(SQLite, no broker) in the middle of a KVDT check; the check must still finish, exactly once.

The check is slowed down by the test-only setting BILLING_CHECK_TEST_DELAY (tests/faults/
fault_settings.py); every wait polls the database with a generous timeout, no fixed sleeps."""

from __future__ import annotations

import contextlib
import os
import signal
import urllib.request
from pathlib import Path

import pytest

from tests.faults.conftest import REDIS_URL, redis_ok

pytestmark = pytest.mark.faults

PORT = int(os.environ.get("FAULTS_PORT", "18301"))


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def running_midway(env, pk):
    row = env.row(pk)
    return row["state"] == "checking" and 10 <= row["progress"] <= 80


def finished(env, pk):
    return env.row(pk)["state"] in ("accepted", "rejected")


def assert_finished_once(env, pk, *, min_attempts: int) -> None:
    row = env.row(pk)
    assert row["state"] == "accepted", row
    assert row["check_status"] in (0, 1)
    assert row["check_attempts"] >= min_attempts  # it really ran again after the kill
    assert env.checked_events(pk) == 1  # the result was written exactly once


def create(env) -> int:
    return int(env.run("-m", "tests.faults.helper", "create").strip().splitlines()[-1])


@pytest.mark.skipif(not redis_ok(), reason=f"Redis not reachable at {REDIS_URL}")
def test_killed_celery_worker_check_finishes_exactly_once(fault_env, tmp_path):
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()  # our own db number only
    env = fault_env(broker=True)
    worker_args = ("-m", "celery", "-A", "kvportal", "worker", "-c", "1", "-P", "prefork")
    worker = env.start(*worker_args, "-l", "info", log="worker1.log")
    env.start(
        "-m", "celery", "-A", "kvportal", "beat", "-l", "info",
        "-s", str(tmp_path / "beat-schedule"), "--scheduler", "celery.beat:PersistentScheduler",
        log="beat.log",
    )  # fmt: skip

    # 1) the pool child dies mid-check: the task is rejected back to the queue, not acked
    first = create(env)
    env.wait_for("the first check to run", lambda: running_midway(env, first))
    pool = children(worker.pid)
    assert pool, "no pool process found"
    for pid in pool:
        os.kill(pid, signal.SIGKILL)
    env.wait_for("the first check to finish", lambda: finished(env, first))
    assert_finished_once(env, first, min_attempts=2)

    # 2) the whole worker dies mid-check: after its lease the periodic job starts it again
    second = create(env)
    env.wait_for("the second check to run", lambda: running_midway(env, second))
    env.kill(worker)
    assert env.row(second)["state"] == "checking"
    env.start(*worker_args, "-l", "info", log="worker2.log")
    env.wait_for("the second check to finish", lambda: finished(env, second))
    assert_finished_once(env, second, min_attempts=2)


def test_killed_portal_server_check_finishes_exactly_once(fault_env):
    env = fault_env(broker=False)
    pk = create(env)  # an upload whose in-process check never ran

    def poke():
        with contextlib.suppress(OSError):  # still starting
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=5).read()

    server_args = ("-m", "django", "runserver", "--noreload", f"127.0.0.1:{PORT}")
    server = env.start(*server_args, log="server1.log")
    env.wait_for("the check to run in the portal", lambda: running_midway(env, pk), poke=poke)
    env.kill(server)
    assert env.row(pk)["state"] == "checking"
    env.start(*server_args, log="server2.log")
    env.wait_for("the check to finish after the restart", lambda: finished(env, pk), poke=poke)
    assert_finished_once(env, pk, min_attempts=2)

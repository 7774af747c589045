"""Issue 11 fault test with real processes and a real SMTP server (aiosmtpd), no broker: a mail
whose first send failed (SMTP down) and a mail whose job was killed (kill -9) holding its lease
are both delivered by the running portal's recovery, each exactly once.

Waits poll the database and the mailbox with a generous timeout (`FAULTS_TIMEOUT`), no fixed
sleeps; the outbox back-off and lease are shortened by tests/faults/fault_settings.py."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import urllib.request

import pytest

from tests.faults.conftest import PY, ROOT, TIMEOUT

pytestmark = pytest.mark.faults

PORT = int(os.environ.get("FAULTS_OUTBOX_PORT", "18302"))
SMTP_PORT = int(os.environ.get("FAULTS_SMTP_PORT", "18325"))


def job(env, key: str) -> dict:
    with sqlite3.connect(env.db, timeout=30) as con:
        con.row_factory = sqlite3.Row
        row = con.execute(
            "select id, state, attempts, payload from core_outboxjob where key = ?",
            (f"mail:{key}",),
        ).fetchone()
    return dict(row) if row else {}


def delivered(mailbox, key_subject: str = "Fehlertest") -> int:
    new = mailbox / "new"
    if not new.exists():
        return 0
    return sum(1 for p in new.iterdir() if key_subject in p.read_text(errors="replace"))


def test_smtp_down_and_killed_job_are_delivered_exactly_once(fault_env, tmp_path):
    env = fault_env(broker=False)
    env.env.update(
        {
            "KVPORTAL_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "KVPORTAL_EMAIL_HOST": "127.0.0.1",
            "KVPORTAL_EMAIL_PORT": str(SMTP_PORT),
        }
    )
    mailbox = tmp_path / "mailbox"

    # 1) the SMTP server is down: the first send fails, the job waits for its retry
    env.run("-m", "tests.faults.helper", "mail", "faults.smtp-down")
    first = job(env, "faults.smtp-down")
    assert first["state"] == "pending" and first["attempts"] == 1

    # 2) a process is killed inside the job: its lease holds the job for a while
    killed = subprocess.run(
        [PY, "-m", "tests.faults.helper", "die-in-mail", "faults.killed"],
        env=env.env, cwd=ROOT, capture_output=True, timeout=TIMEOUT,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr[-2000:]
    second = job(env, "faults.killed")
    assert second["state"] == "pending" and second["attempts"] == 1

    # 3) the SMTP server and the portal (no broker) come up: the recovery delivers both
    env.start(
        "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{SMTP_PORT}",
        "-c", "aiosmtpd.handlers.Mailbox", str(mailbox), log="smtp.log",
    )  # fmt: skip
    env.start("-m", "django", "runserver", "--noreload", f"127.0.0.1:{PORT}", log="server.log")

    def poke():
        with contextlib.suppress(OSError):  # still starting
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=5).read()

    env.wait_for(
        "both mails to be delivered",
        lambda: (
            job(env, "faults.smtp-down").get("state") == "done"
            and job(env, "faults.killed").get("state") == "done"
        ),
        poke=poke,
    )
    assert delivered(mailbox) == 2
    for key in ("faults.smtp-down", "faults.killed"):
        row = job(env, key)
        assert row["attempts"] >= 2 and row["payload"] == ""  # secret deleted after the send
    # a further recovery run sends nothing again
    env.run("-c", "import django; django.setup(); "
            "from django.utils import timezone; from kvportal.core.registry import "
            "run_recoverers; print(run_recoverers(now=timezone.now()))")  # fmt: skip
    assert delivered(mailbox) == 2

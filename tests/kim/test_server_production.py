"""Postfix/Dovecot glue: checkpassword protocol, the KOM-LE before-queue filter, configs."""

from __future__ import annotations

import os
import shutil
import smtplib
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from kvportal.kim import fachdienst, production

from .test_roundtrip import CLIENT_MAIL
from .test_server_fachdienst import ALPHA, BETA, PASSWORDS, SMALL, accounts, free_port, komle_mail

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kim"


def _run_checkpassword(source, payload: bytes, environ=None):
    read, write = os.pipe()
    os.write(write, payload)
    os.close(write)
    calls = []
    try:
        code = production.checkpassword(
            source, ["/bin/reply"], fd=read, environ=environ or {},
            execve=lambda path, argv, env: calls.append((path, argv, env)),
        )  # fmt: skip
    finally:
        os.close(read)
    return code, calls


def test_checkpassword_success_execs_reply_with_limits():
    source = accounts()
    payload = f"{SMALL.upper()}\x00{PASSWORDS[SMALL]}\x00123\x00".encode()
    _code, calls = _run_checkpassword(source, payload)
    (path, _argv, env) = calls[0]
    assert path == "/bin/reply" and env["USER"] == SMALL and env["HOME"].endswith(SMALL)
    assert env["userdb_namespace/inbox/mailbox/INBOX/autoexpunge"] == "90d"
    assert env["userdb_quota_rule"] == "*:storage=0"  # unlimited
    assert set(env["EXTRA"].split()) == {
        "userdb_quota_rule", "userdb_namespace/inbox/mailbox/INBOX/autoexpunge",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (f"{ALPHA}\0falsch\0".encode(), production.CHECKPASSWORD_FAIL),
        (b"niemand@kv-test.kim.example\0x\0", production.CHECKPASSWORD_FAIL),
        (b"kaputt", production.CHECKPASSWORD_USAGE),
    ],
)
def test_checkpassword_refusals(payload, expected):
    code, calls = _run_checkpassword(accounts(), payload)
    assert code == expected and calls == []


def test_checkpassword_userdb_lookup_and_temporary_failure():
    code, calls = _run_checkpassword(accounts(), f"{BETA}\0\0".encode(), {"AUTHORIZED": "1"})
    assert calls and calls[0][2]["AUTHORIZED"] == "2"

    class Broken(fachdienst.InMemoryAccountSource):
        def lookup(self, address):
            raise RuntimeError("database down")

    code, calls = _run_checkpassword(Broken({}), f"{BETA}\0x\0".encode())
    assert code == production.CHECKPASSWORD_TEMP and calls == []


def test_load_source_from_file_and_factory(tmp_path):
    (tmp_path / "k.txt").write_text(f"{ALPHA} geheim\n")
    assert production.load_source(str(tmp_path / "k.txt")).lookup(ALPHA)
    assert production.load_source("tests.kim.test_server_fachdienst:accounts").lookup(BETA)
    with pytest.raises(fachdienst.AccountFileError, match="nicht gefunden"):
        production.load_source("kvportal.kim.gibtsnicht:x")


class _Collector:
    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def test_filter_relays_komle_and_refuses_the_rest(pki):
    collector, next_port, port = _Collector(), free_port(), free_port()
    downstream = Controller(collector, hostname="127.0.0.1", port=next_port)
    downstream.start()
    flt = production.filter_controller(accounts(), port=port, next_hop=("127.0.0.1", next_port))
    flt.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as conn:
            conn.sendmail(ALPHA, [BETA], komle_mail(pki))
            with pytest.raises(smtplib.SMTPDataError) as exc:
                conn.sendmail(ALPHA, [BETA], CLIENT_MAIL)
            assert exc.value.smtp_code == 554
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                conn.sendmail(ALPHA, ["niemand@kv-test.kim.example"], komle_mail(pki))
            conn.mail(ALPHA)  # no SIZE: SMALL's limit is found at DATA → DSN to the sender
            conn.rcpt(BETA)
            conn.rcpt(SMALL)
            code, _ = conn.data(komle_mail(pki, (BETA, SMALL), extra=b"z" * 20_000))
            assert code == 250
    finally:
        flt.stop()
        downstream.stop()
    assert [(m[0], m[1]) for m in collector.mails] == [
        (ALPHA, [BETA]), (ALPHA, [BETA]), ("<>", [ALPHA]),
    ]  # fmt: skip
    assert b"X-KIM-Fehlermeldung: 4018" in collector.mails[2][2]


@pytest.mark.skipif(shutil.which("postconf") is None, reason="Postfix not installed")
def test_postfix_accepts_the_configuration(tmp_path):
    for name in ("main.cf", "master.cf"):
        shutil.copy(DEPLOY / "postfix" / name, tmp_path / name)
    result = subprocess.run(
        ["postconf", "-c", str(tmp_path), "-n"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    assert "smtpd_sender_restrictions = reject_sender_login_mismatch" in result.stdout


@pytest.mark.skipif(shutil.which("doveconf") is None, reason="Dovecot not installed")
def test_dovecot_parses_the_configuration():
    result = subprocess.run(
        ["doveconf", "-c", str(DEPLOY / "dovecot" / "dovecot.conf"), "-n"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "checkpassword" in result.stdout

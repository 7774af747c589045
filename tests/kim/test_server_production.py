"""Postfix/Dovecot glue: checkpassword protocol, the KOM-LE before-queue filter, configs."""

from __future__ import annotations

import datetime as dt
import os
import poplib
import shutil
import smtplib
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from kvportal.kim import fachdienst, production, services

from . import live
from .test_portal_support import *  # noqa: F403 (fixtures)
from .test_portal_support import practice_account
from .test_roundtrip import CLIENT_MAIL
from .test_server_fachdienst import (
    ALPHA,
    BETA,
    PASSWORDS,
    SMALL,
    accounts,
    free_port,
    komle_mail,
    server_tls,
)

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
    assert (env["userdb_uid"], env["userdb_gid"]) == ("vmail", "vmail")
    assert set(env["EXTRA"].split()) == {
        "userdb_quota_rule", "userdb_namespace/inbox/mailbox/INBOX/autoexpunge",
        "userdb_uid", "userdb_gid",
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


# --- live: the shipped configuration on running Postfix and Dovecot (.ci/kim-live) -------------


def _database_url_for_other_processes() -> str | None:
    """The test database as a URL another process can open (PostgreSQL), else None."""
    from django.db import connection

    db = connection.settings_dict
    if "postgresql" not in db["ENGINE"]:
        return None  # SQLite test databases live in this process's memory
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.skipif(
    not live.installed() or os.geteuid() != 0,
    reason="needs root and Postfix/Dovecot (.ci/kim-live installs them)",
)
@pytest.mark.django_db(transaction=True)
def test_live_postfix_dovecot_with_the_portal_as_account_source(
    pki, tmp_path, settings, doctor, practice, registrar
):
    url = _database_url_for_other_processes()
    if url is None:
        pytest.skip("Dovecot's checkpassword needs a shared database: run on PostgreSQL")
    from django.contrib.auth.hashers import make_password

    from kvportal.kim.accountsource import PortalAccountSource

    practice_box, practice_pw = practice_account(doctor, practice, registrar)
    personal = services.request_personal_account(actor=doctor, local_part="dr-live")
    personal_box = services.register_account(actor=registrar, account=personal).account
    personal_box.password_hash = make_password("pw-Persoenlich-1")
    personal_box.save(update_fields=["password_hash"])
    _server_ctx, client_ctx = server_tls(pki, tmp_path)
    env = {
        "DJANGO_SETTINGS_MODULE": "kvportal.test_settings",
        "DATABASE_URL": url,
        "KVPORTAL_SECRET_KEY": "test-secret-key-not-for-production",
        "KVPORTAL_FAST_HASHER": "1",
        "KVPORTAL_VAR_DIR": str(tmp_path / "var"),
        "KVPORTAL_KIM_DOMAIN": settings.KIM_DOMAIN,
    }
    server = live.start(
        domain=settings.KIM_DOMAIN, tls_cert=tmp_path / "srv.crt", tls_key=tmp_path / "srv.key",
        env=env, accounts="kvportal.kim.accountsource:PortalAccountSource",
    )  # fmt: skip
    flt = production.filter_controller(
        PortalAccountSource(), port=server.filter_port, next_hop=("127.0.0.1", server.after_filter)
    )
    flt.start()
    sender, recipient = practice_box.address, personal_box.address
    message = komle_mail(pki, (recipient,)).replace(ALPHA.encode(), sender.encode())
    message = message.replace(BETA.encode(), recipient.encode())
    try:
        with smtplib.SMTP("127.0.0.1", server.submission, timeout=30) as conn:
            conn.starttls(context=client_ctx)
            with pytest.raises(smtplib.SMTPAuthenticationError):
                conn.login(sender, practice_pw + "x")  # Dovecot asked the portal: wrong
            conn.login(sender, practice_pw)
            refused = conn.sendmail(sender, [recipient], message)
            assert refused == {}
            with pytest.raises(smtplib.SMTPDataError) as plain:
                conn.sendmail(sender, [recipient], CLIENT_MAIL)
            assert plain.value.smtp_code == 554  # the filter: KOM-LE only
            # speed_adjust: Postfix hands the recipients to the filter with the data
            with pytest.raises((smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)) as unknown:
                conn.sendmail(sender, [f"niemand@{settings.KIM_DOMAIN}"], message)
            assert "550" in str(unknown.value) and "unbekannt" in str(unknown.value)
            with pytest.raises(smtplib.SMTPRecipientsRefused) as foreign:  # smtpd_delay_reject
                conn.sendmail(recipient, [recipient], message)  # login ≠ envelope sender
            assert "553" in str(foreign.value) and "not owned by user" in str(foreign.value)
        with smtplib.SMTP_SSL(
            "127.0.0.1", server.submissions, timeout=30, context=client_ctx
        ) as conn:  # 465, implicit TLS
            conn.login(recipient, "pw-Persoenlich-1")
            assert conn.sendmail(recipient, [sender], message) == {}
        live.wait_for_delivery(server, recipient, 1)
        live.wait_for_delivery(server, sender, 1)

        # (Dovecot counts 127.0.0.1 as secured, so "no login before STLS" is not testable here)
        box = poplib.POP3("127.0.0.1", server.pop3, timeout=30)
        box.stls(context=client_ctx)
        box.user(recipient)
        box.pass_("pw-Persoenlich-1")
        assert box.stat()[0] == 1
        fetched = b"\r\n".join(box.retr(1)[1])
        box.dele(1)
        box.quit()
        assert b"authenticated-enveloped-data" in fetched
        assert fetched.rstrip().endswith(message.rstrip().splitlines()[-1])
        box = poplib.POP3_SSL("127.0.0.1", server.pop3s, timeout=30, context=client_ctx)
        box.user(sender)
        box.pass_(practice_pw)
        assert box.stat()[0] == 1
        box.quit()
        ended = services.deregister_account(actor=doctor, account=practice_box)
        services.finish_deregistrations(now=ended.deregistration_date + dt.timedelta(days=1))
        box = poplib.POP3_SSL("127.0.0.1", server.pop3s, timeout=30, context=client_ctx)
        box.user(sender)
        with pytest.raises(poplib.error_proto):
            box.pass_(practice_pw)  # the portal ended the account: Dovecot refuses
    finally:
        flt.stop()
        log = server.log()
        live.stop(server)
    assert "checkpassword" not in log or "Child" not in log, log

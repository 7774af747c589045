"""Fachdienst on 127.0.0.1: SMTP (STARTTLS/465) → store → POP3 (STLS/995), limits, refusals."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import io
import ipaddress
import poplib
import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from kvportal.kim import cli, dsn, fachdienst, komle, mail

from .test_roundtrip import CLIENT_MAIL

ALPHA, BETA = "praxis-alpha@kv-test.kim.example", "dr-beta@kv-test.kim.example"
SMALL, FULL = "klein@kv-test.kim.example", "voll@kv-test.kim.example"
GONE = "abgemeldet@kv-test.kim.example"
PASSWORDS = {ALPHA: "pw-alpha-Test1", BETA: "pw-beta-Test1", SMALL: "pw-klein", FULL: "pw-voll"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_tls(pki, folder):
    """(server context, client context) with a TLS certificate for 127.0.0.1 from the test CA."""
    ca = pki["ca"]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fachdienst.test")]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    (folder / "srv.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (folder / "srv.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "srv.crt", folder / "srv.key")
    client = ssl.create_default_context(
        cadata=ca.cert.public_bytes(serialization.Encoding.PEM).decode()
    )
    return server, client


@pytest.fixture(scope="module")
def tls(pki, tmp_path_factory):
    return server_tls(pki, tmp_path_factory.mktemp("tls"))


def accounts(cls=fachdienst.InMemoryAccountSource) -> fachdienst.InMemoryAccountSource:
    limits = fachdienst.AccountLimits
    return cls(
        {
            ALPHA: PASSWORDS[ALPHA],
            BETA: PASSWORDS[BETA],
            SMALL: (PASSWORDS[SMALL], limits(max_mail_size=20_000)),
            FULL: (PASSWORDS[FULL], limits(quota=30_000, data_time_to_live=10)),
        }
    )


class _WithInactive(fachdienst.InMemoryAccountSource):
    def lookup(self, address):
        if address.lower() == GONE:
            return fachdienst.Account(address=GONE, active=False)
        return super().lookup(address)


@dataclass
class Fachdienst:
    store: fachdienst.MailStore
    client_tls: ssl.SSLContext
    smtp: int
    smtps: int
    pop3: int
    pop3s: int
    source: fachdienst.InMemoryAccountSource


@contextlib.contextmanager
def running(store, source, tls_pair, *, max_size=200_000):
    server_ctx, client_ctx = tls_pair
    ports = [free_port() for _ in range(4)]
    controllers = [
        fachdienst.smtp_controller(
            store, source=source, tls=server_ctx, port=ports[0], max_size=max_size
        ),
        fachdienst.smtp_controller(
            store, source=source, tls=server_ctx, port=ports[1], implicit_tls=True,
            max_size=max_size,
        ),
    ]  # fmt: skip
    for controller in controllers:
        controller.start()
    loop = asyncio.new_event_loop()
    pop = fachdienst.Pop3Server(store, source=source, tls=server_ctx)
    ready = threading.Event()
    servers = []

    def run():
        asyncio.set_event_loop(loop)
        servers.append(loop.run_until_complete(pop.start("127.0.0.1", ports[2])))
        servers.append(loop.run_until_complete(pop.start("127.0.0.1", ports[3], implicit_tls=True)))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield Fachdienst(store, client_ctx, *ports, source=source)
    finally:
        for controller in controllers:
            controller.stop()
        for server in servers:
            loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


@pytest.fixture
def fd(tls, tmp_path):
    source = accounts(_WithInactive)
    with running(fachdienst.MailStore(tmp_path / "store"), source, tls) as server:
        yield server


def smtp(fd: Fachdienst, user=ALPHA, *, implicit=False):
    if implicit:
        conn = smtplib.SMTP_SSL("127.0.0.1", fd.smtps, timeout=10, context=fd.client_tls)
    else:
        conn = smtplib.SMTP("127.0.0.1", fd.smtp, timeout=10)
        conn.starttls(context=fd.client_tls)
    conn.login(user, PASSWORDS[user])
    return conn


def pop3(fd: Fachdienst, user=BETA, *, implicit=False):
    if implicit:
        conn = poplib.POP3_SSL("127.0.0.1", fd.pop3s, timeout=10, context=fd.client_tls)
    else:
        conn = poplib.POP3("127.0.0.1", fd.pop3, timeout=10)
        conn.stls(context=fd.client_tls)
    if user:
        conn.user(user)
        conn.pass_(PASSWORDS[user])
    return conn


def komle_mail(pki, recipients=(BETA,), extra=b""):
    certs = {ALPHA: pki["alice"].cert, BETA: pki["bob"].cert}
    return mail.build(
        CLIENT_MAIL + extra,
        signer_key=pki["signer"].key,
        signer_cert=pki["signer"].cert,
        recipients=[(r, certs.get(r, pki["mallory"].cert)) for r in recipients],
    )


def stored(fd, account):
    return [m.path.read_bytes() for m in fd.store.messages(account)]


# --- end to end ----------------------------------------------------------------------------


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls-stls", "implicit-tls"])
def test_send_store_fetch_decrypt_verify(pki, fd, implicit):
    with smtp(fd, implicit=implicit) as conn:
        conn.sendmail(ALPHA, [BETA], komle_mail(pki, (ALPHA, BETA)))
    held = stored(fd, BETA)
    assert len(held) == 1 and b"Synthetischer" not in held[0]  # only ciphertext is held

    pop = pop3(fd, implicit=implicit)
    assert pop.stat()[0] == 1
    _resp, lines, _octets = pop.retr(1)
    pop.dele(1)
    pop.quit()
    outer = mail.split(b"\r\n".join(lines) + b"\r\n")
    assert outer.get("Subject") == "KOM-LE-Nachricht"
    opened = komle.decrypt(mail.decoded_body(outer), pki["bob"].key)
    signed = mail.decoded_body(mail.split(opened.content))
    result = komle.verify(signed, trust=[pki["ca"].cert])
    assert result.signature_valid and result.chain_valid
    assert result.content == mail.RFC822_WRAP_HEADER + CLIENT_MAIL
    assert fd.store.messages(BETA) == []  # DELE + QUIT removed it


def test_the_server_holds_no_private_key_material(fd, pki):
    with smtp(fd) as conn:
        conn.sendmail(ALPHA, [BETA], komle_mail(pki))
    for path in fd.store.root.rglob("*"):
        if path.is_file():
            assert b"PRIVATE KEY" not in path.read_bytes()


# --- SMTP refusals ----------------------------------------------------------------------------


def test_plain_mail_is_refused(fd):
    with smtp(fd) as conn, pytest.raises(smtplib.SMTPDataError) as exc:
        conn.sendmail(ALPHA, [BETA], CLIENT_MAIL)
    assert exc.value.smtp_code == 554 and b"KOM-LE" in exc.value.smtp_error
    assert fd.store.messages(BETA) == []


def test_sender_must_be_the_authenticated_account(pki, fd):
    with smtp(fd) as conn, pytest.raises(smtplib.SMTPSenderRefused) as exc:
        conn.sendmail(BETA, [BETA], komle_mail(pki))
    assert exc.value.smtp_code == 553
    assert fd.store.messages(BETA) == []


@pytest.mark.parametrize("address", ["niemand@kv-test.kim.example", GONE])
def test_unknown_or_deregistered_recipient_is_refused(pki, fd, address):
    with smtp(fd) as conn, pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
        conn.sendmail(ALPHA, [address], komle_mail(pki, (address,)))
    assert exc.value.recipients[address][0] == 550


def test_server_wide_size_cap(pki, fd):
    big = komle_mail(pki, extra=b"x" * 300_000)
    with smtp(fd) as conn, pytest.raises(smtplib.SMTPException):
        conn.sendmail(ALPHA, [BETA], big)
    assert fd.store.messages(BETA) == []


def test_sender_account_limit_refuses_with_552(pki, fd):
    message = komle_mail(pki, (BETA,), extra=b"y" * 20_000)
    with smtp(fd, SMALL) as conn:
        code, _msg = conn.mail(SMALL, [f"SIZE={len(message)}"])
        assert code == 552
        conn.rset()
        conn.mail(SMALL)  # without SIZE the limit is checked at DATA
        conn.rcpt(BETA)
        code, text = conn.data(message)
    assert code == 552 and b"5.3.4" in text
    assert fd.store.messages(BETA) == []


def test_recipient_limit_delivers_to_the_others_and_reports_4018(pki, fd):
    message = komle_mail(pki, (BETA, SMALL), extra=b"z" * 20_000)
    with smtp(fd) as conn:
        refused = conn.sendmail(ALPHA, [BETA, SMALL], message)  # smtplib sends SIZE=
        assert refused[SMALL][0] == 552  # refused at RCPT, known from SIZE
        conn.mail(ALPHA)  # without SIZE: accepted for BETA, SMALL fails at DATA → DSN
        conn.rcpt(BETA)
        conn.rcpt(SMALL)
        code, _ = conn.data(message)
    assert code == 250
    fd.store.remove(fd.store.messages(BETA)[0])
    assert len(stored(fd, BETA)) == 1 and stored(fd, SMALL) == []
    (report,) = stored(fd, ALPHA)
    part = mail.split(report)
    assert part.content_type == "multipart/report"
    assert part.headers.get_param("report-type") == "delivery-status"
    assert part.get("X-KIM-Fehlermeldung") == str(dsn.SIZE_OVER_LIMIT)
    assert part.get("To") == f"<{ALPHA}>"
    assert f"Final-Recipient: rfc822; {SMALL}".encode() in report
    assert b"Action: failed" in report and b"Status: 5.3.4" in report
    assert b"Subject: KOM-LE-Nachricht" in report  # text/rfc822-headers of the original
    assert b"Synthetischer" not in report


def test_quota_full_refuses_and_nothing_is_lost(pki, fd):
    first = komle_mail(pki, (FULL,), extra=b"q" * 9_000)
    assert len(first) < 30_000 < 2 * len(first)  # FULL's quota holds exactly one
    with smtp(fd) as conn:
        conn.sendmail(ALPHA, [FULL], first)
        with pytest.raises(smtplib.SMTPDataError) as exc:
            conn.sendmail(ALPHA, [FULL], first)
    assert exc.value.smtp_code == 552 and b"5.2.2" in exc.value.smtp_error
    assert len(fd.store.messages(FULL)) == 1  # the first one is kept


def test_unauthenticated_and_wrong_password_are_refused(pki, fd):
    conn = smtplib.SMTP("127.0.0.1", fd.smtp, timeout=10)
    conn.ehlo()
    assert not conn.has_extn("auth")  # no AUTH before STARTTLS
    conn.starttls(context=fd.client_tls)
    with pytest.raises(smtplib.SMTPAuthenticationError):
        conn.login(ALPHA, "falsch")
    with pytest.raises(smtplib.SMTPSenderRefused):
        conn.sendmail(ALPHA, [BETA], komle_mail(pki))
    conn.close()
    conn = smtplib.SMTP("127.0.0.1", fd.smtp, timeout=10)
    conn.ehlo()
    code, _ = conn.mail(ALPHA)
    assert code == 530  # STARTTLS required
    conn.close()


def test_auth_login_and_plain_both_work(fd):
    for mechanism in ("LOGIN", "PLAIN"):
        conn = smtplib.SMTP_SSL("127.0.0.1", fd.smtps, timeout=10, context=fd.client_tls)
        conn.user, conn.password = BETA, PASSWORDS[BETA]
        conn.ehlo()
        code, _ = conn.auth(mechanism, getattr(conn, f"auth_{mechanism.lower()}"))
        assert code == 235
        conn.quit()


def test_account_source_failure_is_a_temporary_error(tls, tmp_path):
    class Broken(fachdienst.InMemoryAccountSource):
        def check_password(self, address, password):
            raise RuntimeError("database down")

    with running(fachdienst.MailStore(tmp_path / "s"), Broken({ALPHA: "x"}), tls) as server:
        conn = smtplib.SMTP_SSL("127.0.0.1", server.smtps, timeout=10, context=server.client_tls)
        with pytest.raises(smtplib.SMTPAuthenticationError) as exc:
            conn.login(ALPHA, "x")
        assert exc.value.smtp_code == 454
        conn.close()
        pop = poplib.POP3_SSL("127.0.0.1", server.pop3s, timeout=10, context=server.client_tls)
        pop.user(ALPHA)
        with pytest.raises(poplib.error_proto, match=r"SYS/TEMP"):
            pop.pass_("x")
        pop.quit()


# --- POP3 (RFC 1939, 2449, 5034, 3206) ------------------------------------------------------


def test_capa_before_and_after_stls(fd):
    conn = poplib.POP3("127.0.0.1", fd.pop3, timeout=10)
    caps = conn.capa()
    assert "STLS" in caps and "USER" not in caps and "SASL" not in caps
    assert {"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE"} <= set(caps)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        conn.user(BETA)  # no USER before STLS
    conn.stls(context=fd.client_tls)
    caps = conn.capa()
    assert "STLS" not in caps and "USER" in caps and caps["SASL"] == ["PLAIN"]
    conn.quit()


def test_wrong_password_and_in_use(fd):
    conn = pop3(fd, user=None, implicit=True)
    conn.user(BETA)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        conn.pass_("falsch")
    first = pop3(fd, implicit=True)
    second = pop3(fd, user=None, implicit=True)
    second.user(BETA)
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        second.pass_(PASSWORDS[BETA])
    first.quit()
    second.user(BETA)
    second.pass_(PASSWORDS[BETA])  # the lock ends with the first session
    second.quit()
    conn.quit()


def test_sasl_plain_login(fd):
    conn = pop3(fd, user=None, implicit=True)
    blob = base64.b64encode(f"\0{BETA}\0{PASSWORDS[BETA]}".encode()).decode()
    assert conn._shortcmd(f"AUTH PLAIN {blob}").startswith(b"+OK")
    assert conn.stat() == (0, 0)
    conn.quit()
    conn = pop3(fd, user=None, implicit=True)
    bad = base64.b64encode(f"\0{BETA}\0falsch".encode()).decode()
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        conn._shortcmd(f"AUTH PLAIN {bad}")
    conn.quit()


def test_list_uidl_top_dele_rset(fd):
    messages = [
        b"Subject: eins\r\nX-N: 1\r\n\r\nZeile 1\r\nZeile 2\r\nZeile 3\r\n",
        b"Subject: zwei\r\n\r\n.punkt am Anfang\r\nEnde\r\n",
    ]
    now = dt.datetime.now(dt.UTC)
    for i, data in enumerate(messages):
        fd.store.deliver(BETA, data, now=now - dt.timedelta(minutes=10 - i))
    conn = pop3(fd, implicit=True)
    _resp, listing, _ = conn.list()
    sizes = {int(n): int(s) for n, s in (line.split() for line in listing)}
    assert sizes == {1: len(messages[0]), 2: len(messages[1])}
    _resp, uids, _ = conn.uidl()
    uid_map = dict(line.decode().split() for line in uids)
    assert len(set(uid_map.values())) == 2
    assert all(
        0 < len(u) <= 70 and all(0x21 <= ord(c) <= 0x7E for c in u) for u in uid_map.values()
    )
    _resp, top, _ = conn.top(1, 1)
    assert top == [b"Subject: eins", b"X-N: 1", b"", b"Zeile 1"]
    _resp, lines, octets = conn.retr(2)
    assert lines[2] == b".punkt am Anfang"  # byte-stuffed on the wire, unstuffed by poplib
    assert octets >= len(messages[1])
    conn.dele(1)
    with pytest.raises(poplib.error_proto):
        conn.retr(1)
    assert conn.stat()[0] == 1
    conn.rset()
    assert conn.stat()[0] == 2
    conn.dele(1)
    conn.quit()
    conn = pop3(fd, implicit=True)
    _resp, uids_after, _ = conn.uidl()
    assert [line.split()[1] for line in uids_after] == [uid_map["2"].encode()]  # UIDs stable
    conn.quit()


def test_raw_wire_format_is_dot_stuffed_and_terminated(fd):
    fd.store.deliver(BETA, b"Subject: x\n\n.a\n..b\nc")
    raw = socket.create_connection(("127.0.0.1", fd.pop3s), timeout=10)
    sock = fd.client_tls.wrap_socket(raw, server_hostname="127.0.0.1")
    reader = sock.makefile("rb")
    reader.readline()
    for line in (f"USER {BETA}", f"PASS {PASSWORDS[BETA]}"):
        sock.sendall(line.encode() + b"\r\n")
        assert reader.readline().startswith(b"+OK")
    sock.sendall(b"RETR 1\r\n")
    received = b""
    while not received.endswith(b"\r\n.\r\n"):
        received += reader.readline()
    assert received == b"+OK Nachricht folgt\r\nSubject: x\r\n\r\n..a\r\n...b\r\nc\r\n.\r\n"
    sock.sendall(b"NOOP\r\n")
    assert reader.readline() == b"+OK\r\n"
    sock.close()  # dropped without QUIT: nothing deleted (no UPDATE state)
    assert len(fd.store.messages(BETA)) == 1


def test_transaction_commands_need_login_and_unknown_commands_fail(fd):
    conn = pop3(fd, user=None, implicit=True)
    for command in ("STAT", "LIST", "RETR 1", "DELE 1"):
        with pytest.raises(poplib.error_proto):
            conn._shortcmd(command)
    conn.user(BETA)
    conn.pass_(PASSWORDS[BETA])
    with pytest.raises(poplib.error_proto):
        conn._shortcmd("XYZZY")
    with pytest.raises(poplib.error_proto):
        conn._shortcmd("RETR 99")
    conn.quit()


# --- retention (dataTimeToLive) ---------------------------------------------------------------


def test_expired_mail_is_purged_at_login_and_by_purge_all(fd):
    now = dt.datetime.now(dt.UTC)
    fd.store.deliver(FULL, b"Subject: alt\r\n\r\nx\r\n", now=now - dt.timedelta(days=11))
    fd.store.deliver(FULL, b"Subject: neu\r\n\r\ny\r\n", now=now - dt.timedelta(days=9))
    conn = pop3(fd, FULL, implicit=True)
    assert conn.stat()[0] == 1  # FULL keeps mail 10 days
    conn.quit()
    fd.store.deliver(BETA, b"Subject: alt\r\n\r\nx\r\n", now=now - dt.timedelta(days=91))
    fd.store.deliver(BETA, b"Subject: neu\r\n\r\nx\r\n", now=now - dt.timedelta(days=89))
    assert fd.store.purge_all(fd.source) == 1  # default 90 days
    assert len(fd.store.messages(BETA)) == 1


def test_purge_command(tmp_path):
    (tmp_path / "konten.txt").write_text(f"{BETA} geheim ttl=30\n")
    store = fachdienst.MailStore(tmp_path / "store")
    now = dt.datetime.now(dt.UTC)
    store.deliver(BETA, b"Subject: a\r\n\r\n", now=now - dt.timedelta(days=31))
    store.deliver(BETA, b"Subject: b\r\n\r\n", now=now - dt.timedelta(days=29))
    out = io.StringIO()
    args = ["purge", "--accounts", str(tmp_path / "konten.txt"), "--store", str(tmp_path / "store")]
    assert cli.main(args, stdout=out, stderr=io.StringIO()) == cli.EXIT_OK
    assert "1 abgelaufene" in out.getvalue()
    assert len(store.messages(BETA)) == 1


# --- account source ---------------------------------------------------------------------------


def test_account_file_with_limits_and_django_hash(tmp_path):
    hashed = (
        "pbkdf2_sha256$1000$c2FsdA$"
        + base64.b64encode(
            __import__("hashlib").pbkdf2_hmac("sha256", b"geheim", b"c2FsdA", 1000)
        ).decode()
    )
    (tmp_path / "k.txt").write_text(
        f"# Konten\n{ALPHA.upper()} klartext max_mail_size=1000 quota=-1 ttl=30\n{BETA} {hashed}\n"
    )
    source = fachdienst.FileAccountSource.load(tmp_path / "k.txt")
    assert isinstance(source, fachdienst.AccountSource)
    account = source.lookup(ALPHA)
    assert account.address == ALPHA and account.limits == fachdienst.AccountLimits(1000, -1, 30)
    assert source.lookup(BETA).limits.data_time_to_live == 90  # default
    assert source.check_password(ALPHA, "klartext") and not source.check_password(ALPHA, "x")
    assert source.check_password(BETA, "geheim") and not source.check_password(BETA, hashed)
    assert not source.check_password("niemand@x.example", "klartext")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("keine-adresse\n", "Zeile 1"),
        (f"# k\n{ALPHA} pw groesse=5\n", "Zeile 2: „groesse=5“ ist keine Grenze"),
        (f"{ALPHA} pw ttl=0\n", "ttl muss mindestens 1 Tag"),
        ("# nur Kommentar\n", "kein Konto"),
    ],
)
def test_account_file_errors_name_line_and_problem(tmp_path, text, expected):
    (tmp_path / "k.txt").write_text(text)
    with pytest.raises(fachdienst.AccountFileError, match=expected):
        fachdienst.FileAccountSource.load(tmp_path / "k.txt")


def test_serve_refuses_bad_account_file_and_tls_files_in_german(tmp_path):
    (tmp_path / "konten.txt").write_text("keine-adresse\n")
    base = ["serve", "--accounts", str(tmp_path / "konten.txt"), "--store", str(tmp_path / "s"),
            "--tls-cert", str(tmp_path / "fehlt.crt"),
            "--tls-key", str(tmp_path / "fehlt.key")]  # fmt: skip
    err = io.StringIO()
    assert cli.main(base, stdout=io.StringIO(), stderr=err) == cli.EXIT_USAGE
    assert "Zeile 1" in err.getvalue() and "Traceback" not in err.getvalue()
    (tmp_path / "konten.txt").write_text(f"{ALPHA} geheim\n")
    err = io.StringIO()
    assert cli.main(base, stdout=io.StringIO(), stderr=err) == cli.EXIT_USAGE
    assert "TLS-Zertifikat" in err.getvalue()


def test_plain_error_report_only_to_the_own_account(fd):
    failure = dsn.RecipientFailure(BETA, "5.1.1", "550 x", kim_code=dsn.NO_UNIQUE_CERTIFICATE)
    report = dsn.delivery_report(
        reporting_mta="cm", sender=ALPHA, original=CLIENT_MAIL, failures=[failure]
    )
    assert dsn.is_error_report(report) and not dsn.is_error_report(CLIENT_MAIL)
    with smtp(fd) as conn:
        conn.sendmail(ALPHA, [ALPHA], report)  # the client module's DSN back to the sender
        with pytest.raises(smtplib.SMTPDataError) as exc:
            conn.sendmail(ALPHA, [BETA], report)  # but never plain text to someone else
        assert exc.value.smtp_code == 554
        with pytest.raises(smtplib.SMTPDataError):
            conn.sendmail(ALPHA, [ALPHA, BETA], report)
    assert len(fd.store.messages(ALPHA)) == 1 and fd.store.messages(BETA) == []


def test_serve_command_runs_all_listeners(pki, tls, tmp_path):
    import json
    import subprocess
    import sys
    import time
    import urllib.request

    server_tls(pki, tmp_path)  # writes srv.crt / srv.key
    (tmp_path / "konten.txt").write_text(f"{ALPHA} {PASSWORDS[ALPHA]} quota=1000000\n{BETA} x\n")
    ports = [free_port() for _ in range(5)]
    names = ["--smtp-port", "--smtps-port", "--pop3-port", "--pop3s-port", "--kas-port"]
    command = [
        sys.executable,
        "-m",
        "kvportal.kim",
        "serve",
        "--accounts",
        str(tmp_path / "konten.txt"),
        "--store",
        str(tmp_path / "store"),
        "--tls-cert",
        str(tmp_path / "srv.crt"),
        "--tls-key",
        str(tmp_path / "srv.key"),
    ]
    for name, port in zip(names, ports, strict=True):
        command += [name, str(port)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = process.stdout.readline()
        assert "KIM-Fachdienst" in banner and "KAS/HTTP" in banner, process.stderr.read()
        _server_ctx, client_ctx = tls
        with smtplib.SMTP_SSL("127.0.0.1", ports[1], timeout=10, context=client_ctx) as conn:
            conn.login(ALPHA, PASSWORDS[ALPHA])
        box = poplib.POP3_SSL("127.0.0.1", ports[3], timeout=10, context=client_ctx)
        box.user(ALPHA)
        box.pass_(PASSWORDS[ALPHA])
        box.quit()
        token = base64.b64encode(f"{ALPHA}:{PASSWORDS[ALPHA]}".encode()).decode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{ports[4]}/AccountLimit/v1.1/limit",
            headers={"Authorization": f"Basic {token}"},
        )
        for _ in range(50):  # the KAS starts right after the banner's listeners
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert json.loads(response.read())["remainQuota"] == 1_000_000
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("KAS did not answer")
    finally:
        process.terminate()
        process.wait(10)

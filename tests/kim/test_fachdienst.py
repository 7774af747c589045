"""encrypt → SMTP (STARTTLS, AUTH) → store → POP3 (STLS) → decrypt → verify, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import poplib
import smtplib
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from kvportal.kim import fachdienst, komle, mail

from .test_roundtrip import CLIENT_MAIL

SMTP_PORT, POP3_PORT = 18625, 18626
ALPHA, BETA = "praxis-alpha@kv-test.kim.example", "dr-beta@kv-test.kim.example"
ACCOUNTS = {ALPHA: "pw-alpha-Test1", BETA: "pw-beta-Test1"}


def _tls(pki, tmp_path):
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
    (tmp_path / "srv.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "srv.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "srv.crt", tmp_path / "srv.key")
    client = ssl.create_default_context(
        cadata=ca.cert.public_bytes(serialization.Encoding.PEM).decode()
    )
    return server, client


@pytest.fixture
def servers(pki, tmp_path):
    server_tls, client_tls = _tls(pki, tmp_path)
    store = fachdienst.MailStore(tmp_path / "store", set(ACCOUNTS))
    check = fachdienst.check_password(ACCOUNTS)
    smtp = fachdienst.smtp_controller(
        store, authenticate=check, tls=server_tls, port=SMTP_PORT, max_size=200_000
    )
    smtp.start()
    loop = asyncio.new_event_loop()
    pop = fachdienst.Pop3Server(store, authenticate=check, tls=server_tls)
    ready = threading.Event()
    holder = {}

    def run():
        asyncio.set_event_loop(loop)
        holder["server"] = loop.run_until_complete(pop.start("127.0.0.1", POP3_PORT))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    yield client_tls, store
    smtp.stop()
    loop.call_soon_threadsafe(holder["server"].close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def _smtp(client_tls, user=ALPHA):
    conn = smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=10)
    conn.starttls(context=client_tls)
    conn.login(user, ACCOUNTS[user])
    return conn


def _komle(pki):
    return mail.build(
        CLIENT_MAIL,
        signer_key=pki["signer"].key,
        signer_cert=pki["signer"].cert,
        recipients=[(ALPHA, pki["alice"].cert), (BETA, pki["bob"].cert)],
    )


def test_send_store_fetch_decrypt_verify(pki, servers):
    client_tls, store = servers
    with _smtp(client_tls) as conn:
        conn.sendmail(ALPHA, [BETA], _komle(pki))
    box = store.box(BETA)
    stored = [box.get_bytes(k) for k in box.iterkeys()]
    assert len(stored) == 1 and b"Synthetischer" not in stored[0]  # only ciphertext is held

    pop = poplib.POP3("127.0.0.1", POP3_PORT, timeout=10)
    pop.stls(context=client_tls)
    pop.user(BETA)
    pop.pass_(ACCOUNTS[BETA])
    assert pop.stat()[0] == 1
    _resp, lines, _octets = pop.retr(1)
    pop.dele(1)
    pop.quit()
    received = b"\r\n".join(lines) + b"\r\n"

    outer = mail.split(received)
    assert outer.get("Subject") == "KOM-LE-Nachricht"
    opened = komle.decrypt(mail.decoded_body(outer), pki["bob"].key)
    signed = mail.decoded_body(mail.split(opened.content))
    result = komle.verify(signed, trust=[pki["ca"].cert])
    assert result.signature_valid and result.chain_valid
    assert result.content == mail.RFC822_WRAP_HEADER + CLIENT_MAIL
    assert store.box(BETA).keys() == []  # DELE + QUIT removed it


def test_plain_mail_is_refused(servers):
    client_tls, store = servers
    with _smtp(client_tls) as conn, pytest.raises(smtplib.SMTPDataError) as exc:
        conn.sendmail(ALPHA, [BETA], CLIENT_MAIL)
    assert exc.value.smtp_code == 554
    assert store.box(BETA).keys() == []


def test_unknown_recipient_is_refused(pki, servers):
    client_tls, _store = servers
    with _smtp(client_tls) as conn, pytest.raises(smtplib.SMTPRecipientsRefused):
        conn.sendmail(ALPHA, ["niemand@kv-test.kim.example"], _komle(pki))


def test_size_limit(pki, servers):
    client_tls, _store = servers
    big = mail.build(
        CLIENT_MAIL + b"x" * 300_000,
        signer_key=pki["signer"].key,
        signer_cert=pki["signer"].cert,
        recipients=[(BETA, pki["bob"].cert)],
    )
    with _smtp(client_tls) as conn, pytest.raises(smtplib.SMTPException):
        conn.sendmail(ALPHA, [BETA], big)


def test_unauthenticated_and_wrong_password_are_refused(pki, servers):
    client_tls, _store = servers
    conn = smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=10)
    conn.starttls(context=client_tls)
    with pytest.raises(smtplib.SMTPAuthenticationError):
        conn.login(ALPHA, "falsch")
    with pytest.raises(smtplib.SMTPSenderRefused):
        conn.sendmail(ALPHA, [BETA], _komle(pki))
    conn.close()
    pop = poplib.POP3("127.0.0.1", POP3_PORT, timeout=10)
    with pytest.raises(poplib.error_proto):
        pop.user(BETA)  # no USER before STLS
    pop.stls(context=client_tls)
    pop.user(BETA)
    with pytest.raises(poplib.error_proto):
        pop.pass_("falsch")
    pop.quit()


def test_serve_refuses_bad_account_file_and_tls_files_in_german(tmp_path):
    import io

    from kvportal.kim import cli

    (tmp_path / "konten.txt").write_text("keine-adresse\n")
    err = io.StringIO()
    code = cli.main(
        ["serve", "--accounts", str(tmp_path / "konten.txt"), "--store", str(tmp_path / "s"),
         "--tls-cert", str(tmp_path / "fehlt.crt"), "--tls-key", str(tmp_path / "fehlt.key")],
        stdout=io.StringIO(), stderr=err,
    )  # fmt: skip
    assert code == cli.EXIT_USAGE and "Zeile 1" in err.getvalue()
    (tmp_path / "konten.txt").write_text(f"{ALPHA} geheim\n")
    err = io.StringIO()
    code = cli.main(
        ["serve", "--accounts", str(tmp_path / "konten.txt"), "--store", str(tmp_path / "s"),
         "--tls-cert", str(tmp_path / "fehlt.crt"), "--tls-key", str(tmp_path / "fehlt.key")],
        stdout=io.StringIO(), stderr=err,
    )  # fmt: skip
    assert code == cli.EXIT_USAGE and "TLS-Zertifikat" in err.getvalue()

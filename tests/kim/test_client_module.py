"""Client module: user-name context, seal (sign+encrypt), open (decrypt+verify+revocation), e2e."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import poplib
import smtplib
import threading

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from kvportal.kim import clientmodule as cm
from kvportal.kim import dsn, fachdienst, komle, mail

from .conftest import make_cert
from .test_roundtrip import CLIENT_MAIL
from .test_server_fachdienst import (
    ALPHA,
    BETA,
    PASSWORDS,
    accounts,
    free_port,
    running,
    server_tls,
)

NOBODY = "ohne-zertifikat@kv-test.kim.example"


def crl(ca, revoked=(), *, next_update_days=7):
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + dt.timedelta(days=next_update_days))
    )
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(cert.serial_number)
            .revocation_date(now - dt.timedelta(minutes=5))
            .build()
        )
    return builder.sign(ca.key, hashes.SHA256())


@pytest.fixture(scope="module")
def tls(pki, tmp_path_factory):
    return server_tls(pki, tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def world(pki):
    ca = pki["ca"]
    beta_osig = make_cert("Dr. Beta OSIG TEST-ONLY", issuer=ca)
    revoked_osig = make_cert("Gesperrt OSIG TEST-ONLY", issuer=ca)
    alpha = cm.PemCard(osig_key=pki["signer"].key, osig_cert=pki["signer"].cert,
                       enc=[(pki["alice"].cert, pki["alice"].key)])  # fmt: skip
    beta = cm.PemCard(osig_key=beta_osig.key, osig_cert=beta_osig.cert,
                      enc=[(pki["bob"].cert, pki["bob"].key)])  # fmt: skip
    revoked = cm.PemCard(osig_key=revoked_osig.key, osig_cert=revoked_osig.cert,
                         enc=[(pki["alice"].cert, pki["alice"].key)])  # fmt: skip
    stranger = cm.PemCard(osig_key=pki["mallory"].key, osig_cert=pki["mallory"].cert,
                          enc=[(pki["mallory"].cert, pki["mallory"].key)])  # fmt: skip
    directory = cm.FileDirectory(
        {ALPHA: [pki["alice"].cert], BETA: [pki["bob"].cert]}, {ALPHA: "1.5", BETA: "1.5"}
    )
    trust = cm.Trust(anchors=[ca.cert], crls=[crl(ca, [revoked_osig.cert])])
    return {"alpha": alpha, "beta": beta, "revoked": revoked, "stranger": stranger,
            "directory": directory, "trust": trust, "ca": ca}  # fmt: skip


def sealed(world, card="alpha", recipients=(BETA,)):
    return cm.seal(CLIENT_MAIL, sender=ALPHA, recipients=list(recipients), card=world[card],
                   directory=world["directory"])  # fmt: skip


# --- user name -------------------------------------------------------------------------------


def test_user_name_carries_the_call_context():
    ctx = cm.parse_user(f"{ALPHA.upper()}#kim.example:465#Mandant1#PVS#AP7#Konn_1")
    assert (ctx.address, ctx.host, ctx.port) == (ALPHA, "kim.example", 465)
    assert (ctx.mandant, ctx.client_system, ctx.workplace, ctx.extra) == (
        "Mandant1", "PVS", "AP7", ("Konn_1",),
    )  # fmt: skip
    pop = cm.parse_user(f"{BETA}#10.0.0.1:995#M#C#W#HBA-Nutzer#K2")
    assert pop.extra == ("HBA-Nutzer", "K2")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (f"{ALPHA}#kim.example:465#M#C", "unvollständig"),
        ("praxis#kim.example:465#M#C#W", "Teil 1"),
        (f"{ALPHA}#kim.example#M#C#W", "Teil 2"),
        (f"{ALPHA}#kim.example:99999#M#C#W", "Teil 2"),
        (f"{ALPHA}#kim.example:465##C#W", "Mandant fehlt"),
    ],
)
def test_bad_user_names_are_refused_in_german(name, expected):
    with pytest.raises(cm.ClientModuleError, match=expected) as exc:
        cm.parse_user(name)
    assert exc.value.smtp.startswith("535")


# --- seal / open -----------------------------------------------------------------------------


def test_seal_and_open_verifies_signature_chain_and_crl(world):
    result = sealed(world)
    assert result.recipients == [BETA] and result.failures == []
    outer = mail.split(result.message)
    assert outer.get("X-KIM-CMVersion") == cm.CM_VERSION and outer.get("Expires")
    assert b"Synthetischer" not in result.message
    opened = cm.open_message(result.message, card=world["beta"], trust=world["trust"])
    assert opened.decrypted and opened.integrity == "gültig" and opened.code is None
    head = mail.split(opened.message)
    assert head.get("X-KIM-DecryptionResult") == "erfolgreich"
    assert head.get("X-KIM-IntegrityCheckResult").startswith("gültig; Signatur gültig")
    assert "nicht gesperrt (CRL)" in head.get("X-KIM-IntegrityCheckResult")
    assert opened.message.endswith(CLIENT_MAIL)  # the client mail, headers added in front


def test_the_sender_can_read_its_own_sent_mail(world):
    opened = cm.open_message(sealed(world).message, card=world["alpha"], trust=world["trust"])
    assert opened.decrypted and opened.integrity == "gültig"


def test_recipient_without_certificate_is_left_out_with_4003(world):
    result = sealed(world, recipients=(BETA, NOBODY))
    assert result.recipients == [BETA]
    (failure,) = result.failures
    assert failure.address == NOBODY and failure.kim_code == dsn.NO_UNIQUE_CERTIFICATE
    with pytest.raises(cm.ClientModuleError, match="keine eindeutige Telematik-ID") as exc:
        sealed(world, recipients=(NOBODY,))
    assert exc.value.smtp.startswith("550")


def test_expired_directory_certificate_is_not_used(world, pki):
    old = make_cert("Abgelaufen ENC TEST-ONLY", issuer=pki["ca"], days=1)
    directory = cm.FileDirectory({BETA: [old.cert]})
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=5)
    with pytest.raises(cm.ClientModuleError, match="keine eindeutige"):
        cm.seal(CLIENT_MAIL, sender=ALPHA, recipients=[BETA], card=world["alpha"],
                directory=directory, now=later)  # fmt: skip


def test_tampered_ciphertext_gives_wrapper_4014(world):
    message = bytearray(sealed(world).message)
    outer = mail.split(bytes(message))
    der = bytearray(mail.decoded_body(outer))
    aed = cms.ContentInfo.load(bytes(der))["content"]
    ciphertext = aed["auth_encrypted_content_info"]["encrypted_content"].native
    der[bytes(der).find(ciphertext) + 100] ^= 0x01  # one bit of the encrypted content
    forged = bytes(message[: len(message) - len(outer.body)]) + mail._b64_lines(bytes(der))
    opened = cm.open_message(forged, card=world["beta"], trust=world["trust"])
    assert not opened.decrypted and opened.code == dsn.MANIPULATED_AFTER_ENCRYPTION
    head = mail.split(opened.message)
    assert head.get("X-KIM-Fehlermeldung") == "4014"
    assert head.content_type == "multipart/mixed" and forged in opened.message  # kept


def test_wrong_recipient_key_gives_4009(world):
    opened = cm.open_message(sealed(world).message, card=world["stranger"], trust=world["trust"])
    assert opened.code == dsn.KEY_NOT_AVAILABLE
    assert mail.split(opened.message).get("X-KIM-Fehlermeldung") == "4009"
    assert b"Synthetischer" not in opened.message


def test_revoked_sender_certificate_is_refused(world):
    result = sealed(world, card="revoked")
    opened = cm.open_message(result.message, card=world["beta"], trust=world["trust"])
    assert opened.decrypted and opened.integrity == "ungültig"
    head = mail.split(opened.message)
    assert head.get("X-KIM-IntegrityCheckResult").startswith("ungültig")
    assert "gesperrt (CRL)" in head.get("X-KIM-IntegrityCheckResult")
    assert head.get("Subject") == "Signaturprüfung der KIM-Nachricht fehlgeschlagen"


def test_without_crl_the_revocation_state_is_reported_unknown(world):
    trust = cm.Trust(anchors=[world["ca"].cert])
    opened = cm.open_message(sealed(world).message, card=world["beta"], trust=trust)
    assert opened.integrity == "nicht prüfbar"
    assert "keine Sperrliste" in mail.split(opened.message).get("X-KIM-IntegrityCheckResult")


def test_expired_crl_is_not_trusted(world):
    stale = cm.Trust(anchors=[world["ca"].cert], crls=[crl(world["ca"], next_update_days=1)])
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    opened = cm.open_message(sealed(world).message, card=world["beta"], trust=stale, now=later)
    assert opened.integrity == "nicht prüfbar"


def test_foreign_trust_anchor_makes_the_sender_invalid(world, pki):
    other = cm.Trust(anchors=[make_cert("Andere CA", ca=True).cert])
    opened = cm.open_message(sealed(world).message, card=world["beta"], trust=other)
    assert opened.integrity == "ungültig"
    assert "Vertrauensanker" in mail.split(opened.message).get("X-KIM-IntegrityCheckResult")


def test_recipient_list_changed_outside_the_signature_gives_4015(world, pki):
    signed = komle.sign(mail.RFC822_WRAP_HEADER + CLIENT_MAIL, pki["signer"].key,
                        pki["signer"].cert, recipients=[(BETA, pki["bob"].cert)])  # fmt: skip
    wrap = (b"Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + mail._b64_lines(signed))  # fmt: skip
    der = komle.encrypt(wrap, [(BETA, pki["bob"].cert), ("x@evil.example", pki["mallory"].cert)])
    message = (b"Subject: KOM-LE-Nachricht\r\nContent-Type: application/pkcs7-mime; "
               b"smime-type=authenticated-enveloped-data\r\nContent-Transfer-Encoding: base64"
               b"\r\n\r\n" + mail._b64_lines(der))  # fmt: skip
    opened = cm.open_message(message, card=world["beta"], trust=world["trust"])
    assert opened.code == dsn.RECIPIENTS_MANIPULATED


def test_unsupported_version_and_damaged_content(world):
    message = sealed(world).message.replace(b"X-KOM-LE-Version: 1.0", b"X-KOM-LE-Version: 9.9")
    assert cm.open_message(message, card=world["beta"], trust=world["trust"]).code == 4008
    failure = dsn.RecipientFailure(BETA, "5.1.1", "550 x")
    report = dsn.delivery_report(
        reporting_mta="fd", sender=ALPHA, original=CLIENT_MAIL, failures=[failure]
    )
    passed = cm.open_message(report, card=world["beta"], trust=world["trust"])
    assert passed.message == report and passed.integrity == ""  # not KOM-LE: unchanged


def test_directory_file_errors_are_german(tmp_path, pki):
    path = tmp_path / "vzd.json"
    path.write_text("{kaputt")
    with pytest.raises(cm.ClientModuleError, match="kein JSON"):
        cm.FileDirectory.load(path)
    path.write_text(json.dumps({BETA: ["kein PEM"]}))
    with pytest.raises(cm.ClientModuleError, match=f"Eintrag „{BETA}“"):
        cm.FileDirectory.load(path)
    pem = pki["bob"].cert.public_bytes(serialization.Encoding.PEM).decode()
    path.write_text(json.dumps({BETA.upper(): [pem]}))
    assert cm.FileDirectory.load(path).encryption_certificates(BETA) == [pki["bob"].cert]


# --- end to end: PVS → client module → Fachdienst → client module → PVS ----------------------


@contextlib.contextmanager
def client_module(world, tls_pair, **options):
    server_ctx, client_ctx = tls_pair
    module = cm.ClientModule(
        cards=cm.CardsByAddress({ALPHA: world["alpha"], BETA: world["beta"]}),
        directory=world["directory"], trust=world["trust"],
        upstream_tls=client_ctx, local_tls=server_ctx, upstream_implicit_tls=True, **options,
    )  # fmt: skip
    smtp_port, pop_port = free_port(), free_port()
    controller = cm.smtp_controller(module, port=smtp_port)
    controller.start()
    loop = asyncio.new_event_loop()
    ready, holder = threading.Event(), []

    def run():
        asyncio.set_event_loop(loop)
        holder.append(loop.run_until_complete(cm.start_pop3(module, port=pop_port)))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield smtp_port, pop_port
    finally:
        controller.stop()
        loop.call_soon_threadsafe(holder[0].close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_practice_software_sends_and_receives_in_the_clear(world, tls, tmp_path):
    _server_ctx, client_ctx = tls
    store = fachdienst.MailStore(tmp_path / "store")
    with running(store, accounts(), tls) as fd, client_module(world, tls) as (cm_smtp, cm_pop):
        pvs = smtplib.SMTP_SSL("127.0.0.1", cm_smtp, timeout=20, context=client_ctx)
        pvs.login(f"{ALPHA}#127.0.0.1:{fd.smtps}#1#PVS#AP1", PASSWORDS[ALPHA])
        refused = pvs.sendmail(ALPHA, [BETA, NOBODY], CLIENT_MAIL)
        assert refused == {}
        pvs.quit()
        held = [m.read() for m in store.messages(BETA)]
        assert len(held) == 1 and b"Synthetischer" not in held[0]
        (report,) = [m.read() for m in store.messages(ALPHA)]  # DSN 4003 back to the sender
        assert mail.split(report).get("X-KIM-Fehlermeldung") == "4003"
        assert f"Final-Recipient: rfc822; {NOBODY}".encode() in report

        pvs = poplib.POP3_SSL("127.0.0.1", cm_pop, timeout=20, context=client_ctx)
        pvs.user(f"{BETA}#127.0.0.1:{fd.pop3s}#1#PVS#AP2")
        pvs.pass_(PASSWORDS[BETA])
        assert pvs.stat()[0] == 1
        _resp, lines, _ = pvs.retr(1)
        received = b"\r\n".join(lines) + b"\r\n"
        head = mail.split(received)
        assert head.get("X-KIM-DecryptionResult") == "erfolgreich"
        assert head.get("X-KIM-IntegrityCheckResult").startswith("gültig")
        assert head.get("Subject") == "Befund" and b"Synthetischer Testinhalt." in received
        pvs.dele(1)
        pvs.quit()
        assert store.messages(BETA) == []  # DELE reached the Fachdienst at QUIT


def test_wrong_password_and_bad_user_name_at_the_client_module(world, tls, tmp_path):
    _server_ctx, client_ctx = tls
    store = fachdienst.MailStore(tmp_path / "store")
    with running(store, accounts(), tls) as fd, client_module(world, tls) as (cm_smtp, cm_pop):
        pvs = smtplib.SMTP_SSL("127.0.0.1", cm_smtp, timeout=20, context=client_ctx)
        with pytest.raises(smtplib.SMTPAuthenticationError) as exc:
            pvs.login(f"{ALPHA}#127.0.0.1:{fd.smtps}#1#PVS#AP1", "falsch")
        assert exc.value.smtp_code == 535
        with pytest.raises(smtplib.SMTPAuthenticationError) as exc:
            pvs.login(ALPHA, PASSWORDS[ALPHA])
        assert "unvollständig" in exc.value.smtp_error.decode()
        pvs.close()
        pvs = poplib.POP3_SSL("127.0.0.1", cm_pop, timeout=20, context=client_ctx)
        pvs.user(f"{BETA}#127.0.0.1:{fd.pop3s}#1#PVS#AP2")
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
            pvs.pass_("falsch")
        pvs.quit()


# --- FHIR directory (the portal's /api/v1/kim/fhir/ shape) --------------------------------------


@contextlib.contextmanager
def fhir_portal(bundles: dict[str, dict], token="tok-Test"):
    import http.server
    from urllib.parse import parse_qs, urlparse

    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlparse(self.path)
            seen.append(self.path)
            if self.headers.get("Authorization") != f"Bearer {token}":
                self.send_response(401)
                self.end_headers()
                return
            address = parse_qs(url.query)["address"][0].removeprefix("mailto:")
            body = json.dumps(bundles.get(address, {"resourceType": "Bundle", "total": 0}))
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v1/kim/fhir/", seen
    finally:
        server.shutdown()


def _endpoint(address, certs, status="active"):
    ext = "https://kvportal.example/fhir/StructureDefinition/encryption-certificate"
    return {
        "resource": {
            "resourceType": "Endpoint",
            "status": status,
            "address": f"mailto:{address}",
            "extension": [
                {"url": ext, "valueBase64Binary": base64.b64encode(c.public_bytes(
                    serialization.Encoding.DER)).decode()}
                for c in certs
            ],
        }
    }  # fmt: skip


def test_fhir_directory_reads_endpoint_certificates(pki):
    bundles = {
        BETA: {"resourceType": "Bundle", "type": "searchset",
               "entry": [_endpoint(BETA, [pki["bob"].cert, pki["alice"].cert]),
                         _endpoint(BETA, [pki["mallory"].cert], status="off")]},
    }  # fmt: skip
    with fhir_portal(bundles) as (base, seen):
        directory = cm.FhirDirectory(base, token="tok-Test")
        assert isinstance(directory, cm.CertificateDirectory)
        assert directory.encryption_certificates(BETA.upper()) == [
            pki["bob"].cert, pki["alice"].cert,
        ]  # fmt: skip
        assert directory.encryption_certificates(NOBODY) == []
        assert seen[0].startswith("/api/v1/kim/fhir/Endpoint?address=mailto%3A")
        with pytest.raises(cm.ClientModuleError, match="HTTP 401") as exc:
            cm.FhirDirectory(base, token="falsch").encryption_certificates(BETA)
        assert exc.value.smtp.startswith("451")


def test_client_command_names_the_bad_file_in_german(tmp_path, pki):
    import io

    from kvportal.kim import cli

    _key, ca_path = pki["ca"].write(tmp_path, "ca")
    cards = tmp_path / "karten.json"
    base = ["client", "--cards", str(cards), "--directory", str(tmp_path / "vzd.json"),
            "--trust", str(ca_path), "--fachdienst-ca", str(ca_path),
            "--tls-cert", str(ca_path), "--tls-key", str(tmp_path / "fehlt.key")]  # fmt: skip
    cards.write_text("[]")
    err = io.StringIO()
    assert cli.main(base, stdout=io.StringIO(), stderr=err) == cli.EXIT_USAGE
    assert "Kartendatei" in err.getvalue() and "erwartet JSON" in err.getvalue()
    cards.write_text(json.dumps({ALPHA: {"osig_key": "a.pem"}}))
    err = io.StringIO()
    assert cli.main(base, stdout=io.StringIO(), stderr=err) == cli.EXIT_USAGE
    assert f"Karte „{ALPHA}“: Angabe 'osig_cert' fehlt" in err.getvalue()
    osig_key, osig_cert = pki["signer"].write(tmp_path, "osig")
    enc_key, enc_cert = pki["alice"].write(tmp_path, "enc")
    entry = {"osig_key": str(osig_key), "osig_cert": str(osig_cert),
             "enc_key": str(enc_key), "enc_cert": str(enc_cert)}  # fmt: skip
    cards.write_text(json.dumps({ALPHA: entry}))
    (tmp_path / "vzd.json").write_text("{")
    err = io.StringIO()
    assert cli.main(base, stdout=io.StringIO(), stderr=err) == cli.EXIT_USAGE
    assert "kein JSON" in err.getvalue() and "Traceback" not in err.getvalue()


# --- OCSP through the card library's client ------------------------------------------------------


def _ocsp_responder(ca, revoked_serials):
    """fetch(url, request) -> response for the test CA, signed by the CA itself (RFC 6960)."""
    from cryptography.x509 import ocsp

    def fetch(url, request_der):
        request = ocsp.load_der_ocsp_request(request_der)
        now = dt.datetime.now(dt.UTC)
        revoked = request.serial_number in revoked_serials
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash, issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number, algorithm=request.hash_algorithm,
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            this_update=now - dt.timedelta(minutes=1), next_update=now + dt.timedelta(hours=1),
            revocation_time=now - dt.timedelta(minutes=5) if revoked else None,
            revocation_reason=None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, ca.cert)  # fmt: skip
        for ext in request.extensions:
            builder = builder.add_extension(ext.value, ext.critical)  # echo the nonce
        return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    return fetch


def test_ocsp_is_asked_first_and_reports_revocation(world):
    from kvportal.cardlib.ocsp import ocsp_revocation_check

    ca = world["ca"]
    revoked_serial = world["revoked"].osig_cert.serial_number
    check = ocsp_revocation_check(
        url="http://ocsp.test/", fetch=_ocsp_responder(ca, {revoked_serial})
    )
    trust = cm.Trust(anchors=[ca.cert], ocsp=check)  # no CRL at all
    good = cm.open_message(sealed(world).message, card=world["beta"], trust=trust)
    assert good.integrity == "gültig"
    assert "nicht gesperrt (OCSP)" in mail.split(good.message).get("X-KIM-IntegrityCheckResult")
    bad = cm.open_message(sealed(world, card="revoked").message, card=world["beta"], trust=trust)
    assert bad.integrity == "ungültig"
    assert "gesperrt (OCSP)" in mail.split(bad.message).get("X-KIM-IntegrityCheckResult")


def test_unreachable_ocsp_falls_back_to_the_crl(world):
    from kvportal.cardlib.ocsp import ocsp_revocation_check

    def down(url, request):
        raise OSError("connection refused")

    trust = cm.Trust(anchors=[world["ca"].cert], crls=world["trust"].crls,
                     ocsp=ocsp_revocation_check(url="http://ocsp.test/", fetch=down))  # fmt: skip
    opened = cm.open_message(sealed(world).message, card=world["beta"], trust=trust)
    header = mail.split(opened.message).get("X-KIM-IntegrityCheckResult")
    assert opened.integrity == "gültig" and "OCSP ohne Ergebnis" in header and "(CRL)" in header


def test_client_command_serves_smtps_and_pop3s(pki, tls, tmp_path):
    import subprocess
    import sys

    _key, ca_path = pki["ca"].write(tmp_path, "ca")
    server_tls(pki, tmp_path)  # srv.crt / srv.key for the module's own TLS
    osig_key, osig_cert = pki["signer"].write(tmp_path, "osig")
    enc_key, enc_cert = pki["alice"].write(tmp_path, "enc")
    entry = {"osig_key": str(osig_key), "osig_cert": str(osig_cert),
             "enc_key": str(enc_key), "enc_cert": str(enc_cert)}  # fmt: skip
    (tmp_path / "karten.json").write_text(json.dumps({ALPHA: entry}))
    (tmp_path / "vzd.json").write_text("{}")
    smtp_port, pop_port = free_port(), free_port()
    command = [sys.executable, "-m", "kvportal.kim", "client", "--cards",
               str(tmp_path / "karten.json"), "--directory", str(tmp_path / "vzd.json"),
               "--trust", str(ca_path), "--fachdienst-ca", str(ca_path),
               "--tls-cert", str(tmp_path / "srv.crt"), "--tls-key", str(tmp_path / "srv.key"),
               "--smtp-port", str(smtp_port), "--pop3-port", str(pop_port)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = process.stdout.readline()
        assert "KIM-Clientmodul" in banner, process.stderr.read()
        _server_ctx, client_ctx = tls
        with smtplib.SMTP_SSL("127.0.0.1", smtp_port, timeout=10, context=client_ctx) as conn:
            conn.ehlo()
            assert "PLAIN" in conn.esmtp_features["auth"]
            with pytest.raises(smtplib.SMTPAuthenticationError):
                conn.login(ALPHA, "x")  # no call context in the user name
        box = poplib.POP3_SSL("127.0.0.1", pop_port, timeout=10, context=client_ctx)
        assert "USER" in box.capa()
        box.quit()
    finally:
        process.terminate()
        process.wait(10)


def test_unexpected_failure_while_opening_still_hands_the_mail_over(world):
    class Exploding:
        def decrypt(self, ciphertext, padding):
            raise RuntimeError("card reader unplugged")

    card = cm.PemCard(osig_key=None, osig_cert=world["beta"].osig_cert,
                      enc=[(world["beta"].enc[0][0], Exploding())])  # fmt: skip
    message = sealed(world).message
    opened = cm.open_message(message, card=card, trust=world["trust"])
    assert opened.code == dsn.WRONG_FORMAT and message in opened.message

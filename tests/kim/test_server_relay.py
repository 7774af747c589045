"""Relaying between two KIM providers (gemSpec_FD_KOMLE): two Fachdienst instances in one
test; submission at A for an address of B's domain goes over SMTP with STARTTLS and mutual
TLS to B and lands in B's store; the way back works the same; an unreachable provider and a
refused recipient give the sender a DSN; B accepts inbound only with a peer certificate,
only KOM-LE and only for its own accounts."""

from __future__ import annotations

import smtplib
import ssl

import pytest

from kvportal.kim import fachdienst, komle, mail, relay

from .test_roundtrip import CLIENT_MAIL
from .test_server_fachdienst import ALPHA, BETA, PASSWORDS, accounts, free_port, server_tls

CAROL = "dr-carol@kim.anderer-anbieter.example"
OTHER = "kim.anderer-anbieter.example"


def _provider(tmp_path, name, pki, source, peers):
    """One Fachdienst: submission (STARTTLS) + inbound for peers; returns (ports, store, stop)."""
    folder = tmp_path / name
    folder.mkdir()
    server_ctx, _client_ctx = server_tls(pki, folder)
    ca = folder / "ca.pem"
    ca.write_bytes(pki["ca"].cert.public_bytes(__import__("cryptography").hazmat.primitives
                                              .serialization.Encoding.PEM))  # fmt: skip
    cert, key = str(folder / "srv.crt"), str(folder / "srv.key")
    store = fachdienst.MailStore(folder / "store")
    providers = relay.PeerProviders(peers, tls=relay.outbound_tls(cert, key, str(ca)),
                                    hostname=f"{name}.test")  # fmt: skip
    submission = fachdienst.smtp_controller(store, source=source, tls=server_ctx,
                                            port=free_port(), relay=providers)  # fmt: skip
    inbound = relay.inbound_controller(store, source=source, peers=peers, port=free_port(),
                                       tls=relay.inbound_tls(cert, key, str(ca)))  # fmt: skip
    submission.start()
    inbound.start()
    return submission, inbound, store, folder


def test_parse_peers_names_the_bad_value():
    peers = relay.parse_peers([f"{OTHER}=mx.anderer.example:2525"])
    assert peers[OTHER] == relay.Peer(OTHER, "mx.anderer.example", 2525)

    for bad in ("ohne-gleich", f"{OTHER}=host", f"{OTHER}=host:99999", "=h:25"):
        with pytest.raises(relay.RelayConfigError, match="Weiterleitung"):
            relay.parse_peers([bad])


def test_serve_command_refuses_bad_relay_settings_in_german(pki, tmp_path):
    import io

    from kvportal.kim import cli

    server_tls(pki, tmp_path)
    (tmp_path / "konten.txt").write_text(f"{ALPHA} geheim\n")
    base = ["serve", "--accounts", str(tmp_path / "konten.txt"), "--store", str(tmp_path / "s"),
            "--tls-cert", str(tmp_path / "srv.crt"), "--tls-key", str(tmp_path / "srv.key"),
            "--smtp-port", "0", "--smtps-port", "0",
            "--pop3-port", "0", "--pop3s-port", "0"]  # fmt: skip
    for extra, expected in (
        (["--relay", "kaputt"], "Weiterleitung „kaputt“"),
        (["--relay", f"{OTHER}=127.0.0.1:2525"], "--peer-ca fehlt"),
    ):
        err = io.StringIO()
        assert cli.main(base + extra, stdout=io.StringIO(), stderr=err) == cli.EXIT_USAGE
        assert expected in err.getvalue() and "Traceback" not in err.getvalue()


def _komle(pki, rcpt, cert):
    return mail.build(CLIENT_MAIL, signer_key=pki["signer"].key, signer_cert=pki["signer"].cert,
                      recipients=[(rcpt, cert)])  # fmt: skip


def test_two_providers_relay_both_ways_with_dsn_on_failure(pki, tmp_path):
    a_source = accounts()
    b_source = fachdienst.InMemoryAccountSource({CAROL: "pw-carol-Test1"})
    # B's peer entry for A is filled in once A's inbound port is known (below)
    b_peers: dict = {}
    b_sub, b_in, b_store, _b_dir = _provider(tmp_path, "b", pki, b_source, b_peers)
    a_peers = {OTHER: relay.Peer(OTHER, "127.0.0.1", b_in.port)}
    a_sub, a_in, a_store, a_dir = _provider(tmp_path, "a", pki, a_source, a_peers)
    b_peers["kv-test.kim.example"] = relay.Peer("kv-test.kim.example", "127.0.0.1", a_in.port)
    client = ssl.create_default_context(cafile=str(a_dir / "ca.pem"))
    try:
        with smtplib.SMTP("127.0.0.1", a_sub.port, timeout=20) as conn:
            conn.starttls(context=client)
            conn.login(ALPHA, PASSWORDS[ALPHA])
            assert conn.sendmail(ALPHA, [CAROL, BETA], _komle(pki, CAROL, pki["bob"].cert)) == {}
        (held,) = [m.read() for m in b_store.messages(CAROL)]
        assert komle.decrypt(mail.decoded_body(mail.split(held)), pki["bob"].key)
        assert len(a_store.messages(BETA)) == 1 and a_store.messages(ALPHA) == []

        with smtplib.SMTP("127.0.0.1", b_sub.port, timeout=20) as conn:  # and back
            conn.starttls(context=client)
            conn.login(CAROL, "pw-carol-Test1")
            conn.sendmail(CAROL, [ALPHA], _komle(pki, ALPHA, pki["alice"].cert))
        assert len(a_store.messages(ALPHA)) == 1

        # B refuses an unknown recipient of its domain → DSN at A for the sender
        with smtplib.SMTP("127.0.0.1", a_sub.port, timeout=20) as conn:
            conn.starttls(context=client)
            conn.login(BETA, PASSWORDS[BETA])
            with pytest.raises(smtplib.SMTPDataError):
                conn.sendmail(BETA, [f"niemand@{OTHER}"], _komle(pki, CAROL, pki["bob"].cert))
        # B down: the mail cannot be relayed → DSN for the sender, the local copy still arrives
        b_in.stop()
        with smtplib.SMTP("127.0.0.1", a_sub.port, timeout=20) as conn:
            conn.starttls(context=client)
            conn.login(BETA, PASSWORDS[BETA])
            conn.sendmail(BETA, [CAROL, ALPHA], _komle(pki, CAROL, pki["bob"].cert))
        reports = [m.read() for m in a_store.messages(BETA)]
        report = next(r for r in reports if b"multipart/report" in r)
        assert f"Final-Recipient: rfc822; {CAROL}".encode() in report
        assert b"nicht erreichbar" in report
        assert len(a_store.messages(ALPHA)) == 2
    finally:
        for controller in (a_sub, a_in, b_sub):
            controller.stop()


def test_inbound_needs_a_peer_certificate_komle_and_own_recipients(pki, tmp_path):
    peers = {"kv-test.kim.example": relay.Peer("kv-test.kim.example", "127.0.0.1", 1)}
    b_source = fachdienst.InMemoryAccountSource({CAROL: "pw"})
    sub, inbound, store, folder = _provider(tmp_path, "b", pki, b_source, peers)
    ca = str(folder / "ca.pem")
    try:
        plain_client = ssl.create_default_context(cafile=ca)  # no client certificate
        with (
            pytest.raises((ssl.SSLError, smtplib.SMTPServerDisconnected, OSError)),
            smtplib.SMTP("127.0.0.1", inbound.port, timeout=10) as conn,
        ):
            conn.starttls(context=plain_client)
            conn.sendmail(ALPHA, [CAROL], _komle(pki, CAROL, pki["bob"].cert))
        peer = relay.outbound_tls(str(folder / "srv.crt"), str(folder / "srv.key"), ca)
        with smtplib.SMTP("127.0.0.1", inbound.port, timeout=10) as conn:
            code, _ = conn.mail(ALPHA)
            assert code == 530  # STARTTLS first
            conn.starttls(context=peer)
            with pytest.raises(smtplib.SMTPSenderRefused):
                conn.sendmail("x@fremd.example", [CAROL], _komle(pki, CAROL, pki["bob"].cert))
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                conn.sendmail(ALPHA, [f"niemand@{OTHER}"], _komle(pki, CAROL, pki["bob"].cert))
            with pytest.raises(smtplib.SMTPDataError) as plain:
                conn.sendmail(ALPHA, [CAROL], CLIENT_MAIL)
            assert plain.value.smtp_code == 554
            assert conn.sendmail(ALPHA, [CAROL], _komle(pki, CAROL, pki["bob"].cert)) == {}
        assert len(store.messages(CAROL)) == 1
    finally:
        sub.stop()
        inbound.stop()

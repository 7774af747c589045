"""KIM throughput on one core (benchmark, not a test).

    .venv/bin/python benchmarks/kim_benchmark.py [--sizes 1,10] [--kas 20] [--count 3]

1. crypto only: build (sign + encrypt for 2 recipients + wrap) and open (decrypt + verify);
2. SMTP → Fachdienst store → POP3 with real TLS servers on 127.0.0.1, one message at a time:
   seal, submit (SMTPS), fetch (POP3S RETR + DELE), open; messages/s and the share of the time
   spent in the crypto (seal + open);
3. one mail of `--kas` MiB through the whole client module path (PVS → client module → KAS +
   Fachdienst → client module → PVS).

Everything runs in this process, pinned to one CPU (sched_setaffinity). Synthetic keys and
content, made from the running clock.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import ipaddress
import os
import poplib
import smtplib
import socket
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from kvportal.kim import attachments, fachdienst, komle, mail  # noqa: E402
from kvportal.kim import clientmodule as cm  # noqa: E402

ALPHA, BETA = "alpha@bench.kim.example", "beta@bench.kim.example"
PASSWORD = "bench-Passwort-1"


def _cert(cn, *, issuer=None, ca=False, san=False):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[1].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return key, builder.sign(issuer[0] if issuer else key, hashes.SHA256())


def _tls(ca, folder: Path):
    key, cert = _cert("bench.local", issuer=ca, san=True)
    (folder / "k.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (folder / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "c.pem", folder / "k.pem")
    client = ssl.create_default_context(
        cadata=ca[1].public_bytes(serialization.Encoding.PEM).decode()
    )
    return server, client


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _loop_thread():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def _mail(size_mib: float) -> bytes:
    body = base64.encodebytes(os.urandom(int(size_mib * 1024 * 1024 * 3 / 4)))
    return (
        f"From: <{ALPHA}>\r\nTo: <{BETA}>\r\nSubject: Benchmark\r\nMIME-Version: 1.0\r\n"
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + body.replace(b"\n", b"\r\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,10", help="MiB per client mail, comma-separated")
    parser.add_argument("--kas", type=float, default=20, help="MiB for the KAS run (0: skip)")
    parser.add_argument("--count", type=int, default=3, help="messages per size")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    ca = _cert("Bench CA", ca=True)
    osig = _cert("Bench OSIG", issuer=ca)
    alice, bob = _cert("Alpha ENC", issuer=ca), _cert("Beta ENC", issuer=ca)
    card_a = cm.PemCard(osig_key=osig[0], osig_cert=osig[1], enc=[(alice[1], alice[0])])
    card_b = cm.PemCard(osig_key=osig[0], osig_cert=osig[1], enc=[(bob[1], bob[0])])
    directory = cm.FileDirectory(
        {ALPHA: [alice[1]], BETA: [bob[1]]},
        {ALPHA: "1.5", BETA: "1.5"},  # KOM-LE 1.5 (KAS)
    )
    trust = cm.Trust(anchors=[ca[1]])
    source = fachdienst.InMemoryAccountSource({ALPHA: PASSWORD, BETA: PASSWORD})
    sizes = [float(s) for s in args.sizes.split(",") if s]
    print(f"KIM benchmark, one core, {dt.datetime.now(dt.UTC):%Y-%m-%d}")

    for size in sizes:  # 1. crypto only
        client = _mail(size)
        start = time.perf_counter()
        message = mail.build(client, signer_key=osig[0], signer_cert=osig[1],
                             recipients=[(ALPHA, alice[1]), (BETA, bob[1])])  # fmt: skip
        built = time.perf_counter()
        opened = komle.decrypt(mail.decoded_body(mail.split(message)), bob[0])
        assert komle.verify(
            mail.decoded_body(mail.split(opened.content)), trust=[ca[1]]
        ).chain_valid
        done = time.perf_counter()
        print(f"  crypto {size:g} MiB: build {built - start:.3f} s, open {done - built:.3f} s, "
              f"KOM-LE mail {len(message) / 1e6:.1f} MB")  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp, _loop_thread() as loop:
        folder = Path(tmp)
        server_tls, client_tls = _tls(ca, folder)
        store = fachdienst.MailStore(folder / "store")
        smtps, pop3s, kas_port = _port(), _port(), _port()
        smtp = fachdienst.smtp_controller(store, source=source, tls=server_tls, port=smtps,
                                          implicit_tls=True)  # fmt: skip
        smtp.start()
        pop = fachdienst.Pop3Server(store, source=source, tls=server_tls)
        asyncio.run_coroutine_threadsafe(
            pop.start("127.0.0.1", pop3s, implicit_tls=True), loop
        ).result(10)
        service = attachments.AttachmentService(folder / "kas", source=source)
        asyncio.run_coroutine_threadsafe(service.start("127.0.0.1", kas_port), loop).result(10)
        try:
            for size in sizes:  # 2. SMTP → store → POP3
                client = _mail(size)
                crypto = total = 0.0
                for _ in range(args.count):
                    t0 = time.perf_counter()
                    sealed = cm.seal(client, sender=ALPHA, recipients=[BETA], card=card_a,
                                     directory=directory, kas_threshold=10**10)  # fmt: skip
                    t1 = time.perf_counter()
                    with smtplib.SMTP_SSL("127.0.0.1", smtps, context=client_tls) as conn:
                        conn.login(ALPHA, PASSWORD)
                        conn.sendmail(ALPHA, [BETA], sealed.message)
                    box = poplib.POP3_SSL("127.0.0.1", pop3s, context=client_tls)
                    box.user(BETA)
                    box.pass_(PASSWORD)
                    _resp, lines, _ = box.retr(1)
                    box.dele(1)
                    box.quit()
                    t2 = time.perf_counter()
                    opened = cm.open_message(b"\r\n".join(lines) + b"\r\n", card=card_b,
                                             trust=trust)  # fmt: skip
                    t3 = time.perf_counter()
                    assert opened.decrypted and opened.integrity
                    crypto += (t1 - t0) + (t3 - t2)
                    total += t3 - t0
                share = 100 * crypto / total
                print(f"  SMTP→POP3 {size:g} MiB: {args.count / total:.2f} messages/s "
                      f"({total / args.count:.2f} s each), crypto {share:.0f} %")  # fmt: skip

            if args.kas:  # 3. whole client module path with the KAS
                module = cm.ClientModule(
                    cards=cm.CardsByAddress({ALPHA: card_a, BETA: card_b}), directory=directory,
                    trust=trust, upstream_tls=client_tls, local_tls=server_tls,
                    upstream_implicit_tls=True,
                    kas=attachments.KasClient(f"http://127.0.0.1:{kas_port}/attachments/v2.4"),
                )  # fmt: skip
                cm_smtp, cm_pop = _port(), _port()
                cm_controller = cm.smtp_controller(module, port=cm_smtp)
                cm_controller.start()
                asyncio.run_coroutine_threadsafe(
                    cm.start_pop3(module, "127.0.0.1", cm_pop), loop
                ).result(10)
                client = _mail(args.kas)
                t0 = time.perf_counter()
                with smtplib.SMTP_SSL("127.0.0.1", cm_smtp, context=client_tls) as conn:
                    conn.login(f"{ALPHA}#127.0.0.1:{smtps}#1#Bench#1", PASSWORD)
                    conn.sendmail(ALPHA, [BETA], client)
                t1 = time.perf_counter()
                box = poplib.POP3_SSL("127.0.0.1", cm_pop, context=client_tls)
                box.user(f"{BETA}#127.0.0.1:{pop3s}#1#Bench#2")
                box.pass_(PASSWORD)
                _resp, lines, _ = box.retr(1)
                box.dele(1)
                box.quit()
                t2 = time.perf_counter()
                cm_controller.stop()
                received = b"\r\n".join(lines) + b"\r\n"
                assert received.endswith(client[-1000:]), "KAS round trip lost data"
                held = sum(m.size for m in store.messages(BETA))
                print(f"  KAS {args.kas:g} MiB via client module: send {t1 - t0:.2f} s, "
                      f"receive {t2 - t1:.2f} s; KOM-LE reference mail "
                      f"{held or 0} B in the store after DELE")  # fmt: skip
        finally:
            smtp.stop()


if __name__ == "__main__":
    main()

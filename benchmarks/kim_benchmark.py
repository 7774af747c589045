"""KOM-LE crypto throughput: build (sign+encrypt, 2 recipients) and open (decrypt+verify).

    .venv/bin/python benchmarks/kim_benchmark.py [--sizes 1,10]   # sizes in MB

Synthetic keys and content; prints seconds per message on this machine (one core).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from kvportal.kim import komle, mail


def _holder(cn: str):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,10")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    signer, alice, bob = _holder("S"), _holder("A"), _holder("B")
    for size in sizes:
        body = os.urandom(size * 1024 * 1024)  # client mail body of `size` MiB
        client = b"Subject: x\r\nContent-Type: application/octet-stream\r\n\r\n" + body
        start = time.perf_counter()
        message = mail.build(
            client,
            signer_key=signer[0],
            signer_cert=signer[1],
            recipients=[("a@x.example", alice[1]), ("b@x.example", bob[1])],
        )
        built = time.perf_counter()
        opened = komle.decrypt(mail.decoded_body(mail.split(message)), bob[0])
        result = komle.verify(mail.decoded_body(mail.split(opened.content)), trust=[signer[1]])
        done = time.perf_counter()
        assert result.signature_valid
        print(
            f"{size} MB: build {built - start:.3f} s, open {done - built:.3f} s, "
            f"mail {len(message) / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main()

"""Test PKI for KIM: a CA, an SMC-B OSIG signer and ENC recipients, built from the clock now."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

DATA = Path(__file__).parent / "data"


@dataclass
class Holder:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    def write(self, folder: Path, stem: str) -> tuple[Path, Path]:
        key_path, cert_path = folder / f"{stem}.key.pem", folder / f"{stem}.crt.pem"
        key_path.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return key_path, cert_path


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def make_cert(cn: str, *, issuer: Holder | None = None, ca: bool = False, days: int = 30) -> Holder:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, True, True, False, False, False, False, False, False), critical=True
        )
    cert = builder.sign((issuer.key if issuer else key), hashes.SHA256())
    return Holder(key=key, cert=cert)


@pytest.fixture(scope="module")
def pki():
    ca = make_cert("KV Test-CA SMC-B TEST-ONLY", ca=True, days=365)
    return {
        "ca": ca,
        "signer": make_cert("Praxis Test OSIG TEST-ONLY", issuer=ca),
        "alice": make_cert("Praxis Alpha ENC TEST-ONLY", issuer=ca),
        "bob": make_cert("Dr. Beta ENC TEST-ONLY", issuer=ca),
        "mallory": make_cert("Fremd ENC TEST-ONLY", issuer=ca),
    }

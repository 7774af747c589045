# gemSpec_PKI C.HCI.AUT/ENC/OSIG profiles (RSA-2048) — TEST trust service provider ONLY.
"""A test trust service provider issuing software SMC-B (Praxisausweis), Django-free.

The CA (key and certificate, PEM, unencrypted: never for production) lives in one directory.
A software card is a JSON file holding the three certificates and their private keys as
PKCS#8 encrypted with the card's PIN (PIN.SMC); the portal keeps only hashes of PIN and PUK."""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kvportal.cardlib import testpki
from kvportal.kim import rules

# gemSpec_OID
OID_PRAXIS_ARZT = "1.2.276.0.76.4.50"
OID_POLICY_GEM_OR_CP = "1.2.276.0.76.4.163"
OID_SMC_B_AUT = "1.2.276.0.76.4.77"
OID_SMC_B_ENC = "1.2.276.0.76.4.76"
OID_SMC_B_OSIG = "1.2.276.0.76.4.78"
TSP_ID = "80276"  # prefix of the subject serialNumber, test value
CA_NAME = "KVSN.SMCB-CA1 TEST-ONLY"
KEY_SIZE = 2048  # what testpki.generate_key("rsa") creates

PROFILES = {
    "aut": OID_SMC_B_AUT,
    "enc": OID_SMC_B_ENC,
    "osig": OID_SMC_B_OSIG,
}


class CardError(Exception):
    """German message for a card that cannot be opened."""


@dataclass(frozen=True)
class IssuedCard:
    telematik_id: str
    iccsn: str
    certificates: dict[str, x509.Certificate]  # aut, enc, osig
    card_file: bytes  # JSON, keys encrypted with `pin`
    pin: str  # transport PIN for the PIN letter (never stored)
    puk: str

    def pem(self, kind: str) -> str:
        return self.certificates[kind].public_bytes(serialization.Encoding.PEM).decode()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o600)
    tmp.replace(path)


class TestTsp:
    """The SMC-B CA of the test trust service provider, persisted in `folder`."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)

    @property
    def _key_path(self) -> Path:
        return self.folder / "smcb-ca.key.pem"

    @property
    def _cert_path(self) -> Path:
        return self.folder / "smcb-ca.crt.pem"

    def ensure(self) -> x509.Certificate:
        """Create the CA from the running clock if it does not exist (or has expired)."""
        if self._cert_path.exists() and self._key_path.exists():
            cert = x509.load_pem_x509_certificate(self._cert_path.read_bytes())
            if cert.not_valid_after_utc > _now() + dt.timedelta(days=366 * rules.CERT_YEARS):
                return cert
        key = testpki.generate_key("rsa")
        now = _now()
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "KV Sachsen TEST-ONLY"),
                x509.NameAttribute(
                    NameOID.ORGANIZATIONAL_UNIT_NAME, "Institution des Gesundheitswesens-CA der TI"
                ),
                x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
            ]
        )
        cert = testpki.ca_certificate(
            subject=name,
            key=key,
            issuer=name,
            issuer_key=key,
            start=now - dt.timedelta(minutes=5),
            path_len=0,
            years=10,
        )
        _write_private(
            self._key_path,
            testpki.key_to_pem(key),
        )
        _write_private(self._cert_path, cert.public_bytes(serialization.Encoding.PEM))
        return cert

    def ca_certificate(self) -> x509.Certificate:
        return self.ensure()

    def _ca_key(self) -> rsa.RSAPrivateKey:
        self.ensure()
        key = testpki.key_from_pem(self._key_path.read_bytes())
        assert isinstance(key, rsa.RSAPrivateKey)
        return key

    def issue(
        self,
        *,
        telematik_id: str,
        holder_name: str,
        city: str = "",
        email: str | None = None,
        now: dt.datetime | None = None,
        pin: str | None = None,
    ) -> IssuedCard:
        """Three RSA-2048 key pairs and certificates (C.HCI.AUT, C.HCI.ENC, C.HCI.OSIG) valid
        5 years, a transport PIN and a PUK; the card file holds the keys encrypted with the PIN."""
        error = rules.check_telematik_id(telematik_id)
        if error:
            raise ValueError(error)
        now = now or _now()
        ca_cert, ca_key = self.ensure(), self._ca_key()
        iccsn = "80276" + "".join(secrets.choice("0123456789") for _ in range(15))
        pin = pin or new_pin()
        puk = "".join(secrets.choice("0123456789") for _ in range(rules.PUK_LENGTH))
        not_after = min(
            now + dt.timedelta(days=365 * rules.CERT_YEARS), ca_cert.not_valid_after_utc
        )
        certificates, keys = {}, {}
        for kind in PROFILES:
            key = testpki.generate_key("rsa")
            certificates[kind] = self._certificate(
                kind=kind,
                public_key=cast(rsa.RSAPublicKey, key.public_key()),
                holder_name=holder_name,
                city=city,
                telematik_id=telematik_id,
                iccsn=iccsn,
                email=email,
                not_before=now - dt.timedelta(minutes=5),
                not_after=not_after,
                ca_cert=ca_cert,
                ca_key=ca_key,
            )
            keys[kind] = key
        card_file = build_card_file(
            telematik_id=telematik_id,
            iccsn=iccsn,
            certificates=certificates,
            keys=keys,
            pin=pin,
            ca=ca_cert,
        )
        return IssuedCard(telematik_id, iccsn, certificates, card_file, pin, puk)

    @staticmethod
    def _certificate(
        *,
        kind: str,
        public_key: rsa.RSAPublicKey,
        holder_name: str,
        city: str,
        telematik_id: str,
        iccsn: str,
        email: str | None,
        not_before: dt.datetime,
        not_after: dt.datetime,
        ca_cert: x509.Certificate,
        ca_key: rsa.RSAPrivateKey,
    ) -> x509.Certificate:
        attrs = [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, holder_name[:64]),
            x509.NameAttribute(NameOID.COMMON_NAME, holder_name[:64]),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, f"{TSP_ID}.{iccsn}"),
        ]
        if city:
            attrs.insert(1, x509.NameAttribute(NameOID.LOCALITY_NAME, city[:128]))
        usage = {
            "aut": dict(digital_signature=True, key_encipherment=True),
            "enc": dict(key_encipherment=True, data_encipherment=True),
            "osig": dict(content_commitment=True),
        }[kind]
        builder = testpki.end_entity_builder(
            subject=x509.Name(attrs),
            public_key=public_key,
            ca_cert=ca_cert,
            ca_key=ca_key,
            not_before=not_before,
            not_after=not_after,
            usage=testpki.key_usage(**usage),
            policies=[OID_POLICY_GEM_OR_CP, PROFILES[kind]],
        ).add_extension(
            testpki.profession_admission(
                item="Arztpraxis", oid=OID_PRAXIS_ARZT, telematik_id=telematik_id
            ),
            critical=False,
        )
        if kind == "aut":
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
            )
        if email and kind == "enc":
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False
            )
        return builder.sign(ca_key, hashes.SHA256())


def new_pin() -> str:
    """A random 6-digit transport PIN that passes `rules.check_pin`."""
    while True:
        pin = "".join(secrets.choice("0123456789") for _ in range(rules.PIN_LENGTH[0]))
        if rules.check_pin(pin) is None:
            return pin


def build_card_file(
    *,
    telematik_id: str,
    iccsn: str,
    certificates: dict[str, x509.Certificate],
    keys: dict,
    pin: str,
    ca: x509.Certificate,
) -> bytes:
    pem = serialization.Encoding.PEM
    return json.dumps(
        {
            "format": "kvportal-smcb/1",
            "telematik_id": telematik_id,
            "iccsn": iccsn,
            "ca": ca.public_bytes(pem).decode(),
            "certificates": {k: c.public_bytes(pem).decode() for k, c in certificates.items()},
            "keys": {
                k: base64.b64encode(
                    key.private_bytes(
                        serialization.Encoding.DER,
                        serialization.PrivateFormat.PKCS8,
                        serialization.BestAvailableEncryption(pin.encode()),
                    )
                ).decode()
                for k, key in keys.items()
            },
        },
        indent=1,
    ).encode()


def open_card_file(data: bytes, pin: str) -> tuple[dict, dict[str, x509.Certificate], dict]:
    """(header, certificates, private keys) of a card file; CardError with a German message."""
    try:
        doc = json.loads(data)
        if doc.get("format") != "kvportal-smcb/1":
            raise ValueError
        certs = {
            k: x509.load_pem_x509_certificate(v.encode()) for k, v in doc["certificates"].items()
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise CardError("Die Datei ist keine Software-SMC-B des Portals.") from exc
    keys = {}
    for kind, blob in doc["keys"].items():
        try:
            keys[kind] = serialization.load_der_private_key(base64.b64decode(blob), pin.encode())
        except (ValueError, TypeError) as exc:
            raise CardError("Die PIN der SMC-B ist falsch.") from exc
    return doc, certs, keys


def change_pin(data: bytes, old_pin: str, new_pin_value: str) -> bytes:
    """The card file with its keys re-encrypted under a new PIN."""
    error = rules.check_pin(new_pin_value)
    if error:
        raise CardError(error)
    doc, certs, keys = open_card_file(data, old_pin)
    return build_card_file(
        telematik_id=doc["telematik_id"],
        iccsn=doc["iccsn"],
        certificates=certs,
        keys=keys,
        pin=new_pin_value,
        ca=x509.load_pem_x509_certificate(doc["ca"].encode()),
    )

# gemSpec_PKI Tab_PKI_268_1/269_1/270_1: C.HP.AUT/ENC/QES profiles. TEST PKI ONLY.
"""Test PKI shaped like the TI's: a root, an HBA CA (AUT/ENC) and a qualified CA (QES).

Everything is persisted in one directory (PEM keys and certificates plus ``state.json``
holding the issued certificates and revocations) so that the portal, the ``card`` command
and the signing agent share it. Keys are stored unencrypted: never use this for production.
The portal trusts it only with the demo/test switch ``EHBA_TEST_PKI``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from asn1crypto import core as asn1
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    NameOID,
)

from .certs import (
    _KU_NAMES,
    OID_HBA_AUT,
    OID_HBA_ENC,
    OID_HBA_QES,
    OID_POLICY_GEM_OR_CP,
    OID_POLICY_HBA_CP,
    OID_QC_COMPLIANCE,
    OID_QC_SSCD,
    OID_QC_STATEMENTS,
    OID_QC_TYPE,
    OID_QC_TYPE_ESIGN,
    OID_QCP_NATURAL_QSCD,
    OID_VALIDITY_MODEL,
    OID_VALIDITY_MODEL_CHAIN,
    Profession,
    RevocationResult,
    _QcStatements,
    _ValidityModel,
    aware,
    cert_from_pem,
    cert_to_pem,
    utcnow,
)
from .storage import atomic_write, default_ehba_dir, locked

TSP_ID = "16"  # prefix of the subject serialNumber (<TSP-ID>.<ICCSN>), medisign's value

DEFAULT_OCSP_URL = "http://127.0.0.1:8788/ocsp"

KeyAlgorithm = Literal["brainpool", "rsa"]

#: Professional chamber named as Admission authority in the test certificates.
CHAMBERS = {
    Profession.ARZT: "Sächsische Landesärztekammer (Test)",
    Profession.PSYCHOTHERAPEUT: "Ostdeutsche Psychotherapeutenkammer (Test)",
}


# --- keys ----------------------------------------------------------------------------------

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


def generate_key(algorithm: KeyAlgorithm = "brainpool") -> PrivateKey:
    if algorithm == "brainpool":
        return ec.generate_private_key(ec.BrainpoolP256R1())
    if algorithm == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"Unbekannter Schlüsseltyp: {algorithm!r} (erlaubt: brainpool, rsa)")


def key_to_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def key_from_pem(data: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("Nur EC- oder RSA-Schlüssel werden unterstützt.")
    return key


def _sig_hash(key: PrivateKey) -> hashes.SHA256:
    return hashes.SHA256()


# --- certificate building blocks (shared with other test trust service providers) ----------

_KEY_USAGE_BITS = (*_KU_NAMES, "encipher_only", "decipher_only")


def key_usage(**bits: bool) -> x509.KeyUsage:
    """A KeyUsage with the named bits set and all others off."""
    unknown = set(bits) - set(_KEY_USAGE_BITS)
    if unknown:
        raise ValueError(f"Unbekannte KeyUsage-Bits: {', '.join(sorted(unknown))}")
    return x509.KeyUsage(**{name: bits.get(name, False) for name in _KEY_USAGE_BITS})


def profession_admission(
    *, item: str, oid: str, telematik_id: str, authority: x509.Name | None = None
) -> x509.Admissions:
    """The gemSpec_PKI Admission extension: one ProfessionInfo with item, OID, Telematik-ID."""
    return x509.Admissions(
        x509.DirectoryName(authority) if authority is not None else None,
        [
            x509.Admission(
                None,
                None,
                [
                    x509.ProfessionInfo(
                        None, [item], [x509.ObjectIdentifier(oid)], telematik_id, None
                    )
                ],
            )
        ],
    )


def ca_certificate(
    *,
    subject: x509.Name,
    key: PrivateKey,
    issuer: x509.Name,
    issuer_key: PrivateKey,
    start: dt.datetime,
    path_len: int | None,
    policies: list[str] | tuple[str, ...] = (),
    years: int = 20,
) -> x509.Certificate:
    """A CA certificate (self-signed where issuer = subject): certificate and CRL signing,
    key identifiers, optional certificate policies, valid `years` from `start`."""
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
        .add_extension(key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if policies:
        b = b.add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(p), None) for p in policies]
            ),
            critical=False,
        )
    return b.sign(issuer_key, _sig_hash(issuer_key))


def end_entity_builder(
    *,
    subject: x509.Name,
    public_key: PublicKey,
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    usage: x509.KeyUsage,
    policies: list[str],
) -> x509.CertificateBuilder:
    """An end-entity certificate builder: basic constraints, key usage (both critical), key
    identifiers and certificate policies; the caller adds the profile's other extensions."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(p), None) for p in policies]
            ),
            critical=False,
        )
    )


class _QcTypes(asn1.SequenceOf):
    _child_spec = asn1.ObjectIdentifier


def _qc_statements_der() -> bytes:
    qc_type = _QcTypes([OID_QC_TYPE_ESIGN])
    return _QcStatements(
        [
            {"statement_id": OID_QC_COMPLIANCE},
            {"statement_id": OID_QC_SSCD},
            {"statement_id": OID_QC_TYPE, "statement_info": asn1.Any.load(qc_type.dump())},
        ]
    ).dump()


# --- the PKI ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardCertificates:
    aut: x509.Certificate
    enc: x509.Certificate
    qes: x509.Certificate


CaName = Literal["root", "hba", "qes"]
_FILES = {"root": "root", "hba": "hba-ca", "qes": "qes-ca"}


@dataclass
class TestPKI:
    """A persisted test PKI. Create with :meth:`create`, reopen with :meth:`load`."""

    __test__ = False  # not a pytest class

    directory: Path
    root_cert: x509.Certificate
    hba_ca_cert: x509.Certificate
    qes_ca_cert: x509.Certificate
    ocsp_url: str
    _keys: dict[str, PrivateKey] = field(default_factory=dict, repr=False)

    # -- construction
    @classmethod
    def create(
        cls,
        directory: Path | str,
        *,
        algorithm: KeyAlgorithm = "brainpool",
        ocsp_url: str = DEFAULT_OCSP_URL,
        now: dt.datetime | None = None,
        name: str = "TEST",
    ) -> TestPKI:
        directory = Path(directory)
        if (directory / "state.json").exists():
            raise FileExistsError(f"In {directory} existiert bereits eine Test-PKI.")
        now = aware(now)
        start = now - dt.timedelta(days=1)
        keys = {k: generate_key(algorithm) for k in ("root", "hba", "qes")}
        org = [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"kvportal {name}-PKI NOT-VALID"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
        ]
        root_name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, f"{name}.RCA1 TEST-ONLY"), *org]
        )
        hba_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, f"{name}.HBA-CA1 TEST-ONLY"),
                x509.NameAttribute(
                    NameOID.ORGANIZATIONAL_UNIT_NAME,
                    "Heilberufsausweis-CA der Telematikinfrastruktur",
                ),
                *org,
            ]
        )
        qes_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, f"{name}.HBA-qCA1 TEST-ONLY"),
                x509.NameAttribute(
                    NameOID.ORGANIZATIONAL_UNIT_NAME,
                    "Qualifizierter VDA der Telematikinfrastruktur",
                ),
                *org,
            ]
        )
        root = cls._ca_cert(root_name, keys["root"], root_name, keys["root"], start, None, [])
        hba = cls._ca_cert(
            hba_name, keys["hba"], root_name, keys["root"], start, 0, [OID_POLICY_GEM_OR_CP]
        )
        qes = cls._ca_cert(
            qes_name,
            keys["qes"],
            root_name,
            keys["root"],
            start,
            0,
            [OID_QCP_NATURAL_QSCD, OID_POLICY_HBA_CP],
        )
        directory.mkdir(parents=True, exist_ok=True)
        for ca, cert in (("root", root), ("hba", hba), ("qes", qes)):
            atomic_write(directory / f"{_FILES[ca]}.key.pem", key_to_pem(keys[ca]))
            atomic_write(
                directory / f"{_FILES[ca]}.cert.pem", cert_to_pem(cert).encode(), mode=0o644
            )
        state = {"ocsp_url": ocsp_url, "certificates": {}}
        atomic_write(directory / "state.json", json.dumps(state, indent=1).encode())
        return cls(directory, root, hba, qes, ocsp_url, keys)

    @classmethod
    def load(cls, directory: Path | str) -> TestPKI:
        directory = Path(directory)
        state_file = directory / "state.json"
        if not state_file.exists():
            raise FileNotFoundError(f"Keine Test-PKI in {directory} (state.json fehlt).")
        state = json.loads(state_file.read_text())
        certs = {
            ca: cert_from_pem((directory / f"{_FILES[ca]}.cert.pem").read_bytes())
            for ca in ("root", "hba", "qes")
        }
        return cls(directory, certs["root"], certs["hba"], certs["qes"], state["ocsp_url"])

    @classmethod
    def load_or_create(cls, directory: Path | str | None = None, **create_kwargs) -> TestPKI:
        directory = Path(directory) if directory is not None else default_ehba_dir() / "pki"
        with locked(directory / "state.json"):
            if (directory / "state.json").exists():
                return cls.load(directory)
            return cls.create(directory, **create_kwargs)

    @staticmethod
    def _ca_cert(subject, key, issuer, issuer_key, start, path_len, policies) -> x509.Certificate:
        return ca_certificate(
            subject=subject,
            key=key,
            issuer=issuer,
            issuer_key=issuer_key,
            start=start,
            path_len=path_len,
            policies=policies,
        )

    # -- accessors
    def _key(self, ca: CaName) -> PrivateKey:
        if ca not in self._keys:
            self._keys[ca] = key_from_pem((self.directory / f"{_FILES[ca]}.key.pem").read_bytes())
        return self._keys[ca]

    def _ca_cert_of(self, ca: CaName) -> x509.Certificate:
        return {"root": self.root_cert, "hba": self.hba_ca_cert, "qes": self.qes_ca_cert}[ca]

    @property
    def trust_anchors_login(self) -> list[x509.Certificate]:
        return [self.hba_ca_cert]

    @property
    def trust_roots(self) -> list[x509.Certificate]:
        return [self.root_cert]

    @property
    def ca_certificates(self) -> list[x509.Certificate]:
        return [self.root_cert, self.hba_ca_cert, self.qes_ca_cert]

    def issuer_of(self, cert: x509.Certificate) -> x509.Certificate | None:
        for ca in self.ca_certificates:
            if cert.issuer == ca.subject:
                try:
                    cert.verify_directly_issued_by(ca)
                except (ValueError, TypeError, InvalidSignature):
                    continue  # same name, other key: not this CA
                return ca
        return None

    def _ca_name_for_issuer(self, issuer: x509.Certificate) -> CaName | None:
        for ca in ("hba", "qes", "root"):
            if self._ca_cert_of(ca) == issuer:
                return ca
        return None

    # -- state
    @property
    def _state_file(self) -> Path:
        return self.directory / "state.json"

    def _read_state(self) -> dict:
        return json.loads(self._state_file.read_text())

    def _write_state(self, state: dict) -> None:
        atomic_write(self._state_file, json.dumps(state, indent=1).encode())

    # -- issuing
    def issue_card_certificates(
        self,
        *,
        given_name: str,
        surname: str,
        telematik_id: str,
        profession: Profession | str,
        card_serial: str,
        aut_key: PrivateKey | PublicKey,
        enc_key: PrivateKey | PublicKey,
        qes_key: PrivateKey | PublicKey,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        email: str | None = None,
    ) -> CardCertificates:
        """Issue C.HP.AUT, C.HP.ENC (HBA CA) and C.HP.QES (qualified CA) for one card."""
        profession = Profession(profession)
        not_before = aware(not_before) if not_before else utcnow() - dt.timedelta(minutes=5)
        not_after = aware(not_after) if not_after else not_before + dt.timedelta(days=5 * 365)
        kinds: tuple[tuple[Literal["aut", "enc", "qes"], PrivateKey | PublicKey], ...] = (
            ("aut", aut_key),
            ("enc", enc_key),
            ("qes", qes_key),
        )
        certs = {
            kind: self._issue_ee(
                kind=kind,
                public_key=_public(key),
                given_name=given_name,
                surname=surname,
                telematik_id=telematik_id,
                profession=profession,
                card_serial=card_serial,
                not_before=not_before,
                not_after=not_after,
                email=email,
            )
            for kind, key in kinds
        }
        with locked(self._state_file):
            state = self._read_state()
            for kind, cert in certs.items():
                state["certificates"][format(cert.serial_number, "x")] = {
                    "kind": kind,
                    "ca": "qes" if kind == "qes" else "hba",
                    "card": card_serial,
                    "telematik_id": telematik_id,
                    "not_after": not_after.isoformat(),
                    "revoked_at": None,
                    "pem": cert_to_pem(cert),
                }
            self._write_state(state)
        return CardCertificates(**certs)

    def issue_qes_certificate(self, public_key: PublicKey, **kwargs) -> x509.Certificate:
        """Only a C.HP.QES for an existing key (e.g. a key generated on a PKCS#11 token)."""
        kwargs = dict(kwargs)
        profession = Profession(kwargs.pop("profession"))
        not_before = aware(kwargs.pop("not_before", None) or utcnow() - dt.timedelta(minutes=5))
        not_after = aware(kwargs.pop("not_after", None) or not_before + dt.timedelta(days=5 * 365))
        cert = self._issue_ee(
            kind="qes",
            public_key=public_key,
            profession=profession,
            not_before=not_before,
            not_after=not_after,
            email=None,
            **kwargs,
        )
        with locked(self._state_file):
            state = self._read_state()
            state["certificates"][format(cert.serial_number, "x")] = {
                "kind": "qes",
                "ca": "qes",
                "card": kwargs["card_serial"],
                "telematik_id": kwargs["telematik_id"],
                "not_after": not_after.isoformat(),
                "revoked_at": None,
                "pem": cert_to_pem(cert),
            }
            self._write_state(state)
        return cert

    def _issue_ee(
        self,
        *,
        kind: Literal["aut", "enc", "qes"],
        public_key: PublicKey,
        given_name: str,
        surname: str,
        telematik_id: str,
        profession: Profession,
        card_serial: str,
        not_before: dt.datetime,
        not_after: dt.datetime,
        email: str | None,
    ) -> x509.Certificate:
        ca: CaName = "qes" if kind == "qes" else "hba"
        ca_cert = self._ca_cert_of(ca)
        ca_key = self._key(ca)
        cn = f"{given_name} {surname}"[:64]
        subject = x509.Name(
            [
                x509.RelativeDistinguishedName(
                    [
                        x509.NameAttribute(NameOID.COMMON_NAME, cn),
                        x509.NameAttribute(NameOID.GIVEN_NAME, given_name),
                        x509.NameAttribute(NameOID.SURNAME, surname),
                        x509.NameAttribute(NameOID.SERIAL_NUMBER, f"{TSP_ID}.{card_serial}"),
                    ]
                ),
                x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "DE")]),
            ]
        )
        is_ec = isinstance(public_key, ec.EllipticCurvePublicKey)
        if kind == "aut":
            ku = {"digital_signature": True, "key_encipherment": not is_ec, "key_agreement": is_ec}
            policies = [OID_POLICY_HBA_CP, OID_HBA_AUT]
        elif kind == "enc":
            ku = {
                "key_encipherment": not is_ec,
                "data_encipherment": not is_ec,
                "key_agreement": is_ec,
            }
            policies = [OID_POLICY_HBA_CP, OID_HBA_ENC]
        else:
            ku = {"content_commitment": True}
            policies = [OID_POLICY_HBA_CP, OID_HBA_QES, OID_QCP_NATURAL_QSCD]
        b = end_entity_builder(
            subject=subject,
            public_key=public_key,
            ca_cert=ca_cert,
            ca_key=ca_key,
            not_before=not_before,
            not_after=not_after,
            usage=key_usage(**ku),
            policies=policies,
        )
        b = b.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(self.ocsp_url),
                    )
                ]
            ),
            critical=False,
        ).add_extension(
            profession_admission(
                item=profession.item,
                oid=profession.oid,
                telematik_id=telematik_id,
                authority=x509.Name(
                    [
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, CHAMBERS[profession]),
                        x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
                    ]
                ),
            ),
            critical=False,
        )
        if kind == "aut":
            b = b.add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]
                ),
                critical=False,
            )
        if email and kind != "qes":
            b = b.add_extension(
                x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False
            )
        if kind == "qes":
            b = b.add_extension(
                x509.UnrecognizedExtension(
                    x509.ObjectIdentifier(OID_QC_STATEMENTS), _qc_statements_der()
                ),
                critical=False,
            )
            b = b.add_extension(
                x509.UnrecognizedExtension(
                    x509.ObjectIdentifier(OID_VALIDITY_MODEL),
                    _ValidityModel({"model_id": OID_VALIDITY_MODEL_CHAIN}).dump(),
                ),
                critical=False,
            )
        return b.sign(ca_key, _sig_hash(ca_key))

    # -- revocation
    def revoke(self, cert: x509.Certificate, *, at: dt.datetime | None = None) -> None:
        """Revoke a certificate of this PKI. Irreversible: a second call keeps the first time."""
        at = aware(at)
        serial = format(cert.serial_number, "x")
        with locked(self._state_file):
            state = self._read_state()
            entry = state["certificates"].get(serial)
            if entry is None:
                raise KeyError(f"Zertifikat {serial} wurde nicht von dieser Test-PKI ausgestellt.")
            if entry["revoked_at"] is None:
                entry["revoked_at"] = at.isoformat()
                self._write_state(state)

    def _lookup(self, serial_number: int) -> dict | None:
        return self._read_state()["certificates"].get(format(serial_number, "x"))

    def revocation_check(
        self, cert: x509.Certificate, issuer: x509.Certificate | None = None, *, now=None
    ) -> RevocationResult:
        """Direct lookup in state.json (what the OCSP responder would answer)."""
        entry = self._lookup(cert.serial_number)
        if entry is None or cert_from_pem(entry["pem"]) != cert:
            return RevocationResult("unknown", source="lokal (Test-PKI)")
        if entry["revoked_at"]:
            revoked_at = dt.datetime.fromisoformat(entry["revoked_at"])
            if revoked_at <= aware(now):
                return RevocationResult("revoked", revoked_at, source="lokal (Test-PKI)")
        return RevocationResult("good", source="lokal (Test-PKI)")

    def ocsp_response(self, request_der: bytes, *, now: dt.datetime | None = None) -> bytes:
        """Answer a DER OCSP request (RFC 6960), signed directly by the issuing CA."""
        now = aware(now)
        try:
            req = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.MALFORMED_REQUEST
            ).public_bytes(serialization.Encoding.DER)
        ca_name: CaName | None = None
        candidates: tuple[CaName, ...] = ("hba", "qes", "root")
        for ca in candidates:
            ca_cert = self._ca_cert_of(ca)
            key_hash = _issuer_key_hash(ca_cert, req.hash_algorithm)
            if key_hash == req.issuer_key_hash:
                ca_name = ca
                break
        if ca_name is None:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED
            ).public_bytes(serialization.Encoding.DER)
        ca_cert = self._ca_cert_of(ca_name)
        entry = self._lookup(req.serial_number)
        builder = ocsp.OCSPResponseBuilder()
        if entry is None or entry["ca"] != ca_name:
            builder = builder.add_response_by_hash(
                issuer_name_hash=req.issuer_name_hash,
                issuer_key_hash=req.issuer_key_hash,
                serial_number=req.serial_number,
                algorithm=req.hash_algorithm,
                cert_status=ocsp.OCSPCertStatus.UNKNOWN,
                this_update=now,
                next_update=now + dt.timedelta(hours=1),
                revocation_time=None,
                revocation_reason=None,
            )
        else:
            cert = cert_from_pem(entry["pem"])
            revoked_at = (
                dt.datetime.fromisoformat(entry["revoked_at"]) if entry["revoked_at"] else None
            )
            revoked = revoked_at is not None and revoked_at <= now
            builder = builder.add_response(
                cert=cert,
                issuer=ca_cert,
                algorithm=req.hash_algorithm,
                cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
                this_update=now,
                next_update=now + dt.timedelta(hours=1),
                revocation_time=revoked_at if revoked else None,
                revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
            )
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, ca_cert)
        for ext in req.extensions:
            if isinstance(ext.value, x509.OCSPNonce):
                builder = builder.add_extension(ext.value, critical=False)
        key = self._key(ca_name)
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def crl(self, which: Literal["hba", "qes"], *, now: dt.datetime | None = None) -> bytes:
        """DER CRL of one CA with all revocations known at ``now``."""
        now = aware(now)
        ca_cert = self._ca_cert_of(which)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca_cert.subject)
            .last_update(now)
            .next_update(now + dt.timedelta(days=1))
        )
        for serial, entry in self._read_state()["certificates"].items():
            if entry["ca"] != which or not entry["revoked_at"]:
                continue
            revoked_at = dt.datetime.fromisoformat(entry["revoked_at"])
            if revoked_at > now:
                continue
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(int(serial, 16))
                .revocation_date(revoked_at)
                .build()
            )
        return builder.sign(self._key(which), hashes.SHA256()).public_bytes(
            serialization.Encoding.DER
        )


def _public(key: PrivateKey | PublicKey) -> PublicKey:
    if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        return key.public_key()
    return key


def _issuer_key_hash(ca_cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    spki = ca_cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # the hash covers the BIT STRING content (the key bytes), not the whole SPKI
    from asn1crypto import keys as asn1_keys

    key_bytes = asn1_keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]
    return hashlib.new(algorithm.name, key_bytes).digest()

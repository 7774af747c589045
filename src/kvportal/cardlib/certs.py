# gemSpec_PKI Tab_PKI_268_1/269_1/270_1, GS-A_4709/4901: C.HP.* profiles read from certificates.
"""Certificate parsing and profiles of the eHBA (C.HP.AUT/ENC/QES), used in production.

OIDs, :class:`Profession`, :func:`parse_card_certificate` (person, Telematik-ID, profession,
policies, key usage, QC statements …), :class:`RevocationResult`, PEM/fingerprint helpers and
:func:`load_pem_certificates` for configured trust anchors. No keys, no test CA: those live in
:mod:`kvportal.cardlib.testpki`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

from asn1crypto import algos
from asn1crypto import core as asn1
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

# --- OIDs (gemSpec_OID, via gematik/zero-lab go/gempki/oids.go) ---------------------------
OID_ADMISSION = "1.3.36.8.3.3"
OID_ARZT = "1.2.276.0.76.4.30"
OID_PSYCHOTHERAPEUT = "1.2.276.0.76.4.45"
OID_PS_PSYCHOTHERAPEUT = "1.2.276.0.76.4.46"
OID_KUJ_PSYCHOTHERAPEUT = "1.2.276.0.76.4.47"
OID_POLICY_HBA_CP = "1.2.276.0.76.4.145"
OID_POLICY_GEM_OR_CP = "1.2.276.0.76.4.163"
OID_HBA_QES = "1.2.276.0.76.4.72"
OID_HBA_ENC = "1.2.276.0.76.4.74"
OID_HBA_AUT = "1.2.276.0.76.4.75"
OID_QCP_NATURAL_QSCD = "0.4.0.194112.1.2"
OID_QC_STATEMENTS = "1.3.6.1.5.5.7.1.3"
OID_QC_COMPLIANCE = "0.4.0.1862.1.1"
OID_QC_SSCD = "0.4.0.1862.1.4"
OID_QC_TYPE = "0.4.0.1862.1.6"
OID_QC_TYPE_ESIGN = "0.4.0.1862.1.6.1"
OID_VALIDITY_MODEL = "1.3.6.1.4.1.8301.3.5"
OID_VALIDITY_MODEL_CHAIN = "1.3.6.1.4.1.8301.3.5.1"

PSYCHOTHERAPEUT_OIDS = frozenset(
    {OID_PSYCHOTHERAPEUT, OID_PS_PSYCHOTHERAPEUT, OID_KUJ_PSYCHOTHERAPEUT}
)


class Profession(StrEnum):
    ARZT = "arzt"
    PSYCHOTHERAPEUT = "psychotherapeut"

    @property
    def oid(self) -> str:
        return OID_ARZT if self is Profession.ARZT else OID_PSYCHOTHERAPEUT

    @property
    def item(self) -> str:
        return "Ärztin/Arzt" if self is Profession.ARZT else "Psychotherapeut/-in"


def profession_from_oids(oids: list[str] | tuple[str, ...]) -> Profession | None:
    if OID_ARZT in oids:
        return Profession.ARZT
    if PSYCHOTHERAPEUT_OIDS.intersection(oids):
        return Profession.PSYCHOTHERAPEUT
    return None


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(moment: dt.datetime | None) -> dt.datetime:
    if moment is None:
        return utcnow()
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment


_aware = aware  # the name the card modules used before the split


def cert_to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def cert_from_pem(data: str | bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(data.encode() if isinstance(data, str) else data)


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def load_pem_certificates(paths: Iterable[Path | str]) -> list[x509.Certificate]:
    """All certificates in the given PEM files; a directory stands for its ``*.pem`` files
    (files holding a private key are skipped). Raises ``FileNotFoundError`` for a missing path
    and ``ValueError`` (German text naming the file) for a file without a readable
    certificate."""
    certs: list[x509.Certificate] = []
    for entry in paths:
        path = Path(entry)
        files = sorted(path.glob("*.pem")) if path.is_dir() else [path]
        for file in files:
            data = file.read_bytes()
            if b"PRIVATE KEY" in data and path.is_dir():
                continue
            try:
                found = x509.load_pem_x509_certificates(data)
            except ValueError as exc:
                raise ValueError(f"{file}: keine lesbare Zertifikatsdatei (PEM) – {exc}") from exc
            certs.extend(found)
    return certs


# --- ASN.1 for extensions cryptography does not model ------------------------------------


class _QcStatement(asn1.Sequence):
    _fields = [
        ("statement_id", asn1.ObjectIdentifier),
        ("statement_info", asn1.Any, {"optional": True}),
    ]


class _QcStatements(asn1.SequenceOf):
    _child_spec = _QcStatement


class _QcTypes(asn1.SequenceOf):
    _child_spec = asn1.ObjectIdentifier


class _ValidityModel(asn1.Sequence):
    _fields = [("model_id", asn1.ObjectIdentifier), ("model_info", asn1.Any, {"optional": True})]


def parse_qc_statements(der: bytes) -> list[str]:
    return [s["statement_id"].dotted for s in _QcStatements.load(der)]


# --- certificate profile parsed back --------------------------------------------------------


@dataclass(frozen=True)
class CertificateProfile:
    given_name: str
    surname: str
    common_name: str
    serial_number: str
    telematik_id: str | None
    profession_oids: tuple[str, ...]
    profession: Profession | None
    admission_authority: str | None
    policies: tuple[str, ...]
    key_usage: frozenset[str]
    ext_key_usage: tuple[str, ...]
    qc_statements: tuple[str, ...]
    ocsp_urls: tuple[str, ...]
    validity_model: str | None
    fingerprint: str
    not_before: dt.datetime
    not_after: dt.datetime
    issuer_cn: str


PSS_SALT_LENGTH = 32


def sha256_mgf1_params() -> dict:
    """SHA-256 with MGF1-SHA-256: the hash part of the RSASSA-PSS and RSAES-OAEP parameters."""
    return {
        "hash_algorithm": {"algorithm": "sha256"},
        "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
    }


def pss_mechanism() -> algos.SignedDigestAlgorithm:
    """RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (what the card does;
    gemSMIME_KOMLE for KIM signatures too)."""
    return algos.SignedDigestAlgorithm(
        {
            "algorithm": "rsassa_pss",
            "parameters": algos.RSASSAPSSParams(
                {**sha256_mgf1_params(), "salt_length": PSS_SALT_LENGTH}
            ),
        }
    )


_KU_NAMES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def parse_card_certificate(cert: x509.Certificate) -> CertificateProfile:
    """Read the person/profile data of a C.HP.* certificate (missing parts → empty)."""
    exts = cert.extensions

    def ext(cls):
        try:
            return exts.get_extension_for_class(cls).value
        except x509.ExtensionNotFound:
            return None

    telematik_id = None
    profession_oids: list[str] = []
    authority = None
    adm = ext(x509.Admissions)
    if adm is not None:
        if adm.authority is not None and isinstance(adm.authority, x509.DirectoryName):
            authority = adm.authority.value.rfc4514_string()
        for admission in adm:
            for info in admission.profession_infos:
                profession_oids.extend(o.dotted_string for o in info.profession_oids or ())
                if telematik_id is None and info.registration_number:
                    telematik_id = info.registration_number
    policies = ext(x509.CertificatePolicies)
    ku = ext(x509.KeyUsage)
    key_usage = set()
    if ku is not None:
        for name in _KU_NAMES:
            if getattr(ku, name):
                key_usage.add(name)
        if ku.key_agreement:
            key_usage.discard("encipher_only")
    eku = ext(x509.ExtendedKeyUsage)
    aia = ext(x509.AuthorityInformationAccess)
    qc: list[str] = []
    validity_model = None
    for e in exts:
        if e.oid.dotted_string == OID_QC_STATEMENTS and isinstance(
            e.value, x509.UnrecognizedExtension
        ):
            qc = parse_qc_statements(e.value.value)
        if e.oid.dotted_string == OID_VALIDITY_MODEL and isinstance(
            e.value, x509.UnrecognizedExtension
        ):
            validity_model = _ValidityModel.load(e.value.value)["model_id"].dotted
    return CertificateProfile(
        given_name=_attr(cert.subject, NameOID.GIVEN_NAME),
        surname=_attr(cert.subject, NameOID.SURNAME),
        common_name=_attr(cert.subject, NameOID.COMMON_NAME),
        serial_number=_attr(cert.subject, NameOID.SERIAL_NUMBER),
        telematik_id=telematik_id,
        profession_oids=tuple(profession_oids),
        profession=profession_from_oids(profession_oids),
        admission_authority=authority,
        policies=tuple(p.policy_identifier.dotted_string for p in policies or ()),
        key_usage=frozenset(key_usage),
        ext_key_usage=tuple(o.dotted_string for o in eku or ()),
        qc_statements=tuple(qc),
        ocsp_urls=tuple(
            str(d.access_location.value)
            for d in aia or ()
            if d.access_method == AuthorityInformationAccessOID.OCSP
        ),
        validity_model=validity_model,
        fingerprint=fingerprint(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        issuer_cn=_attr(cert.issuer, NameOID.COMMON_NAME),
    )


# --- revocation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevocationResult:
    status: Literal["good", "revoked", "unknown"]
    revoked_at: dt.datetime | None = None
    source: str = "lokal"

    def __str__(self) -> str:
        return self.status

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "source": self.source,
        }

    @classmethod
    def coerce(cls, value: RevocationResult | str) -> RevocationResult:
        if isinstance(value, RevocationResult):
            return value
        statuses: dict[str, Literal["good", "revoked", "unknown"]] = {
            "good": "good",
            "revoked": "revoked",
            "unknown": "unknown",
        }
        if value not in statuses:
            return cls("unknown", source=str(value))
        return cls(statuses[value], source="Prüffunktion")

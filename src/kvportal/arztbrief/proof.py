# eArztbrief counting (EBM 86900/86901): a letter sent or received outside the portal's web
# mailbox counts only on proof of its QES — the detached CMS SignedData of the PAdES signature,
# verified over the reported digest of the signed byte ranges; no letter content. No Django.
"""Verify a QES proof: CMS SignedData (the `/Contents` of the PDF's signature dictionary) and
the SHA-256 of the signed byte ranges.

Why no plaintext is needed: the CMS signature signs its signed attributes, and those contain
`messageDigest` = the hash of exactly the PDF bytes covered by the signature (PAdES, ETSI EN
319 142-1: the byte ranges around `/Contents`). If the signature verifies with the reported
digest, the signer's QES key signed a document with that digest — the letter itself is not
needed, and the digest does not reveal it (SHA-256 is preimage-resistant). The digest then
identifies the letter for idempotent counting.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kvportal.cardlib import certs

PROBLEMS_DE = {
    "not_cms": "„signatur“ ist keine lesbare CMS-SignedData-Struktur (erwartet: der Inhalt von "
    "/Contents der PDF-Signatur, Base64 oder Hex).",
    "signer_count": "Die CMS-Signatur muss genau eine Signatur (SignerInfo) enthalten.",
    "digest_algorithm": "Die Signatur verwendet nicht SHA-256; nur SHA-256 wird gezählt.",
    "digest_mismatch": "Der gemeldete Hashwert passt nicht zur Signatur (messageDigest): "
    "die Signatur gehört nicht zu diesem Dokument.",
    "bad_signature": "Die CMS-Signatur ist mathematisch ungültig.",
    "wrong_ca": "Das Signaturzertifikat stammt nicht von einem vertrauenswürdigen "
    "qualifizierten Vertrauensdiensteanbieter.",
    "not_qes": "Das Zertifikat ist kein qualifiziertes Signaturzertifikat eines "
    "Heilberufsausweises (C.HP.QES).",
    "expired": "Das Signaturzertifikat war zum Zeitpunkt der Meldung abgelaufen.",
    "not_yet_valid": "Das Signaturzertifikat ist noch nicht gültig.",
    "revoked": "Das Signaturzertifikat ist gesperrt (widerrufen).",
    "revocation_unknown": "Der Sperrstatus des Signaturzertifikats konnte nicht geprüft werden.",
}


@dataclass
class ProofResult:
    problems: list[str] = field(default_factory=list)
    signer_name: str = ""
    telematik_id: str = ""
    certificate_fingerprint: str = ""
    signing_time: dt.datetime | None = None

    @property
    def valid(self) -> bool:
        return not self.problems

    def messages(self) -> list[str]:
        return [PROBLEMS_DE[c] for c in self.problems]


def decode_signature(text: str) -> bytes:
    """The /Contents value as hex (as in the PDF, zero padding allowed) or Base64."""
    import base64
    import binascii

    raw = "".join(str(text or "").split())
    if raw.startswith("<") and raw.endswith(">"):
        raw = raw[1:-1]
    try:
        if raw and all(c in "0123456789abcdefABCDEF" for c in raw) and len(raw) % 2 == 0:
            data = bytes.fromhex(raw)
        else:
            data = base64.b64decode(raw, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise ValueError(PROBLEMS_DE["not_cms"]) from exc
    if not data:
        raise ValueError(PROBLEMS_DE["not_cms"])
    return data


def _signed_data(der: bytes) -> cms.SignedData:
    info = cms.ContentInfo.load(der)  # trailing zero padding of /Contents is ignored
    if info["content_type"].native != "signed_data":
        raise ValueError("not signed data")
    signed = info["content"]
    _ = signed["signer_infos"].native  # force parsing: damaged data fails here, not later
    return signed


def _qes_profile_ok(profile: certs.CertificateProfile) -> bool:
    return (
        certs.OID_HBA_QES in profile.policies
        and certs.OID_QCP_NATURAL_QSCD in profile.policies
        and certs.OID_QC_COMPLIANCE in profile.qc_statements
        and certs.OID_QC_SSCD in profile.qc_statements
        and "content_commitment" in profile.key_usage
        and profile.profession is not None
    )


def verify_proof(
    *,
    signature_der: bytes,
    digest: bytes,
    trust_roots: Sequence[x509.Certificate],
    revocation_check: Callable[..., Any] | None,
    now: dt.datetime,
) -> ProofResult:
    """Check the CMS signature over ``digest`` (messageDigest), the QES certificate chain to
    ``trust_roots``, the C.HP.QES profile, validity at ``now`` and revocation."""
    from pyhanko.sign.validation.generic_cms import (
        async_validate_cms_signature,
        extract_self_reported_ts,
    )

    from kvportal.cardlib.validation import offline_context

    result = ProofResult()
    try:
        signed = _signed_data(signature_der)
    except Exception:  # any ASN.1 parser error is a refusal, never a crash
        result.problems.append("not_cms")
        return result
    if len(signed["signer_infos"]) != 1:
        result.problems.append("signer_count")
        return result
    info = signed["signer_infos"][0]
    if info["digest_algorithm"]["algorithm"].native != "sha256" or len(digest) != 32:
        result.problems.append("digest_algorithm")
        return result
    roots = [
        asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in trust_roots
    ]
    context = offline_context(roots, now)
    try:
        status = asyncio.run(
            async_validate_cms_signature(signed, raw_digest=digest, validation_context=context)
        )
    except Exception:
        result.problems.append("not_cms")
        return result
    if not status.intact:
        result.problems.append("digest_mismatch")
        return result
    if not status.valid:
        result.problems.append("bad_signature")
        return result
    cert = x509.load_der_x509_certificate(status.signing_cert.dump())
    profile = certs.parse_card_certificate(cert)
    result.signer_name = f"{profile.given_name} {profile.surname}".strip() or profile.common_name
    result.telematik_id = profile.telematik_id or ""
    result.certificate_fingerprint = certs.fingerprint(cert)
    try:
        result.signing_time = extract_self_reported_ts(info)
    except Exception:  # signing time is informative only
        result.signing_time = None
    if now > profile.not_after:
        result.problems.append("expired")
    elif now < profile.not_before:
        result.problems.append("not_yet_valid")
    elif status.validation_path is None or not status.trusted:
        result.problems.append("wrong_ca")
    if not _qes_profile_ok(profile):
        result.problems.append("not_qes")
    if result.problems:
        return result
    issuer = next(
        (
            x509.load_der_x509_certificate(c.dump())
            for c in status.validation_path.iter_certs(include_root=True)
            if c.subject == status.signing_cert.issuer
        ),
        None,
    )
    if revocation_check is None or issuer is None:
        result.problems.append("revocation_unknown")
        return result
    revocation = certs.RevocationResult.coerce(revocation_check(cert, issuer))
    if revocation.status == "revoked":
        result.problems.append("revoked")
    elif revocation.status != "good":
        result.problems.append("revocation_unknown")
    return result

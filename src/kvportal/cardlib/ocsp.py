# RFC 6960 / gemSpec_PKI TUC_PKI_006: OCSP status with nonce (client, used in production).
"""OCSP client check (the test responder is :mod:`kvportal.cardlib.ocsp_server`).

``ocsp_revocation_check(...)`` returns a callable ``(cert, issuer) -> RevocationResult`` that
asks the OCSP responder named in the certificate's AIA (or ``url``), verifies the response
signature (signed by the issuing CA itself or by a responder certificate the CA issued with
id-kp-OCSPSigning) and the nonce. Usable for ``verify_login_token`` and
``validate_pdf_signatures``.
"""

from __future__ import annotations

import datetime as dt
import os
import urllib.request
from collections.abc import Callable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from .certs import RevocationResult, _aware

OCSP_CONTENT_TYPE = "application/ocsp-request"


def build_request(
    cert: x509.Certificate, issuer: x509.Certificate, *, nonce: bytes | None = None
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def http_fetch(url: str, request_der: bytes, *, timeout: float = 5.0) -> bytes:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"Ungültige OCSP-Adresse: {url}")
    req = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=request_der, headers={"Content-Type": OCSP_CONTENT_TYPE}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
        return resp.read()


def _verify_signed_by(response: ocsp.OCSPResponse, signer: x509.Certificate) -> bool:
    key = signer.public_key()
    algorithm = response.signature_hash_algorithm
    if algorithm is None:  # Ed25519/Ed448: not a profile of the TI
        return False
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(
                response.signature,
                response.tbs_response_bytes,
                padding.PKCS1v15(),
                algorithm,
            )
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _responder_ok(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> bool:
    if _verify_signed_by(response, issuer):
        return True
    for cert in response.certificates:  # delegated responder issued by the CA
        try:
            cert.verify_directly_issued_by(issuer)
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING in eku and _verify_signed_by(response, cert):
            return True
    return False


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        str(d.access_location.value)
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.OCSP
    ]


def ocsp_revocation_check(
    cert: x509.Certificate | None = None,
    issuer: x509.Certificate | None = None,
    *,
    url: str | None = None,
    fetch: Callable[[str, bytes], bytes] = http_fetch,
    now: dt.datetime | None = None,
    max_age: dt.timedelta = dt.timedelta(hours=24),
) -> Callable[[x509.Certificate, x509.Certificate], RevocationResult] | RevocationResult:
    """A real OCSP round trip. ``url`` overrides the AIA address (like the TSL mapping of
    public to TI addresses); ``fetch(url, request) -> response``.

    Two forms: ``ocsp_revocation_check(cert, issuer, **opts) -> RevocationResult`` checks at
    once; ``ocsp_revocation_check(**opts)`` returns a ``(cert, issuer) -> RevocationResult``
    callable for ``verify_login_token`` / ``validate_pdf_signatures``."""

    def check(cert: x509.Certificate, issuer: x509.Certificate) -> RevocationResult:
        moment = _aware(now)
        target = url or next(iter(ocsp_urls(cert)), None)
        if not target:
            return RevocationResult("unknown", source="keine OCSP-Adresse")
        source = f"OCSP {target}"
        nonce = os.urandom(16)
        try:
            raw = fetch(target, build_request(cert, issuer, nonce=nonce))
            response = ocsp.load_der_ocsp_response(raw)
        except (OSError, ValueError):
            return RevocationResult("unknown", source=f"{source} (nicht erreichbar)")
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return RevocationResult("unknown", source=f"{source} ({response.response_status.name})")
        if not _responder_ok(response, issuer):
            return RevocationResult("unknown", source=f"{source} (Antwort nicht vertrauenswürdig)")
        try:
            got_nonce = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            got_nonce = None
        if got_nonce != nonce:
            return RevocationResult("unknown", source=f"{source} (Nonce passt nicht)")
        single = next(
            (r for r in response.responses if r.serial_number == cert.serial_number), None
        )
        if single is None:
            return RevocationResult("unknown", source=source)
        if single.this_update_utc > moment + dt.timedelta(minutes=5) or (
            single.this_update_utc < moment - max_age
        ):
            return RevocationResult("unknown", source=f"{source} (Antwort veraltet)")
        if single.certificate_status == ocsp.OCSPCertStatus.REVOKED:
            return RevocationResult("revoked", single.revocation_time_utc, source=source)
        if single.certificate_status == ocsp.OCSPCertStatus.GOOD:
            return RevocationResult("good", source=source)
        return RevocationResult("unknown", source=source)

    if cert is not None:
        if issuer is None:
            raise ValueError("Für die OCSP-Prüfung wird das Zertifikat des Ausstellers benötigt.")
        return check(cert, issuer)
    return check

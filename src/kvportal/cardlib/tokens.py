# gemSpec_PKI TUC_PKI_018: AUT certificate check; gematik IDP style BP256R1/PS256 JWS.
"""Login token: the card signs the portal's challenge with its C.HP.AUT key.

Format: compact JWS, header ``{"alg": "BP256R1"|"PS256", "typ": "JWT", "x5c": [AUT cert]}``,
payload ``{"challenge", "aud", "iat", "telematik_id"}``. The portal verifies chain, validity,
key usage, policy, profession, revocation and that the signed challenge/audience are the
expected ones. Freshness / single use of the challenge is the portal's job.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID

from .certs import (
    OID_HBA_AUT,
    OID_POLICY_HBA_CP,
    RevocationResult,
    _aware,
    fingerprint,
    parse_card_certificate,
)


class AuthCard(Protocol):
    """What :func:`sign_login_challenge` needs from a card (the software card implements it;
    the verifier below never sees a card)."""

    @property
    def aut_certificate(self) -> x509.Certificate: ...

    @property
    def telematik_id(self) -> str: ...

    def check_usable(self, now: dt.datetime | None = None) -> None: ...

    def sign_authentication(
        self, pin: Any, data: bytes, *, now: dt.datetime | None = None
    ) -> bytes: ...


class LoginTokenError(Exception):
    """Refusal of a login token. ``code`` is stable (for the access log), ``message_de`` shown."""

    MESSAGES = {
        "malformed": "Die Anmeldeantwort der Karte ist unvollständig oder beschädigt.",
        "wrong_ca": "Das Kartenzertifikat stammt nicht von einer vertrauenswürdigen "
        "Heilberufsausweis-CA.",
        "bad_signature": "Die Signatur der Anmeldeantwort ist ungültig.",
        "not_yet_valid": "Das Kartenzertifikat ist noch nicht gültig.",
        "expired": "Das Kartenzertifikat ist abgelaufen. Bitte verwenden Sie Ihre Folgekarte.",
        "wrong_key_usage": "Das Zertifikat ist kein Authentisierungszertifikat (C.HP.AUT).",
        "wrong_policy": "Das Zertifikat hat nicht die Zertifikatsrichtlinie eines "
        "Heilberufsausweises (C.HP.AUT).",
        "wrong_profession": "Die Karte weist keine Ärztin/keinen Arzt und keine "
        "Psychotherapeutin/keinen Psychotherapeuten aus.",
        "revoked": "Das Kartenzertifikat ist gesperrt (widerrufen).",
        "revocation_unknown": "Der Sperrstatus des Kartenzertifikats konnte nicht geprüft "
        "werden. Bitte versuchen Sie es später erneut.",
        "wrong_challenge": "Die Karte hat nicht die aktuelle Anmeldeanfrage dieses Portals "
        "signiert.",
    }

    def __init__(self, code: str, message_de: str | None = None):
        self.code = code
        self.message_de = message_de or self.MESSAGES.get(
            code, "Anmeldung mit der Karte fehlgeschlagen."
        )
        super().__init__(self.message_de)


@dataclass(frozen=True)
class CardIdentity:
    telematik_id: str
    given_name: str
    surname: str
    profession: str  # 'arzt' | 'psychotherapeut'
    serial: str  # subject serialNumber <TSP-ID>.<ICCSN>: changes with every card
    fingerprint: str  # sha256 hex of the AUT certificate
    not_after: dt.datetime
    issuer: str
    certificate_pem: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "telematik_id": self.telematik_id,
            "given_name": self.given_name,
            "surname": self.surname,
            "profession": self.profession,
            "serial": self.serial,
            "fingerprint": self.fingerprint,
            "not_after": self.not_after.isoformat(),
            "issuer": self.issuer,
        }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_login_challenge(
    card: AuthCard, pin: str, challenge: str, audience: str, *, now: dt.datetime | None = None
) -> str:
    """PIN.CH on the card, then a compact JWS over the challenge. Raises the card errors."""
    now = _aware(now)
    card.check_usable(now)
    cert = card.aut_certificate
    alg = "BP256R1" if isinstance(cert.public_key(), ec.EllipticCurvePublicKey) else "PS256"
    header = {
        "alg": alg,
        "typ": "JWT",
        "x5c": [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()],
    }
    payload = {
        "challenge": challenge,
        "aud": audience,
        "iat": int(now.timestamp()),
        "telematik_id": card.telematik_id,
    }
    signing_input = (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    )
    signature = card.sign_authentication(pin, signing_input.encode("ascii"), now=now)
    return signing_input + "." + _b64(signature)


def _find_issuer(
    cert: x509.Certificate, anchors: Sequence[x509.Certificate]
) -> x509.Certificate | None:
    for ca in anchors:
        if ca.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return ca
    return None


def _verify_jws_signature(
    cert: x509.Certificate, alg: str, signing_input: bytes, sig: bytes
) -> bool:
    key = cert.public_key()
    try:
        if alg == "BP256R1":
            if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(
                key.curve, ec.BrainpoolP256R1
            ):
                return False
            if len(sig) != 64:
                return False
            der = encode_dss_signature(
                int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            )
            key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
        elif alg == "PS256":
            if not isinstance(key, rsa.RSAPublicKey):
                return False
            key.verify(
                sig,
                signing_input,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                hashes.SHA256(),
            )
        else:
            return False
    except InvalidSignature:
        return False
    return True


def verify_login_token(
    token: str,
    *,
    expected_challenge: str,
    audience: str,
    trust_anchors: Sequence[x509.Certificate],
    now: dt.datetime | None = None,
    revocation_check: Callable[[x509.Certificate, x509.Certificate], RevocationResult | str],
) -> CardIdentity:
    """Check a login token; returns the card holder or raises :class:`LoginTokenError`.

    ``trust_anchors``: the HBA CA certificates the portal trusts (issuers of C.HP.AUT).
    Order of checks: format, CA, signature, validity, key usage, policy, profession,
    revocation, challenge/audience.
    """
    now = _aware(now)
    # -- format
    try:
        if not isinstance(token, str):
            raise ValueError("token")
        h64, p64, s64 = token.split(".")
        header = json.loads(_unb64(h64))
        payload = json.loads(_unb64(p64))
        sig = _unb64(s64)
        if not isinstance(header, dict) or not isinstance(payload, dict):
            raise ValueError("json")
        alg = header["alg"]
        x5c = header["x5c"]
        if not isinstance(x5c, list) or not x5c:
            raise ValueError("x5c")
        cert = x509.load_der_x509_certificate(base64.b64decode(x5c[0], validate=True))
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise LoginTokenError("malformed") from exc
    # -- chain to a configured HBA CA
    issuer = _find_issuer(cert, trust_anchors)
    if issuer is None:
        raise LoginTokenError("wrong_ca")
    # -- signature
    if not _verify_jws_signature(cert, alg, f"{h64}.{p64}".encode("ascii"), sig):
        raise LoginTokenError("bad_signature")
    # -- validity
    if now < cert.not_valid_before_utc:
        raise LoginTokenError("not_yet_valid")
    if now > cert.not_valid_after_utc:
        raise LoginTokenError("expired")
    # -- key usage / policy / profession
    profile = parse_card_certificate(cert)
    if "digital_signature" not in profile.key_usage or (
        profile.ext_key_usage
        and ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string not in profile.ext_key_usage
    ):
        raise LoginTokenError("wrong_key_usage")
    if OID_HBA_AUT not in profile.policies or OID_POLICY_HBA_CP not in profile.policies:
        raise LoginTokenError("wrong_policy")
    if profile.profession is None or not profile.telematik_id:
        raise LoginTokenError("wrong_profession")
    # -- revocation
    result = RevocationResult.coerce(revocation_check(cert, issuer))
    if result.status == "revoked":
        raise LoginTokenError("revoked")
    if result.status != "good":
        raise LoginTokenError("revocation_unknown")
    # -- what was signed
    challenge = payload.get("challenge")
    if not isinstance(challenge, str) or not hmac.compare_digest(
        challenge.encode(), expected_challenge.encode()
    ):
        raise LoginTokenError("wrong_challenge")
    if payload.get("aud") != audience:
        raise LoginTokenError("wrong_challenge")
    return CardIdentity(
        telematik_id=profile.telematik_id,
        given_name=profile.given_name,
        surname=profile.surname,
        profession=str(profile.profession),
        serial=profile.serial_number,
        fingerprint=fingerprint(cert),
        not_after=cert.not_valid_after_utc,
        issuer=profile.issuer_cn,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    )

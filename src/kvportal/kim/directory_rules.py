# gemSpec_VZD / I_Directory_Administration (issue 15): which base-entry attributes the card
# issuer may write and in what form; attribute names as in gematik's DirectoryAdministration
# (baseDirectoryEntry). Django-free.
"""Checks of directory-administration requests: attribute names → model fields, lengths,
Telematik-ID and PLZ, the ENC certificate (DER, base64)."""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass

from cryptography import x509

#: API attribute (VZD name) → (model field, max length); `department` is kvportal's own
#: field that makes look-alike addresses distinguishable (issue 15)
TEXT_FIELDS: dict[str, tuple[str, int]] = {
    "displayName": ("display_name", 200),
    "title": ("title", 50),
    "givenName": ("given_name", 100),
    "sn": ("family_name", 100),
    "organization": ("organization", 200),
    "streetAddress": ("street", 200),
    "postalCode": ("postal_code", 5),
    "localityName": ("city", 100),
    "specialization": ("specialty", 200),
    "department": ("department", 200),
    "description": ("description", 300),
}
CREATE_ONLY = {"telematikID", "entryType"}
CERTIFICATE = "userCertificate"
ENTRY_TYPES = ("organization",)  # doctors' entries arise only from their own consent
TELEMATIK_ID = re.compile(r"^[0-9]{1,2}-[0-9A-Za-z.\-]{1,125}$")
POSTAL_CODE = re.compile(r"^([0-9]{5})?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
BASE64 = re.compile(r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
MAX_CERTIFICATE = 16_000  # base64 characters; an RSA-2048 certificate is about 2 000


class FieldError(ValueError):
    """A refused attribute; `message` is German and names it, `field` is the attribute.
    `status` 400: the request breaks the documented schema; 422: schema-valid but refused on
    domain grounds (e.g. base64 that is no certificate, an expired certificate)."""

    def __init__(self, message: str, field: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


@dataclass(frozen=True)
class Certificate:
    pem: str
    not_after: dt.datetime


def parse_certificate(value: object, *, now: dt.datetime) -> Certificate | None:
    """`userCertificate`: base64 of the DER certificate; null or "" removes it."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_CERTIFICATE:
        raise FieldError(
            f"{CERTIFICATE}: erwartet wird ein X.509-Zertifikat (DER, Base64), höchstens "
            f"{MAX_CERTIFICATE} Zeichen.",
            CERTIFICATE,
        )
    if not BASE64.match(value):
        raise FieldError(f"{CERTIFICATE}: kein Base64-Text.", CERTIFICATE)
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(value, validate=True))
    except ValueError as exc:
        raise FieldError(
            f"{CERTIFICATE}: kein lesbares X.509-Zertifikat (DER, Base64).", CERTIFICATE, 422
        ) from exc
    if cert.not_valid_after_utc <= now:
        raise FieldError(f"{CERTIFICATE}: das Zertifikat ist abgelaufen.", CERTIFICATE, 422)
    from cryptography.hazmat.primitives.serialization import Encoding

    return Certificate(cert.public_bytes(Encoding.PEM).decode(), cert.not_valid_after_utc)


def check_changes(data: object, *, create: bool, now: dt.datetime) -> dict[str, object]:
    """Validate a request body; returns {model field: value} (certificate as `Certificate`
    or None under the key `enc_certificate`). Unknown attributes are refused, as are the
    create-only ones on update."""
    if not isinstance(data, dict):
        raise FieldError("Erwartet wird ein JSON-Objekt.", "")
    allowed = set(TEXT_FIELDS) | {CERTIFICATE} | (CREATE_ONLY if create else set())
    for key in data:
        if key not in allowed:
            hint = " (nur beim Anlegen)" if key in CREATE_ONLY else ""
            raise FieldError(f"Unbekanntes oder nicht änderbares Attribut „{key}“{hint}.", key)
    if not create and not data:
        raise FieldError("Die Änderung enthält kein Attribut.", "")
    changes: dict[str, object] = {}
    for key, (field, limit) in TEXT_FIELDS.items():
        if key not in data:
            continue
        value = data[key]
        if not isinstance(value, str):
            raise FieldError(f"{key}: Text erwartet.", key)
        if _CONTROL.search(value):
            raise FieldError(f"{key}: Steuerzeichen sind nicht erlaubt.", key)
        if len(value) > limit:
            raise FieldError(f"{key}: höchstens {limit} Zeichen.", key)
        if key == "postalCode" and not POSTAL_CODE.match(value):
            raise FieldError("postalCode: fünf Ziffern erwartet.", key)
        changes[field] = value.strip()
    if "display_name" in changes and not changes["display_name"]:
        raise FieldError("displayName: darf nicht leer sein.", "displayName")
    if create:
        telematik_id = data.get("telematikID")
        if not isinstance(telematik_id, str) or not TELEMATIK_ID.match(telematik_id):
            raise FieldError(
                "telematikID: Pflichtfeld, Form <Präfix>-<Kennung>, z. B. 1-2123456700.",
                "telematikID",
            )
        changes["telematik_id"] = telematik_id
        entry_type = data.get("entryType", "organization")
        if entry_type not in ENTRY_TYPES:
            raise FieldError(
                "entryType: über diese Schnittstelle nur „organization“; Einträge von Ärztinnen "
                "und Ärzten entstehen nur mit deren Einwilligung (Veröffentlichung).",
                "entryType",
            )
        if not changes.get("display_name"):
            raise FieldError("displayName: Pflichtfeld.", "displayName")
    if CERTIFICATE in data:
        changes["enc_certificate"] = parse_certificate(data[CERTIFICATE], now=now)
    return changes

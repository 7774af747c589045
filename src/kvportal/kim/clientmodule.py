"""KIM client module at the practice: SMTP/POP3 towards the practice software (no Django).

# Security rule (gemSpec_CM_KOMLE): sign with the SMC-B OSIG key and encrypt for every
# recipient's ENC certificate (and the sender's own) before anything leaves the practice;
# on receipt decrypt with the card key, verify signature, sender chain and revocation, and
# tell the practice software the result (X-KIM-DecryptionResult / X-KIM-IntegrityCheckResult).

Towards the practice software (PVS) it is an MTA/POP3 server on 127.0.0.1 (TLS), towards the
Fachdienst a mail client. The call context travels in the user name
(`addr#host:port#Mandant#ClientSystem#Workplace[#...]`). Keys come from a `Card` (PEM files
here; PKCS#11 in `pkcs11card.py`), recipients' certificates from a `CertificateDirectory`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import email.utils
import hashlib
import json
import logging
import poplib
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from . import attachments, dsn, fachdienst, komle, mail

log = logging.getLogger(__name__)

CM_VERSION = "KVP_1.0.0"  # X-KIM-CMVersion: VendorID_Produktversion (A_21388)
PT_VERSION = "1.5.0"  # X-KIM-PTVersion
SUPPORTED_KOMLE_VERSIONS = ("1.0", "1.5", "1.5+")


#: Transforms of a client mail by its X-KIM-Dienstkennung (issue 16), registered by feature
#: modules (Django-free, e.g. `arztbrief.kimhooks`): `outgoing(mail, sender) -> mail` before
#: sealing (ValueError: refused with its German text), `incoming(mail) -> mail` after opening.
TRANSFORMS: dict[str, dict[str, Callable[..., bytes]]] = {"outgoing": {}, "incoming": {}}


def register_transform(dienstkennung: str, *, outgoing=None, incoming=None) -> None:
    for kind, func in (("outgoing", outgoing), ("incoming", incoming)):
        if func is not None:
            TRANSFORMS[kind][dienstkennung] = func


def _transformed(kind: str, data: bytes, *args) -> bytes:
    if not TRANSFORMS[kind]:
        return data
    try:
        dienstkennung = (mail.split(data).get("X-KIM-Dienstkennung") or "").strip()
    except komle.KomleError:  # no MIME mail: left to the module's own checks
        return data
    func = TRANSFORMS[kind].get(dienstkennung)
    return func(data, *args) if func else data


class ClientModuleError(Exception):
    """A refusal with a German message (and the SMTP reply to give the practice software)."""

    def __init__(self, message: str, *, smtp: str = "550 5.7.0"):
        super().__init__(message)
        self.smtp = smtp


# --- call context in the user name ----------------------------------------------------------


@dataclass(frozen=True)
class CallContext:
    address: str
    host: str
    port: int
    mandant: str
    client_system: str
    workplace: str
    extra: tuple[str, ...] = ()  # SMTP: [KonnektorId]; POP3: [UserId (HBA), KonnektorId]


USER_FORMAT = "adresse#host:port#Mandant#ClientSystem#Workplace[#…]"


def parse_user(name: str) -> CallContext:
    """Split the KIM user name; German error naming the part that is wrong."""
    parts = name.strip().split("#")
    if len(parts) < 5:
        raise ClientModuleError(
            f"Benutzername unvollständig: erwartet „{USER_FORMAT}“, erhalten {len(parts)} Teile.",
            smtp="535 5.7.8",
        )
    address, server, mandant, client_system, workplace, *extra = parts
    if "@" not in address:
        raise ClientModuleError(
            f"Benutzername: Teil 1 „{address}“ ist keine KIM-Adresse.", smtp="535 5.7.8"
        )
    host, _, port = server.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClientModuleError(
            f"Benutzername: Teil 2 „{server}“ ist nicht „host:port“ des Fachdienstes.",
            smtp="535 5.7.8",
        )
    for label, value in (("Mandant", mandant), ("ClientSystem", client_system),
                         ("Workplace", workplace)):  # fmt: skip
        if not value:
            raise ClientModuleError(f"Benutzername: {label} fehlt.", smtp="535 5.7.8")
    return CallContext(
        address=address.lower(), host=host, port=int(port), mandant=mandant,
        client_system=client_system, workplace=workplace, extra=tuple(extra),
    )  # fmt: skip


# --- directory --------------------------------------------------------------------------------


@runtime_checkable
class CertificateDirectory(Protocol):
    def encryption_certificates(self, address: str) -> list[x509.Certificate]:
        """All ENC certificates (C.HCI.ENC / C.HP.ENC) published for a KIM address."""


class FileDirectory:
    """JSON file `{"adresse": ["-----BEGIN CERTIFICATE-----…", …], …}`; an entry may also be
    `{"certificates": [PEM…], "kim_version": "1.0"}` (VZD komLeData)."""

    def __init__(
        self, entries: dict[str, list[x509.Certificate]], versions: dict[str, str] | None = None
    ):
        self._entries = {k.lower(): v for k, v in entries.items()}
        self._versions = {k.lower(): v for k, v in (versions or {}).items()}

    def kim_version(self, address: str) -> str | None:
        """The KOM-LE version in the entry (komLeData), None if undefined."""
        return self._versions.get(address.lower())

    def set_kim_version(self, address: str, version: str) -> None:
        """A_21387-01: a newer client module overwrites the sender's komLeData."""
        self._versions[address.lower()] = version

    @classmethod
    def load(cls, path: str | Path) -> FileDirectory:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ClientModuleError(f"Verzeichnisdatei „{path}“ nicht lesbar.") from exc
        except ValueError as exc:
            raise ClientModuleError(
                f"Verzeichnisdatei „{path}“ ist kein JSON (Zeile {getattr(exc, 'lineno', '?')})."
            ) from exc
        if not isinstance(raw, dict):
            raise ClientModuleError(f"Verzeichnisdatei „{path}“: erwartet ein JSON-Objekt.")
        entries, versions = {}, {}
        for address, value in raw.items():
            pems = value
            if isinstance(value, dict):
                pems = value.get("certificates") or []
                if value.get("kim_version") is not None:
                    versions[address] = str(value["kim_version"])
            try:
                entries[address] = [
                    c for pem in pems for c in x509.load_pem_x509_certificates(pem.encode())
                ]
            except (ValueError, TypeError, AttributeError) as exc:
                raise ClientModuleError(
                    f"Verzeichnisdatei „{path}“, Eintrag „{address}“: kein lesbares Zertifikat."
                ) from exc
        return cls(entries, versions)

    def encryption_certificates(self, address: str) -> list[x509.Certificate]:
        return list(self._entries.get(address.lower(), []))


ENC_CERT_EXTENSION = "encryption-certificate"  # …/StructureDefinition/encryption-certificate


class FhirDirectory:
    """The portal's FHIR-Directory API: `GET {base}/Endpoint?address=mailto:<addr>`.

    Each active Endpoint lists its valid ENC certificates as base64 DER in an extension whose
    URL ends in `encryption-certificate` (see docs/kim.md, FHIR-Directory).
    """

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/") + "/"
        self.token = token
        self.timeout = timeout

    def _get(self, path: str) -> dict:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(self.base_url + path)  # noqa: S310 (configured URL)
        request.add_header("Accept", "application/fhir+json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise ClientModuleError(
                f"Verzeichnis (FHIR) antwortet mit HTTP {exc.code} – Zugang (API-Token) prüfen.",
                smtp="451 4.4.3",
            ) from exc
        except (OSError, ValueError) as exc:
            raise ClientModuleError(
                "Das Verzeichnis (FHIR) ist nicht erreichbar; bitte später erneut senden.",
                smtp="451 4.4.3",
            ) from exc

    def _endpoints(self, address: str) -> list[dict]:
        from urllib.parse import quote

        bundle = self._get(f"Endpoint?address={quote('mailto:' + address.lower())}")
        found = []
        for entry in bundle.get("entry") or []:
            resource = entry.get("resource") or {}
            if resource.get("resourceType") != "Endpoint" or resource.get("status") != "active":
                continue
            if resource.get("address", "").lower() not in (
                address.lower(),
                f"mailto:{address}".lower(),
            ):
                continue
            found.append(resource)
        return found

    def kim_version(self, address: str) -> str | None:
        """komLeData from the Endpoint's connectionType code `kim-<version>`."""
        for resource in self._endpoints(address):
            code = str((resource.get("connectionType") or {}).get("code", ""))
            if code.startswith("kim-"):
                return code[4:]
        return None

    def encryption_certificates(self, address: str) -> list[x509.Certificate]:
        certs = []
        for resource in self._endpoints(address):
            for extension in resource.get("extension") or []:
                if not str(extension.get("url", "")).endswith(ENC_CERT_EXTENSION):
                    continue
                try:
                    der = base64.b64decode(extension.get("valueBase64Binary", ""), validate=True)
                    certs.append(x509.load_der_x509_certificate(der))
                except (binascii.Error, ValueError):
                    log.warning("directory entry with unreadable certificate skipped")
        return certs


# --- card -------------------------------------------------------------------------------------


class Card(Protocol):
    """The practice's SMC-B as the client module sees it (keys never leave it).

    `osig_key` needs `.sign(data, padding, algorithm)`; each ENC key `.decrypt(ct, padding)`
    — a `cryptography` RSA private key, or a PKCS#11 object with the same two methods.
    """

    osig_key: object
    osig_cert: x509.Certificate
    chain: Sequence[x509.Certificate]
    enc: Sequence[tuple[x509.Certificate, object]]


@dataclass
class PemCard:
    osig_key: object
    osig_cert: x509.Certificate
    enc: list[tuple[x509.Certificate, object]]
    chain: list[x509.Certificate] = field(default_factory=list)

    @classmethod
    def load(cls, *, osig_key: str, osig_cert: str, enc_key: str, enc_cert: str,
             chain: Sequence[str] = ()) -> PemCard:  # fmt: skip
        def key(path):
            try:
                return load_pem_private_key(Path(path).read_bytes(), password=None)
            except (OSError, ValueError, TypeError) as exc:
                raise ClientModuleError(f"Schlüsseldatei „{path}“ nicht lesbar (PEM).") from exc

        def certs(path):
            try:
                return x509.load_pem_x509_certificates(Path(path).read_bytes())
            except (OSError, ValueError) as exc:
                raise ClientModuleError(f"Zertifikatsdatei „{path}“ nicht lesbar (PEM).") from exc

        return cls(
            osig_key=key(osig_key), osig_cert=certs(osig_cert)[0],
            enc=[(certs(enc_cert)[0], key(enc_key))],
            chain=[c for path in chain for c in certs(path)],
        )  # fmt: skip


class CardResolver(Protocol):
    def card_for(self, context: CallContext) -> Card:
        """The card for this call context (Mandant/ClientSystem/Workplace, address)."""


class CardsByAddress:
    def __init__(self, cards: dict[str, Card]):
        self._cards = {k.lower(): v for k, v in cards.items()}

    def card_for(self, context: CallContext) -> Card:
        card = self._cards.get(context.address)
        if card is None:
            raise ClientModuleError(
                f"Für „{context.address}“ ist keine Karte (SMC-B) gesteckt.", smtp="451 4.7.0"
            )
        return card


# --- trust: chain, validity, revocation -------------------------------------------------------


@dataclass
class Trust:
    """Trust anchors (TSL/CA certificates) and CRLs of the test PKI."""

    anchors: list[x509.Certificate]
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    intermediates: list[x509.Certificate] = field(default_factory=list)
    # OCSP first, e.g. kvportal.cardlib.ocsp.ocsp_revocation_check(url=…): (cert, issuer) ->
    # RevocationResult(status 'good'|'revoked'|'unknown'); 'unknown' falls back to the CRLs
    ocsp: Callable | None = None

    def revocation(self, cert: x509.Certificate, issuers: Sequence[x509.Certificate],
                   at: dt.datetime) -> tuple[str, str]:  # fmt: skip
        """('gut'|'gesperrt'|'unbekannt', German detail) for `cert`: OCSP, else CRL."""
        ocsp_note = ""
        issuer = next((i for i in issuers if _issued_by(cert, i)), None)
        if self.ocsp is not None and issuer is not None:
            try:
                result = self.ocsp(cert, issuer)
            except Exception:
                log.exception("OCSP check failed")
                result = None
            status = getattr(result, "status", "unknown")
            if status == "revoked":
                when = getattr(result, "revoked_at", None)
                since = f" seit {when:%d.%m.%Y %H:%M} UTC" if when else ""
                return "gesperrt", (
                    f"Zertifikat „{cert.subject.rfc4514_string()}“ ist{since} gesperrt (OCSP)"
                )
            if status == "good":
                return "gut", "nicht gesperrt (OCSP)"
            ocsp_note = f"OCSP ohne Ergebnis ({getattr(result, 'source', '')}); "
        state, detail = self._crl_status(cert, issuers, at)
        return state, ocsp_note + detail

    def _crl_status(self, cert, issuers, at) -> tuple[str, str]:
        for crl in self.crls:
            if crl.issuer != cert.issuer:
                continue
            issuer = next(
                (i for i in issuers if i.subject == crl.issuer and _signed_crl(crl, i)), None
            )
            if issuer is None:
                continue
            if crl.next_update_utc is not None and crl.next_update_utc < at:
                return "unbekannt", "Sperrliste (CRL) ist abgelaufen"
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if entry is not None and entry.revocation_date_utc <= at:
                return "gesperrt", (
                    f"Zertifikat „{cert.subject.rfc4514_string()}“ ist seit "
                    f"{entry.revocation_date_utc:%d.%m.%Y %H:%M} UTC gesperrt (CRL)"
                )
            return "gut", "nicht gesperrt (CRL)"
        return "unbekannt", "keine Sperrliste des Ausstellers verfügbar"


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject or cert == issuer:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _signed_crl(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    key = issuer.public_key()
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        return False  # KIM CAs sign with RSA or ECDSA
    try:
        return crl.is_signature_valid(key)
    except (TypeError, ValueError, InvalidSignature):
        return False


# --- send: seal the client mail ---------------------------------------------------------------


@dataclass
class Sealed:
    message: bytes
    recipients: list[str]
    failures: list[dsn.RecipientFailure]


def _usable(cert: x509.Certificate, at: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= at <= cert.not_valid_after_utc


def seal(
    client_mail: bytes,
    *,
    sender: str,
    recipients: Sequence[str],
    card: Card,
    directory: CertificateDirectory,
    now: dt.datetime | None = None,
    ttl_days: int = fachdienst.DEFAULT_DATA_TIME_TO_LIVE,
    kas_upload: Callable[[bytes, list[str], dt.datetime], str] | None = None,
    kas_threshold: int = fachdienst.KAS_THRESHOLD,
    kim_version: Callable[[str], str | None] | None = None,
) -> Sealed:
    """Sign with the OSIG key, encrypt for each recipient's valid ENC certificates + sender.

    Recipients without a valid ENC certificate are left out (4003) and reported;
    if none is left, ClientModuleError (nothing is sent). A mail above `kas_threshold` is
    encrypted as a whole, uploaded with `kas_upload(blob, recipients, expires) -> link` and
    replaced by a reference mail (KIM 1.5, X-KIM-KAS-Size).
    """
    if attachments.has_kas_part(client_mail):
        raise ClientModuleError(
            "Die Nachricht enthält bereits einen x-kas-Teil (A_22341); nicht gesendet.",
            smtp="451 4.7.0",
        )
    at = now or dt.datetime.now(dt.UTC)
    keyed: list[tuple[str, x509.Certificate]] = []
    failures: list[dsn.RecipientFailure] = []
    kept: list[str] = []
    for rcpt in dict.fromkeys(r.lower() for r in recipients):
        try:
            certs = [c for c in directory.encryption_certificates(rcpt) if _usable(c, at)]
        except ClientModuleError:
            raise
        except Exception as exc:
            log.exception("directory lookup failed")
            raise ClientModuleError(
                "Das Verzeichnis (VZD) ist nicht erreichbar; bitte später erneut senden.",
                smtp="451 4.4.3",
            ) from exc
        if not certs:
            failures.append(
                dsn.RecipientFailure(
                    rcpt, "5.1.1",
                    f"550 {dsn.TEXTS[dsn.NO_UNIQUE_CERTIFICATE]} ({rcpt})",
                    kim_code=dsn.NO_UNIQUE_CERTIFICATE,
                )
            )  # fmt: skip
            continue
        kept.append(rcpt)
        keyed += [(rcpt, cert) for cert in certs]
    if not kept:
        reasons = "; ".join(f.diagnostic for f in failures)
        raise ClientModuleError(
            f"Nachricht für keinen Empfänger verschlüsselbar: {reasons}", smtp="550 5.1.1"
        )
    if len(client_mail) > kas_threshold and kim_version is not None:
        # A_19356-04: only KOM-LE ≥ 1.5 recipients can fetch from the KAS; others removed, 4001
        for rcpt in list(kept):
            version = kim_version(rcpt)
            if fachdienst.version_key(version) < (1, 5):
                kept.remove(rcpt)
                keyed = [(a, c) for a, c in keyed if a != rcpt]
                failures.append(
                    dsn.RecipientFailure(
                        rcpt, "5.3.4",
                        f"550 {dsn.TEXTS[dsn.WRONG_KIM_VERSION]} ({rcpt}: KOM-LE "
                        f"{version or '1.0'})",
                        kim_code=dsn.WRONG_KIM_VERSION,
                    )
                )  # fmt: skip
        if not kept:
            reasons = "; ".join(f.diagnostic for f in failures)
            raise ClientModuleError(
                f"Nachricht für keinen Empfänger zustellbar: {reasons}", smtp="451 4.3.0"
            )
    keyed += [(sender.lower(), cert) for cert, _key in card.enc]  # the sender reads it too
    expires = at + dt.timedelta(days=ttl_days)
    if len(client_mail) > kas_threshold:
        if kas_upload is None:
            raise ClientModuleError(
                f"Nachricht über {kas_threshold} Byte, aber kein Attachment-Service eingerichtet.",
                smtp="552 5.3.4",
            )
        packed = attachments.encrypt_for_kas(client_mail)
        try:
            link = kas_upload(packed.blob, [*kept, sender.lower()], expires)
        except attachments.KasError as exc:
            if exc.status == 507:
                raise ClientModuleError(
                    f"Speicher des Attachment-Service erschöpft ({exc}).", smtp="521 5.2.2"
                ) from exc
            raise ClientModuleError(
                f"{dsn.KAS_UPLOAD_FAILED} {dsn.TEXTS[dsn.KAS_UPLOAD_FAILED]}. Fehlertext: {exc}",
                smtp="451 4.4.0",
            ) from exc
        client_mail = attachments.reference_mail(client_mail, link=link, packed=packed)
    message = mail.build(
        client_mail,
        signer_key=card.osig_key,
        signer_cert=card.osig_cert,
        recipients=keyed,
        chain=list(card.chain),
        extra_headers=[
            ("X-KIM-CMVersion", CM_VERSION),
            ("X-KIM-PTVersion", PT_VERSION),
            ("Expires", email.utils.format_datetime(expires)),
        ],
    )
    return Sealed(message=message, recipients=kept, failures=failures)


# --- receive: open a KOM-LE mail for the practice software -----------------------------------


@dataclass
class Opened:
    message: bytes  # what the practice software gets
    decrypted: bool
    integrity: str  # 'gültig' | 'ungültig' | 'nicht prüfbar' | '' (no KOM-LE mail)
    code: int | None = None  # X-KIM-Fehlermeldung, if any
    details: list[str] = field(default_factory=list)


def _insert_headers(client_mail: bytes, headers: Sequence[tuple[str, str]]) -> bytes:
    lines = "".join(mail.header_line(name, value) + "\r\n" for name, value in headers)
    return lines.encode("utf-8") + client_mail


def open_message(
    data: bytes,
    *,
    card: Card,
    trust: Trust,
    now: dt.datetime | None = None,
    kas: attachments.KasClient | None = None,
    recipient: str | None = None,
) -> Opened:
    """Decrypt and verify one mail from the Fachdienst; never raises for bad input.

    A KIM 1.5 reference mail is completed from the KAS (`kas`, as `recipient`).
    """
    try:
        return _open(data, card=card, trust=trust, now=now, kas=kas, recipient=recipient)
    except Exception:  # never lose a mail over an unexpected structure
        log.exception("opening a KIM message failed")
        return _wrapped(data, dsn.WRONG_FORMAT, "Die Nachricht hat einen unerwarteten Aufbau.")


def _open(data: bytes, *, card, trust, now, kas, recipient) -> Opened:
    at = now or dt.datetime.now(dt.UTC)
    try:
        outer = mail.split(data)
    except komle.KomleError:
        return Opened(data, False, "")
    if not fachdienst.is_komle_message(data):
        return Opened(data, False, "")  # e.g. a DSN from the Fachdienst: passed on unchanged
    version = (outer.get("X-KOM-LE-Version") or "1.0").strip()
    if version not in SUPPORTED_KOMLE_VERSIONS:
        return _wrapped(data, dsn.VERSION_NOT_SUPPORTED, f"X-KOM-LE-Version: {version}")
    der = mail.decoded_body(outer)
    opened = None
    refusal = dsn.KEY_NOT_AVAILABLE
    for cert, key in card.enc:
        try:
            opened = komle.decrypt(der, key, cert)
            break
        except komle.NotARecipientError:
            continue
        except komle.TamperedError as exc:
            return _wrapped(data, dsn.MANIPULATED_AFTER_ENCRYPTION, str(exc))
        except komle.FormatError as exc:
            return _wrapped(data, dsn.WRONG_FORMAT, str(exc))
    if opened is None:
        return _wrapped(data, refusal, "Keiner der Schlüssel der Karte ist Empfänger.")
    try:
        signed = mail.decoded_body(mail.split(opened.content))
        verified = komle.verify(
            signed, trust=[*trust.anchors, *trust.intermediates, *card.chain], at=at
        )
        inner = verified.content
        if inner.startswith(mail.RFC822_WRAP_HEADER):
            inner = inner[len(mail.RFC822_WRAP_HEADER) :]
        inner_recipients = _signed_recipient_emails(signed)
    except komle.KomleError as exc:
        return _wrapped(data, dsn.WRONG_FORMAT, str(exc))
    details = list(verified.problems) + list(verified.chain_messages)
    if inner_recipients is not None and sorted(inner_recipients) != sorted(opened.recipient_emails):
        return _wrapped(
            data, dsn.RECIPIENTS_MANIPULATED,
            "Die Empfängerliste außen stimmt nicht mit der signierten überein.",
        )  # fmt: skip
    if not verified.signature_valid:
        return _integrity_failure(inner, data, dsn.MANIPULATED_AFTER_ENCRYPTION, details)
    if not verified.chain_valid:
        return _integrity_failure(inner, data, None, details or ["Zertifikatskette ungültig"])
    signer = _signer_cert(signed)
    issuers = [*trust.anchors, *trust.intermediates, *card.chain, *_certs_in(signed)]
    state, detail = trust.revocation(signer, issuers, at)
    if state == "gesperrt":
        return _integrity_failure(inner, data, None, [detail])
    integrity = "gültig" if state == "gut" else "nicht prüfbar"
    reference = attachments.find_reference(inner)
    if reference is not None:
        try:
            inner = _complete_from_kas(reference, kas, recipient)
        except _KasFailure as exc:
            return _wrapped(
                data, exc.code, str(exc),
                subject="Mindestens ein Anhang der Nachricht konnte nicht heruntergeladen werden",
            )  # fmt: skip
    inner = _transformed("incoming", inner)
    headers = [
        ("X-KIM-DecryptionResult", "erfolgreich"),
        (
            "X-KIM-IntegrityCheckResult",
            f"{integrity}; Signatur gültig; Absenderzertifikat "
            f"„{signer.subject.rfc4514_string()}“ gültig; {detail}",
        ),
    ]
    return Opened(_insert_headers(inner, headers), True, integrity, None, [detail])


def _signer_cert(signed_der: bytes) -> x509.Certificate:
    from asn1crypto import cms

    sd = cms.ContentInfo.load(signed_der)["content"]
    sid = sd["signer_infos"][0]["sid"].chosen
    for cert in _certs_in(signed_der):
        if cert.serial_number == sid["serial_number"].native:
            return cert
    raise komle.FormatError("Das Zertifikat des Unterzeichners fehlt in der Signatur.")


def _certs_in(signed_der: bytes) -> list[x509.Certificate]:
    from asn1crypto import cms

    sd = cms.ContentInfo.load(signed_der)["content"]
    return [
        x509.load_der_x509_certificate(c.chosen.dump())
        for c in sd["certificates"] or []
        if c.name == "certificate"
    ]


def _signed_recipient_emails(signed_der: bytes) -> list[str] | None:
    from asn1crypto import cms

    from .asn1 import RECIPIENT_EMAILS_OID

    si = cms.ContentInfo.load(signed_der)["content"]["signer_infos"][0]
    for attr in si["signed_attrs"] or []:
        if attr["type"].dotted == RECIPIENT_EMAILS_OID:
            return [v["email"].native for v in attr["values"]]
    return None


class _KasFailure(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def _complete_from_kas(reference: dict, kas, recipient: str | None) -> bytes:
    """Download, decrypt and check the client mail a reference mail points to."""
    if kas is None or recipient is None:
        raise _KasFailure(dsn.KAS_DOWNLOAD_FAILED, "Kein Attachment-Service eingerichtet.")
    try:
        blob = kas.download(reference["link"], recipient=recipient)
    except attachments.KasError as exc:
        code = dsn.KAS_TOO_MANY_REQUESTS if exc.status == 429 else dsn.KAS_DOWNLOAD_FAILED
        raise _KasFailure(code, f"{dsn.TEXTS[code]} ({exc}).") from exc
    try:
        key = base64.b64decode(reference["k"], validate=True)
        plain = attachments.decrypt_from_kas(blob, key)
    except (binascii.Error, ValueError, attachments.KasError) as exc:
        raise _KasFailure(dsn.ATTACHMENT_DECRYPTION_FAILED, str(exc)) from exc
    digest = base64.b64encode(hashlib.sha256(plain).digest()).decode()
    if digest != reference["hash"]:
        raise _KasFailure(dsn.ATTACHMENT_HASH_MISMATCH, dsn.TEXTS[dsn.ATTACHMENT_HASH_MISMATCH])
    return plain


def _wrapped(data: bytes, code: int, detail: str, subject: str | None = None) -> Opened:
    return Opened(
        dsn.wrapper_mail(
            original=data, code=code, detail=detail, subject=subject,
            extra_headers=[("X-KIM-DecryptionResult", f"fehlgeschlagen; {code}")],
        ),
        decrypted=False, integrity="", code=code, details=[detail],
    )  # fmt: skip


def _integrity_failure(inner: bytes, original: bytes, code: int | None, details) -> Opened:
    """Signature or sender certificate not valid: the decrypted mail goes attached to a note."""
    text = "; ".join(details)
    message = dsn.wrapper_mail(
        original=inner, code=code or dsn.MANIPULATED_AFTER_ENCRYPTION, detail=text,
        subject="Signaturprüfung der KIM-Nachricht fehlgeschlagen",
        with_code=code is not None,
        extra_headers=[
            ("X-KIM-DecryptionResult", "erfolgreich"),
            ("X-KIM-IntegrityCheckResult", f"ungültig; {text}"),
        ],
    )  # fmt: skip
    return Opened(message, True, "ungültig", code, list(details))


# --- the servers towards the practice software ------------------------------------------------


@dataclass
class ClientModule:
    cards: CardResolver
    directory: CertificateDirectory
    trust: Trust
    upstream_tls: ssl.SSLContext  # trusts the Fachdienst's TLS certificate
    local_tls: ssl.SSLContext  # the client module's own TLS towards the practice software
    idle_timeout: float = fachdienst.POP3_IDLE_TIMEOUT
    timeout: float = 60.0
    # TLS towards the Fachdienst: None = implicit on 465/995, STARTTLS/STLS on other ports
    upstream_implicit_tls: bool | None = None
    kas: attachments.KasClient | None = None
    kas_threshold: int = fachdienst.KAS_THRESHOLD
    limits: attachments.LimitsClient | None = None  # getLimits before sending (A_22416)

    def _versions(self) -> VersionCache:
        cache = self.__dict__.get("_version_cache")
        if cache is None or cache.directory is not self.directory:
            cache = self.__dict__["_version_cache"] = VersionCache(self.directory)
        return cache

    def _implicit(self, port: int) -> bool:
        if self.upstream_implicit_tls is None:
            return port in (465, 995)
        return self.upstream_implicit_tls

    # SMTP side -----------------------------------------------------------------------------

    def upstream_smtp(self, context: CallContext, password: str) -> smtplib.SMTP:
        conn: smtplib.SMTP
        try:
            if self._implicit(context.port):
                conn = smtplib.SMTP_SSL(
                    context.host, context.port, timeout=self.timeout, context=self.upstream_tls
                )
            else:
                conn = smtplib.SMTP(context.host, context.port, timeout=self.timeout)
                conn.starttls(context=self.upstream_tls)
        except (OSError, smtplib.SMTPException) as exc:
            raise ClientModuleError(
                f"Fachdienst {context.host}:{context.port} nicht erreichbar ({exc}).",
                smtp="451 4.4.1",
            ) from exc
        try:
            conn.login(context.address, password)
        except smtplib.SMTPAuthenticationError as exc:
            conn.close()
            raise ClientModuleError(
                "Der Nutzer konnte nicht authentifiziert werden.", smtp="535 5.7.8"
            ) from exc
        return conn

    def send(self, context: CallContext, password: str, mail_from: str, rcpts: list[str],
             data: bytes) -> str:  # fmt: skip
        """Seal and submit; returns the SMTP reply for the practice software."""
        ttl = fachdienst.DEFAULT_DATA_TIME_TO_LIVE
        if self.limits is not None:
            try:
                limits = self.limits.get(context.address, password)
            except attachments.KasError as exc:
                if exc.status == 401:
                    raise ClientModuleError(
                        "Der Nutzer konnte nicht authentifiziert werden.", smtp="535 5.7.8"
                    ) from exc
                raise ClientModuleError(
                    f"Grenzen des Kontos nicht abrufbar ({exc}).", smtp="451 4.4.1"
                ) from exc
            if len(data) > limits.max_mail_size:  # A_19355: X.3.4
                raise ClientModuleError(
                    f"Nachricht zu groß: {len(data)} Byte, erlaubt {limits.max_mail_size} Byte "
                    f"(KIM-Fehler {dsn.SIZE_OVER_LIMIT}).",
                    smtp="552 5.3.4",
                )
            ttl = limits.data_time_to_live
        try:
            data = _transformed("outgoing", data, context.address)
        except ValueError as exc:
            raise ClientModuleError(str(exc), smtp="554 5.6.0") from exc
        card = self.cards.card_for(context)
        upload = None
        if self.kas is not None:
            kas = self.kas

            def upload(blob: bytes, recipients: list[str], expires: dt.datetime) -> str:
                message_id = (mail.split(data).get("Message-ID") or "").strip()
                return kas.upload(
                    blob, user=context.address, password=password,
                    message_id=message_id or email.utils.make_msgid(), recipients=recipients,
                    expires=expires,
                )  # fmt: skip

        versions = self._versions()
        outdated = versions.check_sender(context.address)
        sealed = seal(data, sender=context.address, recipients=rcpts, card=card,
                      directory=self.directory, kas_upload=upload,
                      kas_threshold=self.kas_threshold, ttl_days=ttl,
                      kim_version=versions.get)  # fmt: skip
        conn = self.upstream_smtp(context, password)
        try:
            refused = conn.sendmail(mail_from, sealed.recipients, sealed.message)
            failures = sealed.failures + [
                dsn.RecipientFailure(r, "5.0.0", f"{code} {text.decode('utf-8', 'replace')}")
                for r, (code, text) in refused.items()
            ]
            if failures:
                report = dsn.delivery_report(
                    reporting_mta="kim-clientmodul.localhost", sender=context.address,
                    original=data, failures=failures,
                )  # fmt: skip
                conn.sendmail(context.address, [context.address], report)
            if outdated is not None:  # A_21387-01: unsigned, unencrypted DSN to the sender
                notice = dsn.delivery_report(
                    reporting_mta="kim-clientmodul.localhost", sender=context.address,
                    original=data, failures=[outdated], kim_code=dsn.CLIENT_MODULE_OUTDATED,
                )  # fmt: skip
                conn.sendmail(context.address, [context.address], notice)
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
            return f"{exc.smtp_code} {text}"
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()))
            return f"{code} {reason.decode('utf-8', 'replace')}"
        finally:
            conn.close()
        return f"250 2.0.0 Verschlüsselt und an {len(sealed.recipients)} Empfänger übergeben"

    # POP3 side (Pop3Backend) ------------------------------------------------------------------

    async def open_mailbox(self, user: str, password: str):
        try:
            context = parse_user(user)
        except ClientModuleError as exc:
            raise fachdienst.LoginRefused(f"-ERR [AUTH] {exc}") from exc
        return await asyncio.to_thread(self._fetch_all, context, password)

    def _fetch_all(self, context: CallContext, password: str):
        conn: poplib.POP3
        try:
            if self._implicit(context.port):
                conn = poplib.POP3_SSL(
                    context.host, context.port, timeout=self.timeout, context=self.upstream_tls
                )
            else:
                conn = poplib.POP3(context.host, context.port, timeout=self.timeout)
                conn.stls(context=self.upstream_tls)
        except (OSError, poplib.error_proto) as exc:
            raise fachdienst.LoginRefused(
                f"-ERR [SYS/TEMP] Fachdienst {context.host}:{context.port} nicht erreichbar"
            ) from exc
        try:
            conn.user(context.address)
            conn.pass_(password)
        except poplib.error_proto as exc:
            conn.close()
            text = exc.args[0].decode("utf-8", "replace") if exc.args else "-ERR"
            raise fachdienst.LoginRefused(text if text.startswith("-ERR") else "-ERR") from exc
        try:
            card = self.cards.card_for(context)
        except ClientModuleError as exc:
            conn.quit()
            raise fachdienst.LoginRefused(f"-ERR [SYS/TEMP] {exc}") from exc
        messages = []
        _resp, uids, _ = conn.uidl()
        for line in uids:
            number, uid = line.decode().split()
            _resp, lines, _ = conn.retr(int(number))
            opened = open_message(
                b"\r\n".join(lines) + b"\r\n", card=card, trust=self.trust, kas=self.kas,
                recipient=context.address,
            )  # fmt: skip
            messages.append(_Fetched(uid=uid, number=int(number), data=opened.message))
        key = f"{context.address}#{id(conn)}"
        self._sessions[key] = conn
        return key, messages

    async def commit(self, key: str, deleted) -> None:
        conn = self._sessions.get(key)
        if conn is None:
            return

        def update():
            for message in deleted:
                conn.dele(message.number)
            conn.quit()
            self._sessions.pop(key, None)

        await asyncio.to_thread(update)

    def release(self, key: str) -> None:
        conn = self._sessions.pop(key, None)
        if conn is not None:  # ended without QUIT: drop upstream without UPDATE
            with contextlib.suppress(OSError):
                conn.close()

    @property
    def tls(self) -> ssl.SSLContext:
        return self.local_tls

    def __post_init__(self):
        self._sessions: dict[str, poplib.POP3] = {}


@dataclass
class _Fetched:
    uid: str
    number: int
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def read(self) -> bytes:
        return self.data


class _CmSmtpHandler(fachdienst.SmtpAuthHandler):
    """SMTP towards the practice software; credentials are checked by the Fachdienst."""

    def __init__(self, cm: ClientModule):
        self.cm = cm

    async def _login(self, server, login: bytes, password: bytes) -> AuthResult:
        try:
            context = parse_user(login.decode("utf-8", "replace"))
            secret = password.decode("utf-8", "replace")
            conn = await asyncio.to_thread(self.cm.upstream_smtp, context, secret)
            await asyncio.to_thread(conn.quit)
        except ClientModuleError as exc:
            return AuthResult(success=False, handled=False, message=f"{exc.smtp} {exc}")
        return AuthResult(success=True, auth_data=(context, secret))

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        context, _secret = session.auth_data
        if address.lower() != context.address:
            return "553 5.7.1 Absender muss die angemeldete KIM-Adresse sein"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_DATA(self, server, session, envelope):
        context, secret = session.auth_data
        data = envelope.original_content or b""
        try:
            return await asyncio.to_thread(
                self.cm.send, context, secret, envelope.mail_from, list(envelope.rcpt_tos), data
            )
        except ClientModuleError as exc:
            return f"{exc.smtp} {exc}"
        except Exception:
            log.exception("client module send failed")
            return "451 4.3.0 Interner Fehler des Clientmoduls; Nachricht nicht gesendet"


def smtp_controller(cm: ClientModule, *, host: str = "127.0.0.1", port: int = 0,
                    max_size: int = fachdienst.DEFAULT_MAX_MAIL_SIZE):  # fmt: skip
    """SMTPS towards the practice software (implicit TLS, like port 465)."""
    return fachdienst.ImplicitTlsController(
        _CmSmtpHandler(cm), hostname=host, port=port, ssl_context=cm.local_tls,
        auth_required=True, auth_require_tls=True, data_size_limit=max_size,
        ident="KOM-LE-Clientmodul ESMTP", server_hostname="kim-clientmodul.localhost",
    )  # fmt: skip


async def start_pop3(cm: ClientModule, host: str = "127.0.0.1", port: int = 0):
    """POP3S towards the practice software (implicit TLS, like port 995)."""
    return await fachdienst.start_pop3(cm, host, port, implicit_tls=True)


class VersionCache:
    """KOM-LE versions (VZD komLeData) of addresses, cached for 24 hours (A_22340)."""

    def __init__(self, directory, *, ttl: dt.timedelta = dt.timedelta(hours=24), clock=None):
        self.directory = directory
        self.ttl = ttl
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._cache: dict[str, tuple[dt.datetime, str | None]] = {}

    def get(self, address: str) -> str | None:
        lookup = getattr(self.directory, "kim_version", None)
        if lookup is None:
            return None  # a directory without komLeData: every address counts as 1.0
        key, now = address.lower(), self.clock()
        hit = self._cache.get(key)
        if hit is None or now - hit[0] >= self.ttl:
            hit = (now, lookup(key))
            self._cache[key] = hit
        return hit[1]

    def check_sender(self, address: str) -> dsn.RecipientFailure | None:
        """A_21387-01: the directory names a newer version than this module's → notice 4017
        for the sender; an older one is overwritten where the directory allows it."""
        listed = self.get(address)
        own = fachdienst.KOMLE_VERSION
        if listed is None:
            return None
        if fachdienst.version_key(listed) > fachdienst.version_key(own):
            return dsn.RecipientFailure(
                address, "5.7.0",
                f"550 {dsn.TEXTS[dsn.CLIENT_MODULE_OUTDATED]} (Clientmodul KOM-LE {own}, "
                f"Verzeichnis {listed}); bitte das Clientmodul aktualisieren",
                kim_code=dsn.CLIENT_MODULE_OUTDATED,
            )  # fmt: skip
        if fachdienst.version_key(listed) < fachdienst.version_key(own):
            update = getattr(self.directory, "set_kim_version", None)
            if update is not None:
                update(address, own)
                self._cache[address.lower()] = (self.clock(), own)
            else:
                log.info("directory is read-only: komLeData of the sender not updated")
        return None

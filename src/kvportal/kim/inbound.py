# gemSpec_CM_KOMLE / gemSpec_FD_KOMLE: the KV's own service mailboxes open mail only with the
# KV's key, trust a sender only after signature, chain and revocation checks, keep every raw
# mail for staff (nothing is lost) and answer encrypted for the sender, signed with the KV key.
"""The KV's service mailboxes over KIM (e.g. the billing address) and their dispatch.

The KV has its own KIM account(s) (`settings.KIM_SERVICE_BILLING_ADDRESS`, Maildir in the
Fachdienst store `KIM_STORE_DIR`) and its own card (`KIM_SERVICE_CARD`: a JSON file naming PEM
files `osig_key`, `osig_cert`, `enc_key`, `enc_cert`, `chain`; with `KIM_SERVICE_TEST_PKI` the
test trust service provider of `kim/smcb.py` issues one into `KIM_TSP_DIR`).

Consumers register a handler per Dienstkennung prefix from their own `ready()`:
`register_service_handler("1ClickAbrechnung;Lieferung;", handler)`; `handler(inbound)` gets an
`Inbound` (decrypted and verified client mail, signer's Telematik-ID/BSNR, raw mail path) and
must be idempotent by `(inbound.account, inbound.key)`. `poll()` (beat/recoverer) queues
`process_message(address, key)` for every new mail; `answer(...)` sends a reply through the
Fachdienst store into the recipient's mailbox (web mailbox and POP3).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import hashlib
import json
import logging
import mailbox
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any, NotRequired, TypedDict, Unpack

from celery import shared_task
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import DatabaseError, transaction

from kvportal import audit
from kvportal.audit.models import Activity
from kvportal.core.storage import private_storage

log = logging.getLogger(__name__)

SERVICE_TELEMATIK_ID = "1-kv.service"  # test PKI only; production cards bring their own


class ServiceConfigError(Exception):
    """The KV's service mailbox is not configured (German message)."""


# --- registry -----------------------------------------------------------------------------------

_handlers: list[tuple[str, Callable]] = []


def register_service_handler(dienstkennung_prefix: str, handler: Callable) -> None:
    """`handler(inbound: Inbound) -> None` for mails whose Dienstkennung starts with the prefix."""
    entry = (dienstkennung_prefix, handler)
    if entry not in _handlers:
        _handlers.append(entry)


def handler_for(dienstkennung: str) -> Callable | None:
    """The handler of the longest matching prefix (case-insensitive)."""
    value = (dienstkennung or "").strip().casefold()
    matches = [(p, h) for p, h in _handlers if value.startswith(p.casefold())]
    return max(matches, key=lambda m: len(m[0]))[1] if matches else None


# --- configuration: addresses, card, trust -----------------------------------------------------


def service_addresses() -> list[str]:
    return [a.strip().lower() for a in [settings.KIM_SERVICE_BILLING_ADDRESS] if a.strip()]


def _maildir(address: str) -> mailbox.Maildir | None:
    from kvportal.kim.services_mailbox import store_maildir

    return store_maildir(address)


def _test_card_files(address: str) -> dict:
    """Issue (once) a software card for the service address from the test TSP; PEM files."""
    from cryptography.hazmat.primitives import serialization

    from kvportal.kim.smcb import TestTsp, open_card_file

    folder = Path(settings.KIM_TSP_DIR) / "service" / address
    paths: dict[str, Any] = {
        "osig_key": folder / "osig.key.pem",
        "osig_cert": folder / "osig.crt.pem",
        "enc_key": folder / "enc.key.pem",
        "enc_cert": folder / "enc.crt.pem",
        "chain": [folder / "ca.crt.pem"],
    }
    tsp = TestTsp(settings.KIM_TSP_DIR)
    ca = tsp.ensure()
    if all(p.exists() for p in (paths["osig_key"], paths["enc_cert"], paths["chain"][0])):
        from cryptography import x509

        have = x509.load_pem_x509_certificate(paths["chain"][0].read_bytes())
        if have == ca:
            return paths
    folder.mkdir(parents=True, exist_ok=True)
    issued = tsp.issue(
        telematik_id=SERVICE_TELEMATIK_ID, holder_name="KV Service TEST-ONLY", email=address
    )
    _doc, certs, keys = open_card_file(issued.card_file, issued.pin)
    pem = serialization.Encoding.PEM
    for kind in ("osig", "enc"):
        paths[f"{kind}_key"].write_bytes(
            keys[kind].private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        paths[f"{kind}_key"].chmod(0o600)
        paths[f"{kind}_cert"].write_bytes(certs[kind].public_bytes(pem))
    paths["chain"][0].write_bytes(ca.public_bytes(pem))
    return paths


def _card_files(address: str) -> dict:
    configured = str(settings.KIM_SERVICE_CARD or "")
    if configured:
        try:
            doc = json.loads(Path(configured).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ServiceConfigError(
                f"Die Kartendatei der KV (KVPORTAL_KIM_SERVICE_CARD = „{configured}“) ist nicht "
                "lesbar (JSON mit osig_key, osig_cert, enc_key, enc_cert, chain)."
            ) from exc
        entry = doc.get(address, doc) if isinstance(doc, dict) else {}
        missing = [k for k in ("osig_key", "osig_cert", "enc_key", "enc_cert") if k not in entry]
        if missing:
            raise ServiceConfigError(
                f"In der Kartendatei der KV fehlt für {address}: {', '.join(missing)}."
            )
        return entry
    if settings.KIM_SERVICE_TEST_PKI:
        return _test_card_files(address)
    raise ServiceConfigError(
        "Für das Funktionspostfach der KV ist keine Karte eingerichtet "
        "(KVPORTAL_KIM_SERVICE_CARD oder im Test KVPORTAL_KIM_SERVICE_TEST_PKI=1)."
    )


@cache
def _card(address: str, _marker: str):
    from kvportal.kim.clientmodule import ClientModuleError, PemCard

    files = _card_files(address)
    try:
        return PemCard.load(
            osig_key=str(files["osig_key"]),
            osig_cert=str(files["osig_cert"]),
            enc_key=str(files["enc_key"]),
            enc_cert=str(files["enc_cert"]),
            chain=[str(p) for p in files.get("chain", [])],
        )
    except ClientModuleError as exc:
        raise ServiceConfigError(str(exc)) from exc


def service_card(address: str):
    """The KV's card (`clientmodule.PemCard`) for a service address."""
    marker = f"{settings.KIM_SERVICE_CARD}|{settings.KIM_TSP_DIR}|{settings.KIM_SERVICE_TEST_PKI}"
    return _card(address.lower(), marker)


@dataclass(frozen=True)
class ServiceIdentity:
    """What the directory publishes for a service address: the KV card's ENC certificate."""

    address: str
    telematik_id: str
    holder: str
    enc_pem: str
    enc_not_after: dt.datetime


def service_identity(address: str) -> ServiceIdentity:
    """The KV card of a service address as the directory shows it (raises ServiceConfigError)."""
    from cryptography.hazmat.primitives import serialization

    from kvportal.cardlib.certs import parse_card_certificate

    card = service_card(address)
    enc_cert = card.enc[0][0]
    profile = parse_card_certificate(card.osig_cert)
    return ServiceIdentity(
        address=address.lower(),
        telematik_id=profile.telematik_id or SERVICE_TELEMATIK_ID,
        holder=profile.common_name,
        enc_pem=enc_cert.public_bytes(serialization.Encoding.PEM).decode(),
        enc_not_after=enc_cert.not_valid_after_utc,
    )


def trust():
    """Trust anchors for senders: the configured CA certificates, in test mode the test TSP."""
    from cryptography import x509

    from kvportal.kim.clientmodule import Trust

    anchors: list[x509.Certificate] = []
    for path in settings.KIM_SERVICE_TRUST:
        try:
            anchors += x509.load_pem_x509_certificates(Path(path).read_bytes())
        except (OSError, ValueError) as exc:
            raise ServiceConfigError(
                f"Vertrauensanker „{path}“ (KVPORTAL_KIM_SERVICE_TRUST) ist nicht lesbar."
            ) from exc
    if settings.KIM_SERVICE_TEST_PKI:
        from kvportal.kim.smcb import TestTsp

        anchors.append(TestTsp(settings.KIM_TSP_DIR).ensure())
    return Trust(anchors=anchors)


class PortalDirectory:
    """`CertificateDirectory` over the portal's directory (valid ENC certificate per address)."""

    def encryption_certificates(self, address: str):
        from cryptography import x509

        from kvportal.kim import selectors

        pem = selectors.valid_certificate(selectors.entry_for_address(address))
        return x509.load_pem_x509_certificates(pem.encode()) if pem else []


# --- one inbound mail --------------------------------------------------------------------------


@dataclass
class Inbound:
    """One mail of a service mailbox, opened with the KV's key."""

    account: str
    key: str
    raw_path: str
    sender_address: str  # outer From (the KIM account that sent it)
    dienstkennung: str
    message_id: str = ""
    opened: bool = False
    integrity: str = ""  # gültig | nicht prüfbar | ungültig | '' (not opened)
    problem: str = ""  # German: why it could not be opened or trusted
    message: EmailMessage | None = None
    signer_telematik_id: str = ""
    signer_bsnr: str = ""  # from a KV-issued SMC-B (Telematik-ID 1-2<BSNR>)
    signer_name: str = ""
    signer_is_practice: bool = False
    details: list[str] = field(default_factory=list)

    @property
    def trusted(self) -> bool:
        return self.opened and self.integrity in ("gültig", "nicht prüfbar")

    def attachments(self) -> dict[str, bytes]:
        """File name → content of every part with a file name (first wins)."""
        found: dict[str, bytes] = {}
        if self.message is None:
            return found
        for part in self.message.walk():
            name = part.get_filename()
            if not name or part.is_multipart():
                continue
            payload = part.get_payload(decode=True)
            found.setdefault(name, payload if isinstance(payload, bytes) else b"")
        return found

    @property
    def text(self) -> str:
        if self.message is None:
            return ""
        body = self.message.get_body(preferencelist=("plain",))
        return body.get_content() if body is not None else ""


def _signer_info(inbound: Inbound, signed_der: bytes) -> None:
    from kvportal.cardlib.certs import parse_card_certificate
    from kvportal.kim import clientmodule
    from kvportal.kim.smcb import OID_PRAXIS_ARZT

    cert = clientmodule._signer_cert(signed_der)
    profile = parse_card_certificate(cert)
    inbound.signer_telematik_id = profile.telematik_id or ""
    inbound.signer_name = profile.common_name
    inbound.signer_is_practice = OID_PRAXIS_ARZT in profile.profession_oids
    tid = inbound.signer_telematik_id
    if inbound.signer_is_practice and tid.startswith("1-2") and tid[3:].isdigit():
        inbound.signer_bsnr = tid[3:]


def open_inbound(*, account: str, key: str, raw: bytes, raw_path: str, now=None) -> Inbound:
    """Decrypt with the KV key, verify signature, chain and revocation; never raises for bad
    input (the reason is in `problem`)."""
    from kvportal.kim import clientmodule, komle, mail

    try:
        outer = mail.split(raw)
        sender = (email.utils.parseaddr(outer.get("From") or "")[1] or "").lower()
        dienstkennung = (outer.get("X-KIM-Dienstkennung") or komle.DEFAULT_DIENSTKENNUNG).strip()
        message_id = (outer.get("Message-ID") or "").strip()
    except komle.KomleError:
        sender, dienstkennung, message_id = "", "", ""
    inbound = Inbound(account, key, raw_path, sender, dienstkennung, message_id)
    try:
        card = service_card(account)
        opened = clientmodule.open_message(raw, card=card, trust=trust(), now=now)
    except ServiceConfigError as exc:
        inbound.problem = str(exc)
        return inbound
    inbound.details = list(opened.details)
    if not opened.decrypted:
        reason = "; ".join(opened.details) or "kein KOM-LE-Format"
        inbound.problem = (
            "Die Nachricht konnte nicht entschlüsselt werden oder ist beschädigt "
            f"(KIM-Fehler {opened.code or 'unbekannt'}: {reason})."
        )
        return inbound
    inbound.opened = True
    inbound.integrity = opened.integrity
    inner = opened.message
    parsed = email.message_from_bytes(inner, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    inbound.message = parsed
    if not inbound.trusted:
        inbound.problem = (
            "Die Signatur der Nachricht oder das Zertifikat des Absenders ist ungültig "
            f"({'; '.join(opened.details) or 'Prüfung fehlgeschlagen'})."
        )
    # the signer: decrypt once more for the SignedData (open_message reports only its verdict)
    try:
        der = mail.decoded_body(mail.split(raw))
        for cert, key_obj in card.enc:
            try:
                decrypted = komle.decrypt(der, key_obj, cert)
                break
            except komle.NotARecipientError:
                continue
        else:
            return inbound
        signed = mail.decoded_body(mail.split(decrypted.content))
        _signer_info(inbound, signed)
    except komle.KomleError:
        pass
    return inbound


def _keep_raw(account: str, key: str, raw: bytes) -> str:
    digest = hashlib.sha256(raw).hexdigest()
    return private_storage.save(f"kim/service/{account}/{digest}.eml", ContentFile(raw))


def _mark_seen(store: mailbox.Maildir, key: str) -> None:
    try:
        msg = store.get_message(key)
    except KeyError:
        return
    msg.set_subdir("cur")
    msg.add_flag("S")
    store[key] = msg


def process_message(*, address: str, key: str, now=None) -> str:
    """Open one mail of a service mailbox, keep it, dispatch it; idempotent (the handler keys on
    `(address, key)`; a seen mail is marked in the Maildir)."""
    store = _maildir(address)
    if store is None:
        return "no-store"
    try:
        raw = store.get_bytes(key)
    except KeyError:
        return "missing"
    try:
        service_card(address)
    except ServiceConfigError as exc:  # the KV's fault, not the sender's: keep it unseen, retry
        log.error("KIM service mailbox %s not usable: %s", address, exc)
        return "not-configured"
    raw_path = _keep_raw(address, key, raw)
    inbound = open_inbound(account=address, key=key, raw=raw, raw_path=raw_path, now=now)
    handler = handler_for(inbound.dienstkennung)
    if handler is None:
        with transaction.atomic():
            audit.record(
                actor=None,
                activity=Activity.CREATE,
                object_type="kim.service_mail",
                object_repr=f"{address} {key}"[:300],
                detail={
                    "event": "kim.service.unhandled",
                    "dienstkennung": inbound.dienstkennung[:200],
                    "raw": raw_path,
                },
            )
        log.warning("KIM service mail without handler kept: %s", raw_path)
        result = "unhandled"
    else:
        handler(inbound)
        result = "handled"
    _mark_seen(store, key)
    return result


def pending(address: str) -> list[str]:
    """Maildir keys of the service mailbox not yet processed (no Seen flag)."""
    store = _maildir(address)
    if store is None:
        return []
    keys = []
    for key in sorted(store.keys()):
        try:
            flags = store.get_message(key).get_flags()
        except KeyError:
            continue
        if "S" not in flags:
            keys.append(key)
    return keys


@shared_task(
    name="kvportal.kim.inbound.process_service_mail",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OSError, DatabaseError),
    retry_backoff=5,
    max_retries=8,
)
def process_service_mail(address: str, key: str) -> str:
    """Task (takes the address and the Maildir key; idempotent): one service mail."""
    return process_message(address=address, key=key)


def poll(*, now: dt.datetime | None = None) -> int:
    """Queue every unprocessed mail of every service mailbox (the recoverer `kim_service`)."""
    count = 0
    for address in service_addresses():
        for key in pending(address):
            process_service_mail.delay(address, key)
            count += 1
    return count


# --- answers -----------------------------------------------------------------------------------


class MailContent(TypedDict):
    """What a KIM client mail of the KV says: its Dienstkennung, subject, text and attachments
    (file name, MIME type, content)."""

    dienstkennung: str
    subject: str
    text: str
    attachments: NotRequired[Sequence[tuple[str, str, bytes]]]


def build_client_mail(
    *, sender: str, recipient: str, in_reply_to: str = "", **content: Unpack[MailContent]
) -> bytes:
    dienstkennung, subject, text = content["dienstkennung"], content["subject"], content["text"]
    attachments = content.get("attachments", ())
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = recipient
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = email.utils.make_msgid(domain=sender.rsplit("@", 1)[-1] or None)
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    msg["Subject"] = subject
    msg["X-KIM-Dienstkennung"] = dienstkennung
    msg.set_content(text)
    for name, mime, data in attachments:
        main, _, sub = mime.partition("/")
        msg.add_attachment(data, maintype=main, subtype=sub or "octet-stream", filename=name)
    return msg.as_bytes()


def _deliver(raw: bytes, *, sender: str, recipient: str, dienstkennung: str) -> None:
    """Into the recipient's mailbox: Maildir of the Fachdienst store (POP3) and the web mailbox."""
    from kvportal.kim import selectors
    from kvportal.kim.models import Folder, KimAccount, StoredMessage

    target = KimAccount.objects.filter(
        address__iexact=recipient, state__in=selectors.LIVE_STATES
    ).first()
    uid = ""
    store = _maildir(recipient)
    if store is not None:
        uid = store.add(raw)
    if target is None:
        return
    from kvportal.kim import mail

    digest = hashlib.sha256(raw).hexdigest()
    path = private_storage.save(f"kim/mail/{digest[:2]}/{digest}.eml", ContentFile(raw))
    StoredMessage.objects.create(
        account=target,
        folder=Folder.INBOX,
        sender=sender,
        recipients=[recipient],
        dienstkennung=dienstkennung[:200],
        message_id=(mail.split(raw).get("Message-ID") or "")[:300],
        size=len(raw),
        path=path,
        store_uid=uid,
    )


def answer(inbound: Inbound, *, key: str, bsnr: str = "", **content: Unpack[MailContent]) -> bool:
    """Reply to the sender of `inbound` once per `key`: signed with the KV's OSIG key, encrypted
    for the sender's valid ENC certificate(s) from the directory and the KV itself. Returns
    whether it was sent now; a sender without a certificate is logged (nothing sent)."""
    from kvportal.core.tasks import deliver_once
    from kvportal.kim import clientmodule

    recipient = inbound.sender_address
    if not recipient:
        log.warning("KIM service answer without a sender address: %s", inbound.raw_path)
        return False
    dienstkennung = content["dienstkennung"]
    client_mail = build_client_mail(
        sender=inbound.account, recipient=recipient, in_reply_to=inbound.message_id, **content
    )
    try:
        sealed = clientmodule.seal(
            client_mail,
            sender=inbound.account,
            recipients=[recipient],
            card=service_card(inbound.account),
            directory=PortalDirectory(),
        )
    except (clientmodule.ClientModuleError, ServiceConfigError) as exc:
        with transaction.atomic():
            audit.record(
                actor=None,
                activity=Activity.SUBMIT,
                bsnr=bsnr,
                object_type="kim.service_mail",
                object_repr=f"{inbound.account} {inbound.key}"[:300],
                detail={
                    "event": "kim.service.answer_failed",
                    "dienstkennung": dienstkennung,
                    "reason": str(exc)[:300],
                },
            )
        log.warning("KIM service answer not sent (%s): %s", dienstkennung, exc)
        return False

    def send() -> None:
        _deliver(
            sealed.message, sender=inbound.account, recipient=recipient, dienstkennung=dienstkennung
        )
        audit.record(
            actor=None,
            activity=Activity.SUBMIT,
            bsnr=bsnr,
            object_type="kim.service_mail",
            object_repr=f"{inbound.account} → {recipient}"[:300],
            detail={"event": "kim.service.answer", "dienstkennung": dienstkennung},
        )

    return deliver_once(f"kim-service:{key}", send)

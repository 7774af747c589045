# gemSpec_FD_KOMLE: the server takes and keeps only KOM-LE ciphertext; access-log entries of
# open/send/delete carry no content and no patient data; mail is purged after dataTimeToLive.
"""Web mailbox writes: send (ciphertext from the local agent), open, delete, retention purge."""

from __future__ import annotations

import datetime as dt
import hashlib
import mailbox
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from kvportal import audit
from kvportal.accounts.models import User
from kvportal.audit.models import Activity
from kvportal.core.registry import PurgeResult
from kvportal.core.storage import private_storage
from kvportal.kim import komle, mail, rules, selectors
from kvportal.kim.models import Folder, KimAccount, StoredMessage


def store_maildir(address: str) -> mailbox.Maildir | None:
    """The account's Maildir in the Fachdienst store (the layout `kim serve` and Dovecot use)."""
    root = str(settings.KIM_STORE_DIR or "")
    if not root:
        return None
    Path(root).mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(Path(root) / address.lower(), factory=None, create=True)


def _require_mailbox(actor: User, account: KimAccount) -> None:
    if not selectors.mailboxes(actor).filter(pk=account.pk).exists():
        raise PermissionDenied("Kein Zugriff auf dieses Postfach.")


def _addresses(value: str | None) -> list[str]:
    import email.utils

    return [a.lower() for _, a in email.utils.getaddresses([value or ""]) if a]


def _check_outgoing(account: KimAccount, raw: bytes) -> tuple[object, list[str]]:
    """The portal's own checks before anything leaves: KOM-LE only, From = this mailbox,
    at least one recipient, the sender's maxMailSize. Returns (outer header, recipients)."""
    if not account.usable():
        raise ValidationError("Dieses Postfach ist abgemeldet; es kann nichts mehr senden.")
    from kvportal.kim.fachdienst import is_komle_message  # aiosmtpd: only when sending

    if not is_komle_message(raw):
        raise ValidationError(
            "Das ist keine verschlüsselte KOM-LE-Nachricht; der Server nimmt nur Chiffrat an."
        )
    head = mail.split(raw)
    senders = _addresses(head.get("From"))
    if senders != [account.address]:
        raise ValidationError(f"Absender muss {account.address} sein.")
    recipients = list(dict.fromkeys(_addresses(head.get("To")) + _addresses(head.get("Cc"))))
    if not recipients:
        raise ValidationError("Die Nachricht hat keinen Empfänger.")
    if len(raw) > account.max_mail_size:
        raise ValidationError(
            "Die Nachricht ist größer als die maximale Mailgröße (KIM-Fehler 4018)."
        )
    return head, recipients


def _save_ciphertext(raw: bytes) -> str:
    digest = hashlib.sha256(raw).hexdigest()
    return private_storage.save(f"kim/mail/{digest[:2]}/{digest}.eml", ContentFile(raw))


def _submission_endpoint():
    """The Fachdienst's submission endpoint, or None (no Fachdienst: local delivery)."""
    url = str(settings.KIM_SUBMISSION_URL or "")
    if not url:
        return None
    from kvportal.kim import submission

    return submission.parse_url(url)


def send(*, actor: User, account: KimAccount, raw: bytes) -> list[StoredMessage]:
    """Send a KOM-LE mail built and encrypted by the local agent.

    With `KIM_SUBMISSION_URL` (production): submitted over SMTP with TLS to the Fachdienst as
    this account, exactly like a client module — the Fachdienst checks, stores it in each
    recipient's mailbox (Maildir, POP3) or relays it to the recipient's KIM provider; the
    portal keeps only the sender's copy in „Gesendet“. Recipients' web mailboxes index the
    delivered mail from the store (`sync_from_store`), so it exists and is counted once.

    Without it (development, demo): delivered locally into each recipient's web mailbox;
    recipients must be live accounts of this KIM service."""
    _require_mailbox(actor, account)
    head, recipients = _check_outgoing(account, raw)
    endpoint = _submission_endpoint()
    if endpoint is None:
        return _deliver_locally(actor=actor, account=account, raw=raw, head=head,
                                recipients=recipients)  # fmt: skip
    from kvportal.kim import submission

    try:
        submission.submit(
            endpoint,
            sender=account.address,
            recipients=recipients,
            data=raw,
            tls=submission.tls_context(settings.KIM_SUBMISSION_CA or None),
        )
    except submission.SubmissionRefused as exc:
        raise ValidationError(exc.message) from exc
    return [_record_sent(actor=actor, account=account, raw=raw, head=head,
                         recipients=recipients, via="fachdienst")]  # fmt: skip


def _common(account: KimAccount, raw: bytes, head, recipients: list[str], path: str) -> dict:
    return {
        "sender": account.address,
        "recipients": recipients,
        "dienstkennung": (head.get("X-KIM-Dienstkennung") or komle.DEFAULT_DIENSTKENNUNG)[:200],
        "message_id": (head.get("Message-ID") or "")[:300],
        "size": len(raw),
        "path": path,
    }


def _audit_send(actor: User, account: KimAccount, sent: StoredMessage, n: int, via: str):
    audit.record(
        actor=actor,
        activity=Activity.SUBMIT,
        obj=sent,
        bsnr=account.bsnr,
        object_repr=f"KIM-Nachricht {sent.pk}",
        detail={"kim": "send", "recipients": n, "size": sent.size, "via": via},
    )


@transaction.atomic
def _record_sent(
    *, actor: User, account: KimAccount, raw: bytes, head, recipients: list[str], via: str
) -> StoredMessage:
    """After the Fachdienst took it: the sender's copy in „Gesendet“ and one access-log entry."""
    sent = StoredMessage.objects.create(
        account=account,
        folder=Folder.SENT,
        read_at=timezone.now(),
        **_common(account, raw, head, recipients, _save_ciphertext(raw)),
    )
    _audit_send(actor, account, sent, len(recipients), via)
    return sent


@transaction.atomic
def _deliver_locally(
    *, actor: User, account: KimAccount, raw: bytes, head, recipients: list[str]
) -> list[StoredMessage]:
    """No Fachdienst configured: a copy in each recipient's inbox and one in „Gesendet“."""
    targets = {
        a.address: a
        for a in KimAccount.objects.filter(address__in=recipients, state__in=selectors.LIVE_STATES)
    }
    unknown = [r for r in recipients if r not in targets or not targets[r].usable()]
    if unknown:
        raise ValidationError(f"Unbekannte oder abgemeldete KIM-Adresse: {', '.join(unknown)}.")
    too_big = [a for a in targets.values() if len(raw) > a.max_mail_size]
    if too_big:
        raise ValidationError(
            "Die Nachricht überschreitet die Mailgröße des Empfängers "
            f"{', '.join(a.address for a in too_big)} (KIM-Fehler 4018)."
        )
    common = _common(account, raw, head, recipients, _save_ciphertext(raw))
    stored = [
        StoredMessage.objects.create(
            account=account, folder=Folder.SENT, read_at=timezone.now(), **common
        )
    ]
    for target in targets.values():
        uid = ""
        store = store_maildir(target.address)
        if store is not None:  # POP3 clients of the Fachdienst see it too
            uid = store.add(raw)
        stored.append(
            StoredMessage.objects.create(
                account=target, folder=Folder.INBOX, store_uid=uid, **common
            )
        )
    _audit_send(actor, account, stored[0], len(recipients), "lokal")
    return stored


def open_message(*, actor: User, message: StoredMessage) -> bytes:
    """The ciphertext for the local agent; marks it read; written to the access log."""
    _require_mailbox(actor, message.account)
    with private_storage.open(message.path, "rb") as fh:
        raw = fh.read()
    with transaction.atomic():
        if message.read_at is None:
            message.read_at = timezone.now()
            message.save(update_fields=["read_at"])
        audit.record(
            actor=actor,
            activity=Activity.VIEW,
            obj=message,
            bsnr=message.account.bsnr,
            object_repr=f"KIM-Nachricht {message.pk}",
            detail={"kim": "open"},
        )
    return raw


def ciphertexts_for_search(*, actor: User, account: KimAccount, messages: list[StoredMessage]):
    """The ciphertexts the page hands to the agent for the subject search: nothing is marked
    read; one access-log entry for the search (count only, no search term: it may name a
    patient)."""
    _require_mailbox(actor, account)
    if any(m.account_id != account.pk for m in messages):
        raise PermissionDenied("Kein Zugriff auf dieses Postfach.")
    result = []
    for message in messages:
        with private_storage.open(message.path, "rb") as fh:
            result.append((message, fh.read()))
    with transaction.atomic():
        audit.record(
            actor=actor,
            activity=Activity.VIEW,
            obj=account,
            bsnr=account.bsnr,
            object_repr=f"KIM-Postfach {account.pk}",
            detail={"kim": "search", "count": len(messages)},
        )
    return result


@transaction.atomic
def delete_message(*, actor: User, message: StoredMessage) -> StoredMessage | None:
    """First delete moves to „Gelöscht“; deleting there removes it for good."""
    _require_mailbox(actor, message.account)
    if message.folder != Folder.TRASH:
        message.folder, message.deleted_at = Folder.TRASH, timezone.now()
        message.save(update_fields=["folder", "deleted_at"])
        final = False
    else:
        final = True
    audit.record(
        actor=actor,
        activity=Activity.DELETE,
        obj=message,
        bsnr=message.account.bsnr,
        object_repr=f"KIM-Nachricht {message.pk}",
        detail={"kim": "delete", "final": final},
    )
    if final:
        _remove(message)
        return None
    return message


@transaction.atomic
def restore_message(*, actor: User, message: StoredMessage) -> StoredMessage:
    _require_mailbox(actor, message.account)
    message.folder = Folder.SENT if message.sender == message.account.address else Folder.INBOX
    message.deleted_at = None
    message.save(update_fields=["folder", "deleted_at"])
    return message


def _remove(message: StoredMessage) -> None:
    path = message.path
    message.delete()
    if not StoredMessage.objects.filter(path=path).exists():
        transaction.on_commit(lambda: private_storage.delete(path))


def purge_expired(*, now: dt.datetime, dry_run: bool = False) -> PurgeResult:
    """Retention per account (AccountLimit dataTimeToLive, default 90 days)."""
    result = PurgeResult(name="kim_mailbox_retention")
    for ttl in KimAccount.objects.values_list("data_time_to_live", flat=True).distinct():
        due = StoredMessage.objects.filter(
            account__data_time_to_live=ttl, received_at__lt=rules.retention_cutoff(now, ttl)
        )
        ids = list(due.values_list("pk", flat=True))
        result.count += len(ids)
        result.items += [f"KIM-Nachricht {pk}" for pk in ids[:50]]
        if not dry_run:
            with transaction.atomic():
                for message in StoredMessage.objects.filter(pk__in=ids):
                    _remove(message)
    return result


def sync_from_store(*, account: KimAccount) -> int:
    """Index KOM-LE mails that arrived over SMTP in the account's Maildir (idempotent by
    Maildir key). A copy goes to private storage: deleting in the web mailbox does not remove
    it from POP3, and a POP3 DELE does not remove it from the web mailbox."""
    store = store_maildir(account.address)
    if store is None:
        return 0
    from kvportal.kim.fachdienst import is_komle_message

    known = set(
        StoredMessage.objects.filter(account=account)
        .exclude(store_uid="")
        .values_list("store_uid", flat=True)
    )
    added = 0
    for key in sorted(set(store.keys()) - known):
        try:
            raw = store.get_bytes(key)
            message = store.get_message(key)  # MaildirMessage: date = delivery (mtime)
        except (KeyError, OSError):
            continue  # fetched and deleted over POP3 meanwhile
        arrived = dt.datetime.fromtimestamp(message.get_date(), dt.UTC)
        if not is_komle_message(raw):
            continue  # delivery reports and the like stay for POP3 clients
        head = mail.split(raw)
        digest = hashlib.sha256(raw).hexdigest()
        path = private_storage.save(f"kim/mail/{digest[:2]}/{digest}.eml", ContentFile(raw))
        StoredMessage.objects.create(
            account=account,
            folder=Folder.INBOX,
            sender=(_addresses(head.get("From")) or [""])[0],
            recipients=_addresses(head.get("To")) + _addresses(head.get("Cc")),
            dienstkennung=(head.get("X-KIM-Dienstkennung") or komle.DEFAULT_DIENSTKENNUNG)[:200],
            message_id=(head.get("Message-ID") or "")[:300],
            size=len(raw),
            path=path,
            store_uid=key,
            received_at=arrived,
        )
        added += 1
    return added

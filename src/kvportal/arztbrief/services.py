# eArztbrief (EBM 86900/86901, KBV eArztbrief-Richtlinie): only letters with the author's QES
# count; the plain letter is deleted once it is sent (the server keeps only KOM-LE ciphertext);
# access-log entries carry no patient data and no letter content.
"""Writes of the eArztbrief: create (written or uploaded), sign batch, send, receipt, purge."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import hashlib

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kvportal import audit
from kvportal.accounts.models import User
from kvportal.arztbrief import selectors
from kvportal.arztbrief.models import Arztbrief, Briefmappe, Empfaenger, Empfang, State
from kvportal.audit.models import Activity
from kvportal.core.registry import PurgeResult
from kvportal.core.retention import cutoff, purge_in_batches
from kvportal.core.storage import private_storage
from kvportal.kim import selectors as kim_selectors
from kvportal.kim import services_mailbox
from kvportal.kim.models import AccountKind, Folder, KimAccount, StoredMessage

DK_VERSAND = "Arztbrief;VHitG-Versand;V1.2"
DK_BESTAETIGUNG = "Arztbrief;Eingangsbestaetigung;V1.2"
#: EF.SSEC of the eHBA: signatures per PIN.QES entry (gemSpec_COS / the card's batch size)
BATCH_MAX = 254


class Refused(ValidationError):
    """A German refusal naming what is wrong."""


def _store(path: str, data: bytes) -> str:
    return private_storage.save(path, ContentFile(data))


def _audit_letter(actor: User | None, letter: Arztbrief, activity: str, **detail) -> None:
    """The access-log event of a letter: its practice, „eArztbrief N“, `detail` (no content)."""
    audit.record(
        actor=actor,
        activity=activity,
        obj=letter,
        bsnr=letter.betriebsstaette.bsnr,
        object_repr=f"eArztbrief {letter.pk}",
        detail=detail,
    )


def _head(raw: bytes) -> email.message.Message:
    return email.message_from_bytes(raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")


def _addresses(value: str | None) -> list[str]:
    return [a.lower() for _n, a in email.utils.getaddresses([value or ""]) if a]


def _require_author(actor: User, practice) -> None:
    person = actor.person if actor.person_id else None
    if person is None or not person.lanr:
        raise Refused(_("Nur Ärztinnen und Ärzte mit LANR können eArztbriefe verfassen."))
    if not selectors.works_at(person, practice):
        raise Refused(
            _("Sie sind nicht in der Betriebsstätte %(bsnr)s tätig.") % {"bsnr": practice.bsnr}
        )


def recipient_for(address: str) -> tuple[KimAccount, str]:
    """The live KIM account and its valid ENC certificate, or a refusal naming the address."""
    address = (address or "").strip().lower()
    account = selectors.live_account(address)
    entry = kim_selectors.entry_for_address(address) if account else None
    pem = kim_selectors.valid_certificate(entry)
    if account is None or not pem:
        raise Refused(
            _(
                "Empfänger: Für „%(a)s“ gibt es im KIM-Verzeichnis kein Postfach mit gültigem "
                "Verschlüsselungszertifikat."
            )
            % {"a": address}
        )
    return account, pem


#: recipients of one letter (one KIM message; the same limit as the client-module path)
MAX_RECIPIENTS = 50


def recipients_for(addresses) -> list[tuple[KimAccount, str]]:
    """Live account and valid ENC certificate of every address (refusal names the address)."""
    if not addresses:
        raise Refused(_("Empfänger: Bitte mindestens eine KIM-Adresse angeben."))
    if len(addresses) > MAX_RECIPIENTS:
        raise Refused(
            _("Empfänger: höchstens %(n)d KIM-Adressen je eArztbrief.") % {"n": MAX_RECIPIENTS}
        )
    return [recipient_for(a) for a in addresses]


def _recipient_rows(sender: KimAccount, targets: list[KimAccount]) -> list[Empfaenger]:
    """One row per address; GOP 86900 counts once per receiving practice, never for the
    author's own practice."""
    rows, seen = [], set()
    for position, target in enumerate(targets):
        bsnr = target.betriebsstaette.bsnr if target.betriebsstaette_id else ""
        key = bsnr or target.address.lower()
        counted = key not in seen and bsnr != sender.betriebsstaette.bsnr
        seen.add(key)
        name = (
            target.betriebsstaette.name if target.betriebsstaette_id else str(target.person or "")
        )
        rows.append(
            Empfaenger(
                address=target.address,
                name=name[:300],
                bsnr=bsnr,
                practice_key=key,
                counted=counted,
                position=position,
            )
        )
    return rows


@transaction.atomic(durable=True)
def create_letter(
    *,
    actor: User,
    sender: KimAccount,
    recipient_addresses: list[str],
    title: str,
    pdf: bytes,
    source: str,
    cda: bytes | None = None,
    cda_name: str = "",
) -> Arztbrief:
    """A new letter (state Entwurf) of the actor from a practice mailbox of his BSNR to one or
    more KIM addresses of the directory."""
    if not kim_selectors.mailboxes(actor).filter(pk=sender.pk).exists():
        raise Refused(_("Absender: Auf dieses KIM-Postfach haben Sie keinen Zugriff."))
    if sender.kind != AccountKind.PRACTICE or sender.betriebsstaette is None:
        raise Refused(_("Absender: eArztbriefe werden aus dem Praxispostfach versandt."))
    practice = sender.betriebsstaette
    _require_author(actor, practice)
    if not pdf.startswith(b"%PDF-"):
        raise Refused(_("Brief: Die Datei ist keine PDF-Datei."))
    if cda is not None and not cda.lstrip().startswith(b"<"):
        raise Refused(_("CDA-Dokument: Die Datei ist kein XML-Dokument."))
    addresses = list(dict.fromkeys(a.strip().lower() for a in recipient_addresses if a.strip()))
    targets = [account for account, _pem in recipients_for(addresses)]
    if any(t.pk == sender.pk for t in targets):
        raise Refused(_("Empfänger: Ein eArztbrief an das eigene Postfach zählt nicht."))
    rows = _recipient_rows(sender, targets)
    digest = hashlib.sha256(pdf).hexdigest()
    letter = Arztbrief.objects.create(
        author=actor,
        person=actor.person,
        lanr=actor.person.lanr,
        betriebsstaette=practice,
        sender=sender,
        recipient_address=rows[0].address,
        recipient_name=rows[0].name,
        recipient_bsnr=rows[0].bsnr,
        title=title[:120],
        source=source,
        pdf_sha256=digest,
    )
    for row in rows:
        row.letter = letter
    Empfaenger.objects.bulk_create(rows)
    letter.pdf_path = _store(f"arztbrief/{letter.pk}/brief.pdf", pdf)
    if cda is not None:
        letter.cda_path = _store(f"arztbrief/{letter.pk}/cda.xml", cda)
        letter.cda_name = (cda_name or "arztbrief-cda.xml")[:120]
    letter.save(update_fields=["pdf_path", "cda_path", "cda_name"])
    _audit_letter(
        actor,
        letter,
        Activity.CREATE,
        arztbrief="create",
        source=source,
        cda=cda is not None,
        recipients=len(rows),
    )
    return letter


@transaction.atomic(durable=True)
def open_batch(*, actor: User, letters: list[Arztbrief]) -> Briefmappe:
    """A signing batch of the actor's unsigned letters (one PIN.QES for up to 254)."""
    letters = [
        x for x in letters if x.author_id == actor.pk and x.state == State.ENTWURF and x.pdf_path
    ]
    if not letters:
        raise Refused(_("Bitte wählen Sie mindestens einen unsignierten eigenen Brief aus."))
    if len(letters) > BATCH_MAX:
        raise Refused(
            _("Mit einer PIN-Eingabe können höchstens %(n)s Briefe signiert werden.")
            % {"n": BATCH_MAX}
        )
    mappe = Briefmappe.objects.create(author=actor)
    Arztbrief.objects.filter(pk__in=[x.pk for x in letters]).update(mappe=mappe)
    audit.record(
        actor=actor,
        activity=Activity.CREATE,
        obj=mappe,
        object_repr=f"Signaturmappe {mappe.pk}",
        detail={"arztbrief": "batch", "letters": len(letters)},
    )
    return mappe


def _qes_digest(letter: Arztbrief) -> str:
    """The byte-range digest of the letter's QES, as a client module reports it (`kimhooks`)."""
    from kvportal.arztbrief.kimhooks import proof_of

    try:
        found = proof_of(selectors.signed_pdf(letter))
    except (LookupError, OSError, ObjectDoesNotExist):
        return ""
    return found[1] if found else ""


def mark_signed(*, actor: User, letter: Arztbrief, report) -> Arztbrief:
    """Called from the signable's on_accepted (inside ehba's transaction)."""
    valid = [c for c in report.signatures.all() if c.verdict == "valid"]
    letter.state = State.SIGNIERT
    letter.signed_sha256 = report.signed_sha256
    letter.report = report
    letter.signer_name = (valid[0].signer_name if valid else "")[:200]
    letter.signed_at = timezone.now()
    letter.qes_digest = _qes_digest(letter)
    letter.save(
        update_fields=["state", "signed_sha256", "report", "signer_name", "signed_at", "qes_digest"]
    )
    _audit_letter(actor, letter, Activity.UPDATE, arztbrief="signed", report=report.pk)
    return letter


def _delete_content(letter: Arztbrief) -> None:
    """Plain PDF, CDA and the signing copies of ehba (original + signed revisions)."""
    for path in (letter.pdf_path, letter.cda_path):
        if path:
            private_storage.delete(path)
    if letter.mappe_id:
        from kvportal.ehba.models import SignatureDocument

        docs = SignatureDocument.objects.filter(
            content_type=ContentType.objects.get_for_model(Briefmappe),
            object_id=str(letter.mappe_id),
            key=selectors.document_key(letter),
        )
        for doc in docs:
            for path in {doc.original_path, doc.current_path}:
                if path:
                    private_storage.delete(path)
        docs.delete()
    letter.pdf_path = letter.cda_path = ""
    letter.content_deleted_at = timezone.now()
    letter.save(update_fields=["pdf_path", "cda_path", "content_deleted_at"])


@transaction.atomic(durable=True)
def record_sent(*, actor: User, letter: Arztbrief, raw: bytes) -> Arztbrief:
    """Store the KOM-LE mail the agent built for the signed letter and delete the plain letter.

    Checked on the outer (unencrypted) header: Dienstkennung, sender mailbox and recipient."""
    letter = Arztbrief.objects.select_for_update().get(pk=letter.pk)
    if letter.author_id != actor.pk:
        raise Refused(_("Nur die Verfasserin oder der Verfasser kann den Brief versenden."))
    if letter.state != State.SIGNIERT or not letter.pdf_path:
        raise Refused(_("Der Brief ist nicht (mehr) versandbereit: erst signieren."))
    head = _head(raw)
    if (head.get("X-KIM-Dienstkennung") or "").strip() != DK_VERSAND:
        raise Refused(_("Die Nachricht trägt nicht die Dienstkennung %(dk)s.") % {"dk": DK_VERSAND})
    recipients = _addresses(head.get("To")) + _addresses(head.get("Cc"))
    expected = [r.address.lower() for r in letter.empfaenger.all()]
    if sorted(recipients) != sorted(expected):
        raise Refused(
            _("Die Nachricht ist nicht (genau) an %(a)s adressiert.") % {"a": ", ".join(expected)}
        )
    stored = services_mailbox.send(actor=actor, account=letter.sender, raw=raw)
    letter.kim_message = stored[0]
    letter.mail_message_id = stored[0].message_id
    letter.state = State.VERSANDT
    letter.sent_at = timezone.now()
    letter.save(update_fields=["kim_message", "mail_message_id", "state", "sent_at"])
    _delete_content(letter)
    _audit_letter(actor, letter, Activity.SUBMIT, arztbrief="sent", kim_message=stored[0].pk)
    return letter


@transaction.atomic(durable=True)
def confirm_receipt(
    *, actor: User, message: StoredMessage, sha256: str, confirmation: bytes | None
) -> Empfang:
    """The receiver opened the letter with the card and reports the PDF's SHA-256.

    The QES counts as valid when the hash is that of a letter whose QES the portal checked
    when it was signed and which was sent to this mailbox (`letter`); otherwise the receipt
    is recorded as not checked by the portal. The Eingangsbestätigung (KOM-LE, built by the
    agent) goes to the sender."""
    message = StoredMessage.objects.select_for_update().select_related("account").get(pk=message.pk)
    account = message.account
    if not kim_selectors.mailboxes(actor).filter(pk=account.pk).exists():
        raise Refused(_("Kein Zugriff auf dieses Postfach."))
    if message.folder != Folder.INBOX or message.dienstkennung != DK_VERSAND:
        raise Refused(_("Diese Nachricht ist kein eingegangener eArztbrief."))
    if Empfang.objects.filter(message_pk=message.pk).exists():
        raise Refused(_("Der Empfang dieses eArztbriefs ist bereits bestätigt."))
    person = actor.person if actor.person_id else None
    if person is None or not person.lanr:
        raise Refused(_("Den Empfang bestätigt eine Ärztin oder ein Arzt der Praxis (mit LANR)."))
    if account.kind == AccountKind.PRACTICE and not selectors.works_at(
        person, account.betriebsstaette
    ):
        raise Refused(_("Sie sind in der empfangenden Betriebsstätte nicht tätig."))
    sha256 = (sha256 or "").strip().lower()
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise Refused(_("Prüfsumme: SHA-256 des Briefs fehlt oder ist fehlerhaft."))
    letter = (
        Arztbrief.objects.filter(
            state=State.VERSANDT,
            signed_sha256=sha256,
            empfaenger__address__iexact=account.address,
            mail_message_id=message.message_id,
        )
        .select_related("report")
        .first()
    )
    valid = bool(letter and letter.report and letter.report.verdict == "valid")
    verdict = (
        _("QES gültig (vom Portal beim Signieren geprüft)")
        if valid
        else _("QES nicht vom Portal geprüft: Brief stimmt mit keinem im Portal signierten überein")
    )
    again = bool(
        valid
        and account.betriebsstaette_id
        and Empfang.objects.filter(
            letter=letter, betriebsstaette=account.betriebsstaette, valid_qes=True, counted=True
        ).exists()
    )
    receipt = Empfang.objects.create(
        counted=not again,
        message=message,
        message_pk=message.pk,
        account=account,
        betriebsstaette=account.betriebsstaette,
        person=person,
        lanr=person.lanr,
        confirmed_by=actor,
        sender_address=message.sender,
        sha256=sha256,
        letter=letter,
        valid_qes=valid,
        verdict=verdict[:200],
    )
    if confirmation is not None:
        head = _head(confirmation)
        if (head.get("X-KIM-Dienstkennung") or "").strip() != DK_BESTAETIGUNG:
            raise Refused(
                _("Die Eingangsbestätigung trägt nicht die Dienstkennung %(dk)s.")
                % {"dk": DK_BESTAETIGUNG}
            )
        if _addresses(head.get("To")) != [message.sender]:
            raise Refused(_("Die Eingangsbestätigung muss an %(a)s gehen.") % {"a": message.sender})
        services_mailbox.send(actor=actor, account=account, raw=confirmation)
        receipt.confirmation_sent = True
        receipt.save(update_fields=["confirmation_sent"])
    audit.record(
        actor=actor,
        activity=Activity.UPDATE,
        obj=receipt,
        bsnr=account.bsnr,
        object_repr=f"eArztbrief-Eingang {receipt.pk}",
        detail={"arztbrief": "received", "valid_qes": valid, "confirmed": confirmation is not None},
    )
    return receipt


def _purge_one(letter: Arztbrief) -> None:
    with transaction.atomic():
        _delete_content(letter)
        _audit_letter(None, letter, Activity.DELETE, arztbrief="content_purged", state=letter.state)


def purge_unsent(*, now: dt.datetime, dry_run: bool = False) -> PurgeResult:
    """Plain content of letters not sent within ARZTBRIEF_UNSENT_DAYS is deleted."""
    due = (
        Arztbrief.objects.filter(
            content_deleted_at__isnull=True,
            created_at__lt=cutoff(now, days=settings.ARZTBRIEF_UNSENT_DAYS),
        )
        .exclude(pdf_path="")
        .select_related("betriebsstaette")
        .order_by("pk")
    )
    return purge_in_batches(
        due, name="arztbrief", purge_one=_purge_one, label=lambda x: str(x), dry_run=dry_run
    )

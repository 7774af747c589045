# § 304 SGB V (deletion after at most ten years, tombstone only) and § 37 (2a) SGB X (notice
# by e-mail without content); every write is audited in its own transaction.
"""Writes of the document archive: publish, import, open (read receipt), notify, purge."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from kvportal import audit
from kvportal.accounts import scope
from kvportal.accounts.models import User
from kvportal.audit.models import Activity
from kvportal.core.quarters import Quarter
from kvportal.core.registry import PurgeResult
from kvportal.documents import rules
from kvportal.documents.models import (
    DeletedDocument,
    Document,
    ReadReceipt,
    Source,
    quarter_to_int,
)
from kvportal.members.identifiers import check_lanr
from kvportal.members.models import Betriebsstaette, Person, Taetigkeit

PDF_MAGIC = b"%PDF-"


class DocumentError(ValueError):
    """A document cannot be published; the message is German and names the field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def retention_overrides() -> Mapping[str, int]:
    """Per-type retention in years (setting DOCUMENT_RETENTION_YEARS; default 10 each)."""
    return settings.DOCUMENT_RETENTION_YEARS or {}


def max_document_bytes() -> int:
    return int(settings.MAX_UPLOAD_MB) * 1024 * 1024


def check_pdf(content: bytes) -> None:
    if not content:
        raise DocumentError("Die Datei ist leer.", "file")
    if not content.startswith(PDF_MAGIC):
        raise DocumentError("Die Datei ist keine PDF-Datei.", "file")
    if len(content) > max_document_bytes():
        raise DocumentError(f"Die Datei ist größer als {settings.MAX_UPLOAD_MB} MB.", "file")


def _coerce_quarter(quarter: Quarter | str | int) -> Quarter:
    if isinstance(quarter, Quarter):
        return quarter
    if isinstance(quarter, int):
        return Quarter(quarter // 10, quarter % 10)
    try:
        return Quarter.parse(quarter)
    except ValueError as exc:
        raise DocumentError(str(exc), "quarter") from exc


def find_existing(
    *, betriebsstaette: Betriebsstaette, quarter: Quarter, doc_type: str, lanr: str, sha256: str
) -> Document | None:
    return Document.objects.filter(
        betriebsstaette=betriebsstaette,
        quarter=quarter_to_int(quarter),
        doc_type=doc_type,
        lanr=lanr,
        sha256=sha256,
    ).first()


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@transaction.atomic
def _publish(
    *,
    actor: User | None,
    betriebsstaette: Betriebsstaette,
    quarter: Quarter | str | int,
    doc_type: str,
    title: str,
    content: bytes,
    lanr: str | None,
    also_by_post: bool | None,
    amount: Decimal | None,
    source: str,
    now: dt.datetime | None = None,
) -> tuple[Document, bool]:
    """Create a document, or return the existing one with the same key (created=False)."""
    quarter = _coerce_quarter(quarter)
    try:
        doc_type = rules.parse_doc_type(doc_type)
    except ValueError as exc:
        raise DocumentError(str(exc), "doc_type") from exc
    title = (title or "").strip()
    if not title:
        raise DocumentError("Der Titel fehlt.", "title")
    if len(title) > rules.TITLE_MAX_LENGTH:
        raise DocumentError(f"Der Titel ist länger als {rules.TITLE_MAX_LENGTH} Zeichen.", "title")
    lanr = (lanr or "").strip()
    if lanr:
        lanr_result = check_lanr(lanr)
        if not lanr_result.ok:
            raise DocumentError(lanr_result.errors[0], "lanr")
    check_pdf(content)
    now = now or timezone.now()
    try:
        deletion = rules.deletion_date(quarter, doc_type, retention_overrides())
    except ValueError as exc:
        raise DocumentError(str(exc), "doc_type") from exc
    if rules.is_due(deletion, rules.local_date(now)):
        raise DocumentError(
            f"Das Quartal {quarter} liegt außerhalb der Aufbewahrungsfrist "
            f"(Löschung spätestens am {deletion:%d.%m.%Y}, § 304 SGB V).",
            "quarter",
        )
    sha = _sha256(content)
    existing = find_existing(
        betriebsstaette=betriebsstaette, quarter=quarter, doc_type=doc_type, lanr=lanr, sha256=sha
    )
    if existing is not None:
        return existing, False
    if also_by_post is None:
        also_by_post = rules.sent_by_post_by_default(doc_type)
    document = Document(
        betriebsstaette=betriebsstaette,
        quarter=quarter_to_int(quarter),
        lanr=lanr,
        person=Person.objects.filter(lanr=lanr).first() if lanr else None,
        doc_type=doc_type,
        title=title,
        size=len(content),
        sha256=sha,
        published_at=now,
        published_by=actor if getattr(actor, "pk", None) else None,
        source=source,
        also_by_post=also_by_post,
        amount=amount,
        deletion_date=deletion,
    )
    document.file.save(f"{uuid.uuid4().hex}.pdf", ContentFile(content), save=False)
    try:
        with transaction.atomic():
            document.save()
    except IntegrityError:
        # a concurrent import stored the same document first
        document.file.delete(save=False)
        existing = find_existing(
            betriebsstaette=betriebsstaette,
            quarter=quarter,
            doc_type=doc_type,
            lanr=lanr,
            sha256=sha,
        )
        if existing is None:
            raise
        return existing, False
    except BaseException:
        document.file.delete(save=False)
        raise
    audit.record(
        actor=actor,
        activity=Activity.CREATE,
        obj=document,
        object_repr=f"{document.get_doc_type_display()} {quarter}",
        detail={"source": source, "quarter": quarter.kvdt, "type": doc_type, "lanr": lanr},
    )
    return document, True


def publish_document(
    *,
    actor: User | None,
    betriebsstaette: Betriebsstaette,
    quarter: Quarter | str,
    doc_type: str,
    title: str,
    content: bytes,
    lanr: str | None = None,
    also_by_post: bool | None = False,
    amount: Decimal | None = None,
    source: str = Source.SERVICE,
    notify: bool = True,
) -> Document:
    """Publish one PDF for a BSNR (and optionally one LANR) and notify users with access.

    Other apps call this for generated documents (e.g. a Beschluss). Idempotent: the same
    content for the same BSNR, quarter, type and LANR returns the existing document."""
    with transaction.atomic():
        document, created = _publish(
            actor=actor,
            betriebsstaette=betriebsstaette,
            quarter=quarter,
            doc_type=doc_type,
            title=title,
            content=content,
            lanr=lanr,
            also_by_post=also_by_post,
            amount=amount,
            source=source,
        )
        if created and notify:
            _enqueue_notices([document.pk])
    return document


def _enqueue_notices(document_ids: list[int]) -> None:
    if not document_ids:
        return
    from kvportal.core.tasks import enqueue_job
    from kvportal.documents.tasks import send_document_notices_task

    enqueue_job(send_document_notices_task, sorted(document_ids))


# --------------------------------------------------------------------------- import


@dataclass
class ImportReport:
    created: list[Document] = field(default_factory=list)
    existing: list[tuple[int, Document]] = field(default_factory=list)
    errors: list[rules.RowError] = field(default_factory=list)
    fatal: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.fatal

    def as_dict(self) -> dict[str, Any]:
        return {
            "angelegt": len(self.created),
            "bereits_vorhanden": len(self.existing),
            "fehlerhaft": len({e.row for e in self.errors}),
            "dokumente": [d.pk for d in self.created],
            "fehler": [
                {
                    "zeile": e.row,
                    "feld": rules.FIELD_LABELS.get(e.field, e.field) if e.field else None,
                    "meldung": str(e),
                }
                for e in self.errors
            ],
            "manifest_fehler": list(self.fatal),
        }

    def lines(self) -> list[str]:
        out = [
            f"{len(self.created)} Dokument(e) angelegt, {len(self.existing)} bereits vorhanden, "
            f"{len({e.row for e in self.errors})} Zeile(n) fehlerhaft."
        ]
        out.extend(self.fatal)
        out.extend(str(e) for e in self.errors)
        return out


FileOpener = Callable[[str], bytes | None]


def import_manifest(
    *,
    actor: User | None,
    manifest: bytes,
    manifest_name: str,
    open_file: FileOpener,
    source: str = Source.IMPORT,
    now: dt.datetime | None = None,
) -> ImportReport:
    """Import a manifest row by row: good rows are published, bad rows reported with reason.

    Each row is its own transaction, so a failing row leaves nothing behind; re-running the
    same manifest adds nothing (rows already present are counted as "bereits vorhanden")."""
    now = now or timezone.now()
    parsed = rules.parse_manifest(
        manifest, name=manifest_name, today=rules.local_date(now), retention=retention_overrides()
    )
    report = ImportReport(errors=list(parsed.errors), fatal=list(parsed.fatal))
    if parsed.fatal:
        _audit_import(actor, manifest_name, report, source)
        return report
    practices = {
        p.bsnr: p
        for p in Betriebsstaette.objects.filter(bsnr__in={row.bsnr for row in parsed.rows})
    }
    links = set(
        Taetigkeit.objects.filter(
            betriebsstaette__bsnr__in=practices, person__lanr__in={r.lanr for r in parsed.rows}
        ).values_list("betriebsstaette__bsnr", "person__lanr")
    )
    for row in parsed.rows:

        def fail(fld: str | None, message: str, row: rules.ManifestRow = row) -> None:
            report.errors.append(rules.RowError(row.row, fld, message, parsed.row_label))

        practice = practices.get(row.bsnr)
        if practice is None:
            fail("bsnr", f"Die BSNR {row.bsnr} ist im Arztregister nicht bekannt.")
            continue
        if row.lanr and (row.bsnr, row.lanr) not in links:
            fail("lanr", f"Die LANR {row.lanr} ist der BSNR {row.bsnr} nicht zugeordnet.")
            continue
        try:
            content = open_file(row.file)
        except (OSError, ValueError) as exc:
            fail("file", f"Die Datei „{row.file}“ kann nicht gelesen werden ({exc}).")
            continue
        if content is None:
            fail("file", f"Die Datei „{row.file}“ fehlt.")
            continue
        try:
            document, created = _publish(
                actor=actor,
                betriebsstaette=practice,
                quarter=row.quarter,
                doc_type=row.doc_type,
                title=row.title,
                content=content,
                lanr=row.lanr,
                also_by_post=None,
                amount=row.amount,
                source=source,
                now=now,
            )
        except DocumentError as exc:
            fail(exc.field, str(exc))
            continue
        if created:
            report.created.append(document)
        else:
            report.existing.append((row.row, document))
    report.errors.sort(key=lambda e: e.row)
    with transaction.atomic():
        _audit_import(actor, manifest_name, report, source)
        _enqueue_notices([d.pk for d in report.created])
    return report


def _audit_import(actor: User | None, name: str, report: ImportReport, source: str) -> None:
    audit.record(
        actor=actor,
        activity=Activity.STAFF_ACTION if actor is not None else Activity.CREATE,
        object_type="documents.import",
        object_repr=f"Dokumentenimport {name}"[:300],
        username="" if actor is not None else "kommandozeile",
        detail={
            "source": source,
            "created": len(report.created),
            "existing": len(report.existing),
            "bad_rows": sorted({e.row for e in report.errors}),
            "fatal": bool(report.fatal),
        },
    )


# --------------------------------------------------------------------------- reading


@transaction.atomic
def record_view(*, actor: User, document: Document) -> None:
    """A document's detail page was shown (access log)."""
    audit.record(
        actor=actor,
        activity=Activity.VIEW,
        obj=document,
        object_repr=f"{document.get_doc_type_display()} {document.quarter_obj}",
    )


@transaction.atomic
def mark_opened(*, actor: User, document: Document, via: str = "web") -> ReadReceipt:
    """The user opened (downloaded) the document: read receipt + access log."""
    now = timezone.now()
    receipt, created = ReadReceipt.objects.get_or_create(
        document=document, user=actor, defaults={"first_opened_at": now, "last_opened_at": now}
    )
    if not created:
        ReadReceipt.objects.filter(pk=receipt.pk).update(last_opened_at=now, times=F("times") + 1)
    audit.record(
        actor=actor,
        activity=Activity.DOWNLOAD,
        obj=document,
        object_repr=f"{document.get_doc_type_display()} {document.quarter_obj}",
        detail={"via": via, "sha256": document.sha256},
    )
    return receipt


# --------------------------------------------------------------------------- notices


def recipients_for(document: Document) -> list[User]:
    """Opted-in, active users who may see `document` (the scope layer's inverse query).
    Issue 14: an address awaiting confirmation (self-service `EmailConfirmation` not matching
    the current address) gets no notice; accounts from before the confirmation keep theirs."""
    qs = (
        scope.document_recipients(
            betriebsstaette_id=document.betriebsstaette_id, lanr=document.lanr or None
        )
        .filter(notify_by_email=True)
        .exclude(email="")
    )
    if apps.is_installed("kvportal.selfservice"):
        qs = qs.exclude(
            Q(email_confirmation__isnull=False)
            & (
                Q(email_confirmation__confirmed_at__isnull=True)
                | ~Q(email_confirmation__confirmed_email__iexact=F("email"))
            )
        )
    return list(qs.order_by("pk"))


NOTICE_SUBJECT = "Neue Dokumente im Mitgliederportal"
NOTICE_BODY = (
    "Guten Tag,\n\n"
    "im Mitgliederportal liegen {count} neue(s) Dokument(e) für Sie zum Abruf bereit.\n"
    "Bitte melden Sie sich an, um sie einzusehen: {url}\n\n"
    "Ein elektronisch bereitgestelltes Dokument gilt am vierten Tag nach dem Versand dieser "
    "Benachrichtigung als bekannt gegeben (§ 37 Abs. 2a SGB X).\n\n"
    "Diese E-Mail enthält aus Datenschutzgründen keine Inhalte der Dokumente.\n"
    "Sie können die Benachrichtigung in Ihren Kontoeinstellungen abbestellen.\n"
)


def _pk(document: Document) -> int:
    return document.pk


def send_document_notices(*, document_ids: list[int], now: dt.datetime | None = None) -> int:
    """Mail each opted-in user with access once for all new documents; idempotent.

    Only documents without a recorded notice are considered; the notice time is stored
    on every document for which at least one mail went out."""
    now = now or timezone.now()
    documents = list(
        Document.objects.filter(pk__in=document_ids, notice_sent_at__isnull=True).select_related(
            "betriebsstaette"
        )
    )
    per_user: dict[int, tuple[User, list[Document]]] = {}
    for document in documents:
        for user in recipients_for(document):
            per_user.setdefault(user.pk, (user, []))[1].append(document)
    notified: set[int] = set()
    sent = 0
    url = settings.PORTAL_URL.rstrip("/") + "/dokumente/"
    from kvportal.core.tasks import deliver_once

    for user, docs in per_user.values():
        # issue 11: one delivery marker per user and document set, written with the send, so a
        # re-run after a crash half-way mails only those not yet mailed
        key = f"documents.notice:{user.pk}:{','.join(str(d.pk) for d in sorted(docs, key=_pk))}"
        if deliver_once(
            key,
            partial(
                send_mail,
                NOTICE_SUBJECT,
                NOTICE_BODY.format(count=len(docs), url=url),
                settings.DEFAULT_FROM_EMAIL,
                [user.email],
            ),
        ):
            sent += 1
        notified.update(d.pk for d in docs)
    if notified:
        with transaction.atomic():
            Document.objects.filter(pk__in=notified, notice_sent_at__isnull=True).update(
                notice_sent_at=now
            )
            audit.record(
                actor=None,
                activity=Activity.UPDATE,
                object_type="documents.notice",
                object_repr=f"Benachrichtigung über {len(notified)} Dokument(e)",
                username="system",
                detail={"documents": sorted(notified), "mails": sent},
            )
    return sent


# --------------------------------------------------------------------------- purge


def purge_expired_documents(*, now: dt.datetime, dry_run: bool = False) -> PurgeResult:
    """§ 304 SGB V: delete documents whose deletion date has passed; keep a tombstone."""
    from kvportal.core.retention import purge_in_batches

    today = rules.local_date(now)
    due = Document.objects.filter(deletion_date__lt=today).select_related("betriebsstaette")
    return purge_in_batches(
        due.order_by("deletion_date", "pk"),
        name="Dokumente (§ 304 SGB V)",
        purge_one=lambda document: _purge_one(document, now=now),
        label=_purge_label,
        dry_run=dry_run,
    )


def _purge_label(document: Document) -> str:
    return (
        f"{document.get_doc_type_display()} {document.quarter_obj} BSNR {document.bsnr} "
        f"(ID {document.pk}, Löschung nach {document.deletion_date:%d.%m.%Y})"
    )


@transaction.atomic
def _purge_one(document: Document, *, now: dt.datetime) -> DeletedDocument:
    tombstone = DeletedDocument.objects.create(
        original_id=document.pk,
        betriebsstaette_id=document.betriebsstaette_id,
        bsnr=document.betriebsstaette.bsnr,
        lanr=document.lanr,
        quarter=document.quarter,
        doc_type=document.doc_type,
        sha256=document.sha256,
        deletion_date=document.deletion_date,
        deleted_at=now,
    )
    audit.record(
        actor=None,
        activity=Activity.DELETE,
        object_type="documents.document",
        object_id=document.pk,
        object_repr=f"{document.get_doc_type_display()} {document.quarter_obj} (§ 304 SGB V)",
        bsnr=document.betriebsstaette.bsnr,
        username="system",
        detail={"sha256": document.sha256, "deletion_date": document.deletion_date.isoformat()},
    )
    name = document.file.name
    document.delete()
    # The file goes last, inside the transaction: if removing it fails, nothing is committed
    # and the next run tries again; a missing file is not an error.
    if name:
        document.file.storage.delete(name)
    return tombstone

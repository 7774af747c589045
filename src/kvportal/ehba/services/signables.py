# § 36a SGB I: a document counts as signed only with the valid QES of every required signatory;
# documents are frozen when prepared (the original the signatures must start with).
"""The signables registry (apps register from <app>/signing.py) and the signing flow."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kvportal import audit
from kvportal.accounts.models import User
from kvportal.audit.models import Activity
from kvportal.core.storage import private_storage
from kvportal.ehba.models import SignatureDocument, Verdict, VerificationReport
from kvportal.ehba.services.qes import validate_signed_application_pdf
from kvportal.ehba.services.trust import ImproperlyConfiguredTrust, get_trust


class AnyOf(list):
    """Required signers where ONE valid signature of any of them suffices (e.g. the
    Erklärung zur Abrechnung); passed to the validator as a predicate."""

    def __call__(self, signature) -> bool:
        return any(signer.matches(signature) for signer in self)


@dataclass(frozen=True)
class SignableDocumentSpec:
    key: str
    title: str
    render: Callable[[], bytes]


@dataclass
class Signable:
    """How an app's application takes part in QES signing (registered in its ready())."""

    label: str
    #: the application's documents to sign
    documents: Callable[[Any], list[SignableDocumentSpec]]
    #: validation.RequiredSigner list for the application
    required_signers: Callable[[Any], list[Any]]
    #: applications the member may see (selector; scoped)
    queryset_for: Callable[[User], Any]
    #: applications staff may see (None: staff see none)
    staff_queryset_for: Callable[[User], Any] | None = None
    #: called after each accepted upload: on_accepted(actor=, application=, report=)
    on_accepted: Callable[..., None] | None = None
    #: called once when every document carries all required valid signatures
    on_complete: Callable[..., None] | None = None
    #: URL of the application's own page (link back)
    detail_url: Callable[[Any], str] | None = None
    #: may documents still be (re)signed? (e.g. False once the application is decided)
    is_open: Callable[[Any], bool] = lambda obj: True
    #: text of the link on the application's page (default "Mit eHBA qualifiziert signieren")
    link_text: Any = ""


_signables: dict[str, Signable] = {}


def register_signable(model_label: str, signable: Signable) -> None:
    """``model_label`` like "admission.application" (app_label.model_name, lower case)."""
    _signables[model_label.lower()] = signable


def signable_for(model_label: str) -> Signable | None:
    return _signables.get(model_label.lower())


def signables() -> dict[str, Signable]:
    return dict(_signables)


def label_of(obj: models.Model) -> str:
    return obj._meta.label_lower


def _store(path: str, content: bytes) -> str:
    return private_storage.save(path, ContentFile(content))


def read_document(document: SignatureDocument, *, original: bool = False) -> bytes:
    with private_storage.open(document.original_path if original else document.current_path) as fh:
        return fh.read()


def documents_of(application: models.Model):
    return SignatureDocument.objects.filter(
        content_type=ContentType.objects.get_for_model(application),
        object_id=str(application.pk),
    ).order_by("key")


def reports_of(application: models.Model):
    return VerificationReport.objects.filter(
        content_type=ContentType.objects.get_for_model(application),
        object_id=str(application.pk),
    ).prefetch_related("signatures")


@transaction.atomic
def prepare_documents(*, actor: User, application: models.Model) -> list[SignatureDocument]:
    """Freeze the portal PDFs of the application (first time only) as the originals to sign."""
    signable = signable_for(label_of(application))
    if signable is None:
        raise ValidationError(_("Für diesen Antrag ist keine Signatur vorgesehen."))
    ct = ContentType.objects.get_for_model(application)
    existing = {d.key: d for d in documents_of(application)}
    created = []
    for spec in signable.documents(application):
        if spec.key in existing:
            continue
        pdf = spec.render()
        digest = hashlib.sha256(pdf).hexdigest()
        path = _store(
            f"ehba/{ct.app_label}/{ct.model}/{application.pk}/{spec.key}-original.pdf", pdf
        )
        doc = SignatureDocument.objects.create(
            content_type=ct,
            object_id=str(application.pk),
            key=spec.key,
            title=spec.title,
            original_path=path,
            original_sha256=digest,
            current_path=path,
            current_sha256=digest,
        )
        created.append(doc)
    if created:
        audit.record(
            actor=actor,
            activity=Activity.CREATE,
            obj=application,
            detail={"ehba_documents": [d.key for d in created]},
        )
    return current_documents(application)


class UploadRejected(ValidationError):
    """The upload was checked but not taken over; ``report`` holds the Prüfprotokoll."""

    def __init__(self, message: str, report: VerificationReport | None = None):
        super().__init__(message)
        self.report = report


def submit_signed_document(
    *, actor: User, document: SignatureDocument, signed_pdf: bytes, now: dt.datetime | None = None
) -> VerificationReport:
    """Check an uploaded signed PDF; if every signature is valid it becomes the current version.

    Raises UploadRejected (with the stored report where one was made). The report is stored
    even when the upload is rejected (own transaction), so applicant and staff see why."""
    application = document.application
    assert application is not None  # object_id is required: a document has its application
    signable = signable_for(label_of(application))
    if signable is None or not signable.is_open(application):
        raise UploadRejected(_("Dieser Antrag kann nicht mehr signiert werden."))
    if not signed_pdf.startswith(b"%PDF-"):
        raise UploadRejected(_("Die hochgeladene Datei ist keine PDF-Datei."))
    current = read_document(document)
    if signed_pdf == current:
        raise UploadRejected(
            _("Die hochgeladene Datei enthält keine neue Signatur (unveränderte Fassung).")
        )
    if not signed_pdf.startswith(current):
        raise UploadRejected(
            _(
                "Die Datei baut nicht auf der aktuellen Fassung von „%(title)s“ auf – "
                "vermutlich hat inzwischen jemand anderes signiert. Bitte laden Sie die "
                "aktuelle Fassung herunter und signieren Sie erneut."
            )
            % {"title": document.title}
        )
    original = read_document(document, original=True)
    required = signable.required_signers(application)
    try:
        get_trust()
    except ImproperlyConfiguredTrust as exc:
        raise UploadRejected(
            _(
                "Die Signaturprüfung ist in diesem Portal derzeit nicht eingerichtet (keine "
                "Vertrauensanker). Bitte wenden Sie sich an die KV."
            )
        ) from exc
    report = validate_signed_application_pdf(
        actor=actor,
        original_pdf=original,
        signed_pdf=signed_pdf,
        required_signers=required,
        application=application,
        document=document,
        now=now,
    )
    bad = [c for c in report.signatures.all() if c.verdict != "valid"]
    if report.verdict not in (Verdict.VALID, Verdict.INCOMPLETE) or bad:
        codes = {p.get("code") for p in report.problems}
        if "unsigned_revision" in codes:
            raise UploadRejected(
                _(
                    "„%(title)s“: Nach dem vom Portal erzeugten Dokument dürfen nur Signaturen "
                    "folgen. Die Datei enthält nach der letzten Signatur weitere, nicht signierte "
                    "Änderungen oder angehängte Daten und wurde nicht übernommen."
                )
                % {"title": document.title},
                report,
            )
        if "unreadable_signature" in codes:
            raise UploadRejected(
                _(
                    "„%(title)s“: Eine Signatur in der Datei ist beschädigt und kann nicht gelesen "
                    "werden; die Datei wurde nicht übernommen. Bitte signieren Sie die aktuelle "
                    "Fassung erneut."
                )
                % {"title": document.title},
                report,
            )
        if bad and any(p.get("code") == "wrong_signer" for c in bad for p in c.problems):
            raise UploadRejected(
                _(
                    "%(name)s gehört nicht zu den Unterzeichnenden dieses Antrags; die Datei "
                    "wurde nicht übernommen."
                )
                % {"name": bad[0].signer_name or _("Die signierende Person")},
                report,
            )
        raise UploadRejected(
            _("Die Signaturprüfung ist fehlgeschlagen; die Datei wurde nicht übernommen."), report
        )
    _accept(actor=actor, document=document, signed_pdf=signed_pdf, report=report, signable=signable)
    return report


@transaction.atomic
def _accept(*, actor: User, document, signed_pdf, report, signable) -> None:
    doc = SignatureDocument.objects.select_for_update().get(pk=document.pk)
    if doc.current_sha256 != document.current_sha256:
        raise UploadRejected(
            _("Das Dokument wurde gerade von jemand anderem signiert. Bitte erneut versuchen.")
        )
    ct = doc.content_type
    n = report.signatures.count()
    doc.current_path = _store(
        f"ehba/{ct.app_label}/{ct.model}/{doc.object_id}/{doc.key}-signiert-{n}.pdf", signed_pdf
    )
    doc.current_sha256 = report.signed_sha256
    doc.signature_count = n
    doc.complete = report.complete and report.verdict == Verdict.VALID
    doc.updated_at = timezone.now()
    doc.save()
    report.accepted = True
    report.save(update_fields=["accepted"])
    document.__dict__.update(
        {
            k: getattr(doc, k)
            for k in ("current_path", "current_sha256", "signature_count", "complete", "updated_at")
        }
    )
    application = doc.application
    assert application is not None  # object_id is required: a document has its application
    audit.record(
        actor=actor,
        activity=Activity.SUBMIT,
        obj=application,
        detail={"ehba_document": doc.key, "signatures": n, "complete": doc.complete},
    )
    if signable.on_accepted:
        signable.on_accepted(actor=actor, application=application, report=report)
    if application_complete(application) and signable.on_complete:
        signable.on_complete(actor=actor, application=application)


def current_documents(application: models.Model) -> list[SignatureDocument]:
    """The prepared documents of the application's current content (earlier versions of a
    re-opened application keep their reports but no longer count)."""
    signable = signable_for(label_of(application))
    docs = list(documents_of(application))
    if signable is None:
        return docs
    keys = [spec.key for spec in signable.documents(application)]
    return sorted((d for d in docs if d.key in keys), key=lambda d: keys.index(d.key))


def application_complete(application: models.Model) -> bool:
    docs = current_documents(application)
    return bool(docs) and all(d.complete for d in docs)

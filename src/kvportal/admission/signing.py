# § 36a SGB I / Ärzte-ZV § 18: the QES of each signatory replaces the handwritten signature; a
# signatory's confirmation is marked "qes" only for a valid signature the validator matched to
# exactly that signatory, uploaded from the signatory's own account.
"""The admission application as a signable of the eHBA signing pages (registered in ready())."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.urls import reverse

from kvportal.accounts import scope
from kvportal.accounts.constants import StaffRole
from kvportal.admission import pdfs, selectors
from kvportal.admission import services as admission_services
from kvportal.admission.models import Application, GeneratedFile, Signatory
from kvportal.admission.rules.lifecycle import State
from kvportal.core.storage import private_storage
from kvportal.ehba import services as ehba

if TYPE_CHECKING:
    from kvportal.accounts.models import User
    from kvportal.cardlib.validation import RequiredSigner
    from kvportal.ehba.models import VerificationReport

log = logging.getLogger(__name__)

LABEL = "admission.application"
#: Signatures can be added from submission until the committee decides.
SIGNABLE_STATES = frozenset(
    {
        State.EINGEREICHT,
        State.VOLLSTAENDIG,
        State.NACHFORDERUNG,
        State.GEBUEHR_ANGEFORDERT,
        State.GEBUEHR_BEZAHLT,
        State.GEBUEHR_GESTUNDET,
        State.TERMINIERT,
    }
)


def _signer_label(signatory: Signatory) -> str:
    return f"{signatory.role_label}: {signatory.name}"


def _read(path: str) -> bytes:
    with private_storage.open(path) as fh:
        return fh.read()


def documents(application: Application) -> list[ehba.SignableDocumentSpec]:
    """The PDFs the portal produced at submission (Antrag, Anlage 1 where needed)."""
    specs = []
    for kind, title, render in (
        (GeneratedFile.Kind.ANTRAG, "Antrag", pdfs.application_pdf),
        (GeneratedFile.Kind.ANLAGE1, "Anlage 1", pdfs.anlage1_pdf),
    ):
        stored = application.files.filter(kind=kind).order_by("-created_at", "-id").first()
        if stored is None and kind != GeneratedFile.Kind.ANTRAG:
            continue

        def produce(stored=stored, render=render) -> bytes:
            return _read(stored.path) if stored is not None else render(application)

        # the content hash in the key: a re-opened and changed application is signed anew
        key = f"{kind}-{(application.content_sha256 or 'entwurf')[:12]}"
        specs.append(ehba.SignableDocumentSpec(key, f"{title} {application.reference}", produce))
    return specs


def required_signers(application: Application) -> list[RequiredSigner]:
    return [
        ehba.required_signer(name=s.name, lanr=s.lanr, label=_signer_label(s))
        for s in application.signatories.all()
    ]


def staff_queryset(user: User) -> QuerySet[Application]:
    if scope.is_staff_role(user, StaffRole.ZULASSUNG):
        # drafts belong to the practice until submitted (like admission's own staff pages)
        return selectors.staff_inbox()
    return Application.objects.none()


def accepted(*, actor: User | None, application: Application, report: VerificationReport) -> None:
    """Mark the confirmation of every signatory whose valid signature was accepted."""
    by_label = {_signer_label(s): s for s in application.signatories.all()}
    for check in report.signatures.filter(verdict="valid"):
        signatory = by_label.get(check.matched_signer)
        if signatory is None or signatory.confirmation is not None:
            continue
        if signatory.user_id != (actor.pk if actor is not None else None):
            # admission.confirm accepts QES only from the signatory's own account; the
            # signature stays in the PDF and the Prüfprotokoll (see docs/ehba.md).
            continue
        try:
            admission_services.confirm(
                actor=actor,
                signatory=signatory,
                method="qes",
                evidence={
                    "ehba_report": report.pk,
                    "document": report.document_title,
                    "certificate_sha256": check.certificate_fingerprint,
                    "telematik_id": check.telematik_id,
                    "signing_time": check.signing_time.isoformat() if check.signing_time else "",
                },
            )
        except admission_services.AdmissionError as exc:
            log.info("QES confirmation not recorded for signatory %s: %s", signatory.pk, exc)


def register() -> None:
    ehba.register_signable(
        LABEL,
        ehba.Signable(
            label="Antrag an den Zulassungsausschuss",
            documents=documents,
            required_signers=required_signers,
            queryset_for=selectors.applications,
            staff_queryset_for=staff_queryset,
            on_accepted=accepted,
            detail_url=lambda app: reverse("admission:detail", args=[app.pk]),
            is_open=lambda app: app.state in SIGNABLE_STATES,
        ),
    )

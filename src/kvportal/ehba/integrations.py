# § 36a SGB I / Ärzte-ZV § 18: the QES of each signatory replaces the handwritten signature the
# seeds demand; a signatory's confirmation is marked "qes" only for a valid signature that the
# validator matched to exactly that signatory.
"""QES adapters for the apps whose applications need signatures (registered in ready()).

Each adapter describes the application's documents, who must sign, who may see it, and what
happens when a signatory's valid signature was accepted (its confirmation gets method "qes")."""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps as django_apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.urls import NoReverseMatch, reverse

from kvportal.accounts import scope
from kvportal.accounts.constants import StaffRole
from kvportal.ehba import services

log = logging.getLogger(__name__)

ADMISSION_LABEL = "admission.application"
ACCESS_LABEL = "access.accessapplication"
BILLING_LABEL = "billing.submission"
#: Signatures can be added from submission until the committee decides.
ADMISSION_OPEN_STATES = (
    "eingereicht",
    "vollstaendig",
    "nachforderung",
    "gebuehr_angefordert",
    "gebuehr_bezahlt",
    "gebuehr_gestundet",
    "terminiert",
)


def _url(name: str, *args: Any) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def _person_for_lanr(lanr: str):
    from kvportal.members.models import Person

    return Person.objects.filter(lanr=lanr).first() if lanr else None


def _read(path: str) -> bytes:
    from kvportal.core.storage import private_storage

    with private_storage.open(path) as fh:
        return fh.read()


# --- admission (Zulassungsausschuss) ------------------------------------------------------------


def _admission_signer_label(signatory) -> str:
    return f"{signatory.role_label}: {signatory.name}"


def admission_documents(application) -> list[services.SignableDocumentSpec]:
    """The PDFs the portal produced at submission (Antrag, Anlage 1 where needed)."""
    from kvportal.admission import pdfs
    from kvportal.admission.models import GeneratedFile

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
        specs.append(
            services.SignableDocumentSpec(key, f"{title} {application.reference}", produce)
        )
    return specs


def admission_required(application) -> list:
    return [
        services.required_signer(
            name=s.name,
            person=_person_for_lanr(s.lanr),
            label=_admission_signer_label(s),
        )
        for s in application.signatories.all()
    ]


def admission_queryset(user):
    from kvportal.admission import selectors

    return selectors.applications(user)


def admission_staff_queryset(user):
    from kvportal.admission.models import Application

    if scope.is_staff_role(user, StaffRole.ZULASSUNG):
        # drafts belong to the practice until submitted (like admission's own staff pages)
        return Application.objects.exclude(state="entwurf")
    return Application.objects.none()


def admission_accepted(*, actor, application, report) -> None:
    """Mark the confirmation of every signatory whose valid signature was accepted."""
    from kvportal.admission import services as admission_services

    by_label = {_admission_signer_label(s): s for s in application.signatories.all()}
    for check in report.signatures.filter(verdict="valid"):
        signatory = by_label.get(check.matched_signer)
        if signatory is None or signatory.confirmation is not None:
            continue
        if signatory.user_id != getattr(actor, "pk", None):
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


def admission_signable() -> services.Signable:
    return services.Signable(
        label="Antrag an den Zulassungsausschuss",
        documents=admission_documents,
        required_signers=admission_required,
        queryset_for=admission_queryset,
        staff_queryset_for=admission_staff_queryset,
        on_accepted=admission_accepted,
        detail_url=lambda app: _url("admission:detail", app.pk),
        is_open=lambda app: app.state in ADMISSION_OPEN_STATES,
    )


# --- access: Antrag auf Online-Zugang (seed 000) --------------------------------------------------


def _access_label(person) -> str:
    from kvportal.access import rules

    role = rules.ROLE_LABELS.get(person.role, str(person.role))
    return f"{role}: {person.first_name} {person.last_name}".strip()


def access_documents(application) -> list[services.SignableDocumentSpec]:
    from kvportal.access.pdf import application_pdf

    key = f"antrag-{(application.fingerprint or 'entwurf')[:12]}"
    return [
        services.SignableDocumentSpec(
            key, f"Antrag {application.reference}", lambda: application_pdf(application)
        )
    ]


def access_required(application) -> list:
    from kvportal.access import rules

    return [
        services.required_signer(
            given_name=p.first_name,
            surname=p.last_name,
            person=_person_for_lanr(p.lanr),
            label=_access_label(p),
        )
        for p in rules.required_confirmations(application.to_rules())
    ]


def access_queryset(user):
    from kvportal.access.models import AccessApplication

    mine = Q(created_by_id=user.pk)
    lanr = getattr(getattr(user, "person", None), "lanr", "")
    if lanr:
        mine |= Q(persons__lanr=lanr, status="bestaetigung")
    return AccessApplication.objects.filter(mine).distinct()


def access_staff_queryset(user):
    from kvportal.access.models import AccessApplication

    if scope.is_staff_role(user, StaffRole.ARZTREGISTER):
        return AccessApplication.objects.exclude(status="entwurf")
    return AccessApplication.objects.none()


def access_accepted(*, actor, application, report) -> None:
    """Mark each matched person's open confirmation with method "qes" (access service)."""
    from kvportal.access import rules
    from kvportal.access import services as access_services
    from kvportal.access.models import Confirmation

    confirm = getattr(access_services, "confirm_with_qes", None)
    if confirm is None:  # the access app does not offer QES confirmations (yet)
        return
    keys = {
        _access_label(p): rules.person_key(p)
        for p in rules.required_confirmations(application.to_rules())
    }
    for check in report.signatures.filter(verdict="valid"):
        key = keys.get(check.matched_signer)
        conf = (
            Confirmation.objects.filter(
                application=application,
                person_key=key,
                fingerprint=application.fingerprint,
                confirmed_at__isnull=True,
            ).first()
            if key
            else None
        )
        if conf is None:
            continue
        try:
            confirm(
                actor=actor,
                confirmation=conf,
                evidence={
                    "ehba_report": report.pk,
                    "certificate_sha256": check.certificate_fingerprint,
                    "telematik_id": check.telematik_id,
                    "signer": check.signer_name,
                },
            )
        except (ValidationError, PermissionDenied) as exc:
            log.info("QES confirmation not recorded for %s: %s", key, exc)


def access_signable() -> services.Signable:
    return services.Signable(
        label="Antrag auf Online-Zugang zum Mitgliederportal",
        documents=access_documents,
        required_signers=access_required,
        queryset_for=access_queryset,
        staff_queryset_for=access_staff_queryset,
        on_accepted=access_accepted,
        detail_url=lambda app: _url("access:status", app.reference),
        is_open=lambda app: app.status == "bestaetigung",
    )


# --- billing: Erklärung zur Abrechnung ----------------------------------------------------------


def billing_documents(submission) -> list[services.SignableDocumentSpec]:
    from kvportal.billing import services as billing_services
    from kvportal.core.pdf import render_pdf

    quarter = submission.quarter_obj
    practice = submission.betriebsstaette

    def render() -> bytes:
        return render_pdf(
            "ehba/pdf/erklaerung.html",
            {
                "practice": practice,
                "quarter": quarter,
                "submission": submission,
                "text": billing_services.DECLARATION_TEXT.format(
                    bsnr=practice.bsnr, quarter=quarter
                ),
            },
        )

    return [
        services.SignableDocumentSpec(
            f"erklaerung-{quarter.slug}",
            f"Erklärung zur Abrechnung {practice.bsnr} {quarter}",
            render,
        )
    ]


def billing_entitled(submission) -> list:
    """Signature-entitled doctors of the BSNR (Vertragsarzt/Gesellschafter, Ärztlicher Leiter);
    one valid signature by any of them suffices."""
    from kvportal.members.constants import SIGNATURE_ROLES
    from kvportal.members.models import Taetigkeit

    rows = (
        Taetigkeit.objects.active()
        .filter(betriebsstaette=submission.betriebsstaette, role__in=SIGNATURE_ROLES)
        .select_related("person")
    )
    return [
        services.required_signer(
            person=t.person,
            label=f"{t.get_role_display()}: {t.person.first_name} {t.person.last_name}",
        )
        for t in rows
    ]


def billing_required(submission):
    entitled = billing_entitled(submission)
    return services.AnyOf(entitled)


def billing_queryset(user):
    from kvportal.billing import selectors

    return selectors.submissions_for(user)


def billing_staff_queryset(user):
    from kvportal.billing.models import Submission

    if scope.is_staff_role(user, StaffRole.ABRECHNUNG):
        return Submission.objects.all()
    return Submission.objects.none()


def billing_open(submission) -> bool:
    from kvportal.billing import selectors

    return selectors.declaration_for(submission.betriebsstaette, submission.quarter_obj) is None


def billing_accepted(*, actor, application, report) -> None:
    """The uploader's own valid QES gives the declaration (it is personal, like signing)."""
    from kvportal.billing import services as billing_services

    person = getattr(actor, "person", None)
    if person is None:
        return
    for check in report.signatures.filter(verdict="valid"):
        given, surname = services.split_name(check.signer_name)
        if not services.names_match(
            card_given=given,
            card_surname=surname,
            given=person.first_name,
            surname=person.last_name,
        ):
            continue
        try:
            billing_services.give_declaration(
                actor=actor,
                betriebsstaette=application.betriebsstaette,
                quarter=application.quarter_obj,
                method="qes",
                evidence={
                    "ehba_report": report.pk,
                    "certificate_sha256": check.certificate_fingerprint,
                    "telematik_id": check.telematik_id,
                },
            )
        except billing_services.Refused as exc:
            log.info("QES declaration not given: %s", exc)
        return


def billing_signable() -> services.Signable:
    return services.Signable(
        label="Erklärung zur Abrechnung",
        documents=billing_documents,
        required_signers=billing_required,
        queryset_for=billing_queryset,
        staff_queryset_for=billing_staff_queryset,
        on_accepted=billing_accepted,
        detail_url=lambda sub: _url("billing:detail", sub.pk),
        is_open=billing_open,
    )


# --- registration -------------------------------------------------------------------------------


def register_all() -> None:
    """Register the adapters of the installed apps whose models exist."""
    adapters = [
        ("admission", ("Application", "GeneratedFile"), ADMISSION_LABEL, admission_signable),
        ("access", ("AccessApplication",), ACCESS_LABEL, access_signable),
        ("billing", ("Declaration",), BILLING_LABEL, billing_signable),
    ]
    for app, models, label, signable in adapters:
        if not django_apps.is_installed(f"kvportal.{app}"):
            continue
        try:
            for model in models:
                django_apps.get_model(app, model)
        except LookupError:
            continue
        services.register_signable(label, signable())

# Seed 000/001, § 36a SGB I: a person's QES on the Antrag auf Online-Zugang counts as that person's
# confirmation only for a valid signature the validator matched to exactly that person.
"""The access application as a signable of the eHBA signing pages (registered in ready())."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.urls import reverse

from kvportal.access import pdf, rules
from kvportal.access import services as access_services
from kvportal.access.models import AccessApplication, Confirmation
from kvportal.accounts import scope
from kvportal.accounts.constants import StaffRole
from kvportal.ehba import services as ehba

if TYPE_CHECKING:
    from kvportal.accounts.models import User
    from kvportal.cardlib.validation import RequiredSigner
    from kvportal.ehba.models import VerificationReport

log = logging.getLogger(__name__)

LABEL = "access.accessapplication"


def _signer_label(person: rules.Person) -> str:
    role = rules.ROLE_LABELS.get(person.role, str(person.role))
    return f"{role}: {person.first_name} {person.last_name}".strip()


def documents(application: AccessApplication) -> list[ehba.SignableDocumentSpec]:
    key = f"antrag-{(application.fingerprint or 'entwurf')[:12]}"
    return [
        ehba.SignableDocumentSpec(
            key, f"Antrag {application.reference}", lambda: pdf.application_pdf(application)
        )
    ]


def required_signers(application: AccessApplication) -> list[RequiredSigner]:
    return [
        ehba.required_signer(
            given_name=p.first_name, surname=p.last_name, lanr=p.lanr, label=_signer_label(p)
        )
        for p in rules.required_confirmations(application.to_rules())
    ]


def queryset(user: User) -> QuerySet[AccessApplication]:
    """The member's own applications and those waiting for the member's confirmation."""
    mine = Q(created_by_id=user.pk)
    lanr = getattr(getattr(user, "person", None), "lanr", "")
    if lanr:
        mine |= Q(persons__lanr=lanr, status=rules.Status.BESTAETIGUNG)
    return AccessApplication.objects.filter(mine).distinct()


def staff_queryset(user: User) -> QuerySet[AccessApplication]:
    if scope.is_staff_role(user, StaffRole.ARZTREGISTER):
        return AccessApplication.objects.exclude(status=rules.Status.ENTWURF)
    return AccessApplication.objects.none()


def accepted(
    *, actor: User | None, application: AccessApplication, report: VerificationReport
) -> None:
    """Mark each matched person's open confirmation with method "qes"."""
    keys = {
        _signer_label(p): rules.person_key(p)
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
            access_services.confirm_with_qes(
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


def register() -> None:
    ehba.register_signable(
        LABEL,
        ehba.Signable(
            label="Antrag auf Online-Zugang zum Mitgliederportal",
            documents=documents,
            required_signers=required_signers,
            queryset_for=queryset,
            staff_queryset_for=staff_queryset,
            on_accepted=accepted,
            detail_url=lambda app: reverse("access:status", args=[app.reference]),
            is_open=lambda app: app.status == rules.Status.BESTAETIGUNG,
        ),
    )

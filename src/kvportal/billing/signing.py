# Seed 001 (Erklärung zur Abrechnung): the declaration is personal; one valid QES by a
# signature-entitled doctor of the BSNR (Vertragsarzt/Gesellschafter, Ärztlicher Leiter) gives it.
"""The billing declaration as a signable of the eHBA signing pages (registered in ready())."""

from __future__ import annotations

import logging

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kvportal.accounts import scope
from kvportal.accounts.constants import StaffRole
from kvportal.billing import selectors
from kvportal.billing import services as billing_services
from kvportal.billing.models import Submission
from kvportal.core import pdf
from kvportal.ehba import services as ehba
from kvportal.members.constants import SIGNATURE_ROLES
from kvportal.members.models import Taetigkeit

log = logging.getLogger(__name__)

LABEL = "billing.submission"


def documents(submission: Submission) -> list[ehba.SignableDocumentSpec]:
    quarter = submission.quarter_obj
    practice = submission.betriebsstaette

    def render() -> bytes:
        return pdf.render_pdf(
            "billing/pdf/erklaerung_qes.html",
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
        ehba.SignableDocumentSpec(
            f"erklaerung-{quarter.slug}",
            f"Erklärung zur Abrechnung {practice.bsnr} {quarter}",
            render,
        )
    ]


def entitled(submission: Submission) -> list:
    """Signature-entitled doctors of the BSNR; one valid signature by any of them suffices."""
    rows = (
        Taetigkeit.objects.active()
        .filter(betriebsstaette=submission.betriebsstaette, role__in=SIGNATURE_ROLES)
        .select_related("person")
    )
    return [
        ehba.required_signer(
            person=t.person,
            label=f"{t.get_role_display()}: {t.person.first_name} {t.person.last_name}",
        )
        for t in rows
    ]


def staff_queryset(user):
    if scope.is_staff_role(user, StaffRole.ABRECHNUNG):
        return selectors.staff_submissions()
    return Submission.objects.none()


def is_open(submission: Submission) -> bool:
    return selectors.declaration_for(submission.betriebsstaette, submission.quarter_obj) is None


def qes_evidence(report, person) -> dict | None:
    """Evidence of the first valid signature in an eHBA report made by `person` (card holder
    name = the person's name), or None. Shared by every personal declaration signed with the
    eHBA (billing declaration, eSE)."""
    if person is None:
        return None
    for check in report.signatures.filter(verdict="valid"):
        given, surname = ehba.split_name(check.signer_name)
        if ehba.names_match(
            card_given=given,
            card_surname=surname,
            given=person.first_name,
            surname=person.last_name,
        ):
            return {
                "ehba_report": report.pk,
                "certificate_sha256": check.certificate_fingerprint,
                "telematik_id": check.telematik_id,
            }
    return None


def accepted(*, actor, application: Submission, report) -> None:
    """The uploader's own valid QES gives the declaration (it is personal, like signing)."""
    evidence = qes_evidence(report, getattr(actor, "person", None))
    if evidence is None:
        return
    try:
        billing_services.give_declaration(
            actor=actor,
            betriebsstaette=application.betriebsstaette,
            quarter=application.quarter_obj,
            method="qes",
            evidence=evidence,
        )
    except billing_services.Refused as exc:
        log.info("QES declaration not given: %s", exc)


def register() -> None:
    ehba.register_signable(
        LABEL,
        ehba.Signable(
            label="Erklärung zur Abrechnung",
            documents=documents,
            required_signers=lambda submission: ehba.AnyOf(entitled(submission)),
            queryset_for=selectors.submissions_for,
            staff_queryset_for=staff_queryset,
            on_accepted=accepted,
            detail_url=lambda sub: reverse("billing:detail", args=[sub.pk]),
            is_open=is_open,
            link_text=_("Stattdessen mit eHBA qualifiziert signieren (QES)"),
        ),
    )

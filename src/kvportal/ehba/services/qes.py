# § 36a SGB I: a QES upload is accepted only when every signature verifies against the trusted
# qualified CA and the signer is a required signatory.
"""QES verification of an uploaded PDF and the stored Prüfprotokoll."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from kvportal import audit
from kvportal.accounts.models import User
from kvportal.audit.models import Activity
from kvportal.ehba.models import (
    CardRegistration,
    SignatureCheck,
    SignatureDocument,
    Verdict,
    VerificationReport,
)
from kvportal.ehba.services.trust import get_trust


def required_signer(
    *,
    given_name: str = "",
    surname: str = "",
    telematik_id: str = "",
    label: str = "",
    name: str = "",
    person: Any = None,
    lanr: str = "",
):
    """Build a validation.RequiredSigner from a registry Person (or the Person with ``lanr``),
    separate names or one name.

    A registry person's active eHBA registration supplies the Telematik-ID."""
    from kvportal.cardlib import validation

    if person is None and lanr:
        from kvportal.members.models import Person

        person = Person.objects.filter(lanr=lanr).first()
    if person is not None:
        given_name = given_name or person.first_name
        surname = surname or person.last_name
        if not telematik_id:
            reg = CardRegistration.objects.active().filter(person=person).first()
            telematik_id = reg.telematik_id if reg else ""
    elif name and not surname:
        given_name, surname = split_name(name)
    return validation.RequiredSigner(
        given_name=given_name, surname=surname, telematik_id=telematik_id, label=label
    )


_TITLES = {
    "dr.",
    "med.",
    "dr",
    "prof.",
    "prof",
    "dipl.-psych.",
    "dipl.",
    "psych.",
    "mult.",
    "rer.",
    "nat.",
    "phil.",
    "habil.",
    "dent.",
    "pd",
    "m.sc.",
    "b.sc.",
}


def split_name(name: str) -> tuple[str, str]:
    """ "Dr. med. Erika Muster" → ("Erika", "Muster"); "Muster, Erika" → ("Erika", "Muster")."""
    if "," in name:
        surname, given = (p.strip() for p in name.split(",", 1))
        return given, surname
    words = [w for w in name.split() if w.casefold() not in _TITLES]
    if not words:
        return "", ""
    if len(words) == 1:
        return "", words[0]
    return " ".join(words[:-1]), words[-1]


def _aware(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return value


def _problem_texts(problems: Sequence[Any]) -> list[dict[str, str]]:
    out = []
    for problem in problems:
        if isinstance(problem, dict):
            out.append(
                {"code": str(problem.get("code", "")), "message": str(problem.get("message", ""))}
            )
        else:
            code, message = problem
            out.append({"code": str(code), "message": str(message)})
    return out


@transaction.atomic
def validate_signed_application_pdf(
    *,
    actor: User | None,
    original_pdf: bytes,
    signed_pdf: bytes,
    required_signers: Sequence[Any],
    application: models.Model,
    document: SignatureDocument | None = None,
    document_title: str = "",
    accepted: bool = False,
    now: dt.datetime | None = None,
) -> VerificationReport:
    """Validate every signature of ``signed_pdf`` (pyHanko via ehba.validation) and store the
    Prüfprotokoll linked to ``application``.

    Checks: original bytes unchanged, each signature intact, signer certificate a QES
    certificate of the trusted qualified CA, not revoked at signing time, signer one of
    ``required_signers`` (validation.RequiredSigner, see :func:`required_signer`)."""
    from kvportal.cardlib import validation

    trust = get_trust()
    result = validation.validate_pdf_signatures(
        signed_pdf,
        original=original_pdf,
        trust_roots=trust.qes_roots,
        revocation_check=trust.revocation_check,
        now=now,
        required_signers=(
            required_signers if callable(required_signers) else list(required_signers)
        ),
    )
    verdict = result.verdict if result.verdict in Verdict.values else Verdict.INDETERMINATE
    raw = result.to_dict()
    missing = [
        getattr(s, "label", "")
        or f"{getattr(s, 'given_name', '')} {getattr(s, 'surname', '')}".strip()
        for s in result.missing_signers
    ]
    all_problems: list[dict[str, str]] = _problem_texts(result.problems)
    for sig in result.signatures:
        all_problems.extend(_problem_texts(sig.problems))
    report = VerificationReport.objects.create(
        content_type=ContentType.objects.get_for_model(application),
        object_id=str(application.pk),
        document=document,
        document_title=document_title or (document.title if document else ""),
        actor=actor if getattr(actor, "pk", None) else None,
        signed_sha256=hashlib.sha256(signed_pdf).hexdigest(),
        original_sha256=hashlib.sha256(original_pdf).hexdigest(),
        verdict=verdict,
        complete=bool(result.complete),
        accepted=accepted,
        missing_signers=missing,
        problems=all_problems,
        raw=raw,
    )
    for position, sig in enumerate(result.signatures):
        revocation = sig.revocation or {}
        matched = sig.matched_signer or {}
        SignatureCheck.objects.create(
            report=report,
            position=position,
            field_name=sig.field_name or "",
            signer_name=sig.signer_name or "",
            telematik_id=sig.telematik_id or "",
            signing_time=_aware(sig.signing_time),
            certificate_path=list(sig.certificate_path or []),
            certificate_fingerprint=sig.certificate_fingerprint or "",
            issuer=sig.issuer or "",
            revocation_status=revocation.get("status") or "",
            revoked_at=_aware(revocation.get("revoked_at")),
            revocation_source=revocation.get("source") or "",
            matched_signer=(
                matched.get("label")
                or f"{matched.get('given_name', '')} {matched.get('surname', '')}".strip()
            ),
            verdict=sig.verdict,
            problems=_problem_texts(sig.problems),
        )
    audit.record(
        actor=actor,
        activity=Activity.SIGN,
        obj=application,
        object_repr=f"{report.document_title or application}"[:300],
        detail={
            "ehba_report": report.pk,
            "verdict": verdict,
            "signatures": len(result.signatures),
            "missing": len(missing),
        },
    )
    return report

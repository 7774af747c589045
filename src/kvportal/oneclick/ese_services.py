# Seed 001 / issue 14 defect 2 (Erklärung zur Abrechnung): the declaration is personal, given by a
# signature-entitled doctor of the BSNR, and refers to an accepted submission; the eSE is given
# by a valid QES (portal) or by the eHBA-signed KIM delivery of that doctor.
"""The eSE in the portal: produce it (XML + PDF/A), sign it with the eHBA (signable
`oneclick.sammelerklaerung`) and accept it when it arrives over KIM."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from kvportal import audit
from kvportal.audit.models import Activity
from kvportal.billing import selectors as billing_selectors
from kvportal.billing import services as billing
from kvportal.billing.models import Submission, SubmissionState
from kvportal.core.storage import private_storage
from kvportal.oneclick import ese
from kvportal.oneclick.models import EseChannel, Sammelerklaerung

log = logging.getLogger(__name__)

LABEL = "oneclick.sammelerklaerung"


class EseRefused(Exception):
    def __init__(self, texts: list[str]):
        self.texts = texts
        super().__init__(" ".join(texts))


def profile() -> ese.Profile:
    value = settings.ONECLICK_ESE_PROFILE
    if value not in ese.PROFILES:
        raise ImproperlyConfigured(
            f"KVPORTAL_ONECLICK_ESE_PROFILE = „{value}“ ist kein eSE-Profil "
            f"(möglich: {', '.join(ese.PROFILES)})."
        )
    return ese.PROFILES[value]


def _case_count(submission: Submission) -> int | None:
    stats = (submission.report or {}).get("stats") or {}
    for key in ("cases", "faelle", "cases_total"):
        if isinstance(stats.get(key), int):
            return stats[key]
    return None


def document_for(*, actor: Any, submission: Submission) -> ese.EseDocument:
    practice, quarter, person = submission.betriebsstaette, submission.quarter_obj, actor.person
    return ese.EseDocument(
        profile=profile(),
        quarter=quarter,
        lanr=person.lanr,
        bsnr=practice.bsnr,
        given_name=person.first_name,
        family_name=person.last_name,
        title=person.title,
        fachgruppe=person.fachgebiet,
        practice_name=practice.name,
        postal_code=getattr(practice, "postal_code", "") or "",
        city=getattr(practice, "city", "") or "",
        created=timezone.localdate(),
        declaration_texts=(billing.declaration_text(practice, quarter),),
        case_count=_case_count(submission),
    )


def _check_declarable(actor: Any, submission: Submission) -> None:
    practice, quarter = submission.betriebsstaette, submission.quarter_obj
    if not billing.may_declare(actor, practice):
        raise EseRefused(
            [
                "Die Sammelerklärung geben nur unterschriftsberechtigte Ärztinnen und Ärzte der "
                f"Betriebsstätte {practice.bsnr} ab (Vertragsarzt/Gesellschafter, Ärztliche "
                "Leitung)."
            ]
        )
    if billing.accepted_submission(practice, quarter) != submission or (
        submission.state != SubmissionState.ACCEPTED
    ):
        raise EseRefused(
            [
                f"Die Sammelerklärung für {practice.bsnr}, Quartal {quarter}, bezieht sich auf "
                "eine angenommene Abrechnung; diese Einreichung ist nicht die angenommene."
            ]
        )
    existing = billing_selectors.declaration_for(practice, quarter)
    if existing is not None:
        raise EseRefused(
            [
                f"Für {practice.bsnr}, Quartal {quarter}, wurde die Erklärung zur Abrechnung "
                f"bereits am {timezone.localtime(existing.given_at):%d.%m.%Y} von "
                f"{existing.given_by_name} abgegeben."
            ]
        )


def _save(
    *, actor: Any, submission: Submission, data: bytes, doc: ese.EseDocument, channel: str
) -> Sammelerklaerung:
    digest = hashlib.sha256(data).hexdigest()
    name = ese.filename(doc)
    path = private_storage.save(
        f"oneclick/ese/{submission.betriebsstaette.bsnr}/{digest}.xml", ContentFile(data)
    )
    obj = Sammelerklaerung.objects.create(
        submission=submission,
        profile=doc.profile.kv_number,
        lanr=doc.lanr,
        channel=channel,
        xml_path=path,
        xml_sha256=digest,
        filename=name,
        created_by=actor,
    )
    audit.record(
        actor=actor,
        activity=Activity.CREATE,
        obj=obj,
        bsnr=submission.betriebsstaette.bsnr,
        detail={"event": "oneclick.ese", "channel": channel, "quarter": str(doc.quarter)},
    )
    return obj


@transaction.atomic
def create(*, actor: Any, submission: Submission) -> Sammelerklaerung:
    """Produce the eSE for an accepted submission (the actor declares; QES follows)."""
    _check_declarable(actor, submission)
    open_ = Sammelerklaerung.objects.filter(
        submission=submission, lanr=actor.person.lanr, declaration__isnull=True
    ).first()
    if open_ is not None:
        return open_
    doc = document_for(actor=actor, submission=submission)
    return _save(
        actor=actor,
        submission=submission,
        data=ese.build(doc),
        doc=doc,
        channel=EseChannel.PORTAL,
    )


def download_xml(*, actor: Any, obj: Sammelerklaerung) -> bytes:
    """The eSE XML for the member (scope checked by the caller's selector); access-logged."""
    data = read_xml(obj)
    with transaction.atomic():
        audit.record(
            actor=actor,
            activity=Activity.DOWNLOAD,
            obj=obj,
            bsnr=obj.submission.betriebsstaette.bsnr,
            detail={"event": "oneclick.ese_xml"},
        )
    return data


def read_xml(obj: Sammelerklaerung) -> bytes:
    with private_storage.open(obj.xml_path, "rb") as fh:
        return fh.read()


def render_pdf(obj: Sammelerklaerung) -> bytes:
    """PDF/A rendering of the eSE (own template; the KBV XSL-FO needs Apache FOP, not used)."""
    from kvportal.core import pdf

    doc = ese.parse(read_xml(obj))
    return pdf.render_pdf(
        "oneclick/pdf/ese.html",
        {"doc": doc, "ese": obj, "submission": obj.submission},
    )


def _give(*, actor: Any, obj: Sammelerklaerung, method: str, evidence: dict):
    declaration = billing.give_declaration(
        actor=actor,
        betriebsstaette=obj.submission.betriebsstaette,
        quarter=obj.submission.quarter_obj,
        method=method,
        evidence={"ese": obj.pk, "ese_sha256": obj.xml_sha256, **evidence},
    )
    Sammelerklaerung.objects.filter(pk=obj.pk).update(declaration=declaration)
    return declaration


# --- signable: QES with the eHBA -------------------------------------------------------------


def _signable_documents(obj: Sammelerklaerung):
    from kvportal.ehba import services as ehba

    return [
        ehba.SignableDocumentSpec(
            "ese", f"Elektronische Sammelerklärung {obj.filename}", lambda: render_pdf(obj)
        )
    ]


def _required(obj: Sammelerklaerung):
    from kvportal.billing import signing
    from kvportal.ehba import services as ehba

    return ehba.AnyOf(signing.entitled(obj.submission))


def _queryset_for(user):
    from kvportal.oneclick import selectors

    return selectors.sammelerklaerungen(user)


def _on_accepted(*, actor, application: Sammelerklaerung, report) -> None:
    """The declarer's own valid QES on the eSE PDF gives the declaration."""
    from kvportal.billing.signing import qes_evidence

    person = getattr(actor, "person", None)
    if person is None or person.lanr != application.lanr:
        return
    evidence = qes_evidence(report, person)
    if evidence is None:
        return
    try:
        with transaction.atomic():
            _give(actor=actor, obj=application, method="qes", evidence=evidence)
    except billing.Refused as exc:
        log.info("eSE declaration not given: %s", exc)


def register_signable() -> None:
    from django.urls import reverse

    from kvportal.ehba import services as ehba

    ehba.register_signable(
        LABEL,
        ehba.Signable(
            label="Elektronische Sammelerklärung (eSE)",
            documents=_signable_documents,
            required_signers=_required,
            queryset_for=_queryset_for,
            on_accepted=_on_accepted,
            detail_url=lambda obj: reverse("billing:detail", args=[obj.submission_id]),
            is_open=lambda obj: obj.declaration_id is None,
            link_text="Elektronische Sammelerklärung mit eHBA signieren (QES)",
        ),
    )


# --- over KIM ----------------------------------------------------------------------------------


def pdf_name_for(xml_name: str) -> str:
    """The signed PDF rendering that travels with `ese_….xml`: `ese_….pdf`."""
    return xml_name[:-4] + ".pdf"


def _pdf_text(pdf: bytes) -> str:
    """The PDF's text without white space (a hash may be broken across lines)."""
    from io import BytesIO

    from pypdf import PdfReader

    try:
        reader = PdfReader(BytesIO(pdf), strict=False)
        return "".join("".join((page.extract_text() or "").split()) for page in reader.pages)
    except Exception:  # any parser error: the caller says the PDF does not bind the XML
        return ""


def check_qes_pdf(*, pdf: bytes, name: str, xml: bytes, doc: ese.EseDocument, cards) -> dict:
    """Re-check the qualified signature of the eSE's PDF rendering on receipt (§ 126a BGB: the
    declaration is given by the QES of the doctor it names): every signature valid (pyHanko),
    the signer is that doctor (name and Telematik-ID of a registered eHBA), a C.HP.QES chaining
    to the QES trust anchors, not revoked; the PDF names the XML's SHA-256 (binds the XML).
    Returns the evidence; raises EseRefused with the German reasons."""
    from kvportal.cardlib import validation
    from kvportal.ehba.services.trust import ImproperlyConfiguredTrust, get_trust

    person = cards[0].person if cards else None
    head = f"Die qualifizierte Signatur der Sammelerklärung „{name}“ ist nicht gültig:"
    try:
        trust = get_trust()
    except ImproperlyConfiguredTrust as exc:
        raise EseRefused(
            [head, "Die QES kann derzeit nicht geprüft werden (Vertrauensanker der KV fehlen)."]
        ) from exc
    required = [
        validation.RequiredSigner(
            given_name=person.first_name,
            surname=person.last_name,
            telematik_id=card.telematik_id,
            label=f"LANR {doc.lanr}",
        )
        for card in cards
    ]
    report = validation.validate_pdf_signatures(
        pdf,
        original=None,
        trust_roots=trust.qes_roots,
        revocation_check=trust.revocation_check,
        required_signers=lambda sig: any(r.matches(sig) for r in required),
    )
    reasons = [p["message"] for p in report.problems]
    for sig in report.signatures:
        who = sig.signer_name or "unbekannt"
        reasons += [f"Signatur von {who}: {p['message']}" for p in sig.problems]
    if report.verdict == "valid" and not report.valid_signatures:
        reasons.append(validation.PROBLEMS_DE["no_signatures"])
    if reasons or report.verdict != "valid":
        if any(p["code"] == "wrong_signer" for s in report.signatures for p in s.problems):
            reasons.append(
                f"Signieren muss die erklärende Ärztin / der erklärende Arzt mit der LANR "
                f"{doc.lanr} mit dem im Portal registrierten eHBA."
            )
        raise EseRefused([head, *(dict.fromkeys(reasons) or [report.verdict_de])])
    digest = hashlib.sha256(xml).hexdigest()
    if digest not in _pdf_text(pdf).lower():
        raise EseRefused(
            [
                head,
                f"Das PDF nennt nicht den SHA-256-Hashwert der eSE-Datei ({digest}); die "
                "Signatur bindet die XML-Datei daher nicht.",
            ]
        )
    signature = report.valid_signatures[0]
    return {
        "qes_pdf_sha256": hashlib.sha256(pdf).hexdigest(),
        "qes_signer": signature.signer_name,
        "qes_telematik_id": signature.telematik_id,
        "certificate_sha256": signature.certificate_fingerprint,
        "revocation": signature.revocation.get("status", ""),
        "pdf": pdf,  # stored by accept_kim_ese, not part of the evidence
    }


def check_kim_ese(
    *,
    data: bytes,
    practice,
    signer_telematik_id: str,
    pdf: bytes | None = None,
    name: str = "",
) -> tuple[Any, ese.EseDocument, dict]:
    """(member account of the declaring doctor, document, QES evidence) or EseRefused (German).

    Decision: the declaration is personal, so an eSE over KIM must come in a mail signed with
    the eHBA of the doctor it names (the signer's Telematik-ID is their registered card); an
    SMC-B signature names only the practice. When the signed PDF rendering (`ese_….pdf`)
    travels with it, its QES is re-checked here (`check_qes_pdf`) and a failure refuses."""
    from kvportal.ehba.models import CardRegistration
    from kvportal.oneclick.intake import _member_account

    try:
        doc = ese.parse(data)
    except ese.EseError as exc:
        raise EseRefused(["Die Sammelerklärung (eSE) ist fehlerhaft:", *exc.texts]) from exc
    if doc.profile != profile():
        raise EseRefused(
            [
                f"Die eSE ist an die {doc.profile.kv_name} gerichtet (KV-Nummer "
                f"{doc.profile.kv_number}); diese KV nimmt das Profil {profile().kv_number} an."
            ]
        )
    if doc.bsnr != practice.bsnr:
        raise EseRefused(
            [f"Die eSE nennt die BSNR {doc.bsnr}, die Lieferung gilt der BSNR {practice.bsnr}."]
        )
    card = (
        CardRegistration.objects.active()
        .filter(telematik_id=signer_telematik_id.strip())
        .select_related("person")
        .first()
        if signer_telematik_id.strip()
        else None
    )
    if card is None or card.person.lanr != doc.lanr:
        raise EseRefused(
            [
                f"Die Sammelerklärung ist persönlich: Die Nachricht muss mit dem im Portal "
                f"registrierten eHBA der Ärztin / des Arztes mit der LANR {doc.lanr} signiert "
                "sein (eine Signatur mit der SMC-B genügt nicht)."
            ]
        )
    user = _member_account(card.person)
    if user is None or not billing.may_declare(user, practice):
        raise EseRefused(
            [
                f"Die LANR {doc.lanr} ist für die Betriebsstätte {practice.bsnr} nicht "
                "unterschriftsberechtigt (Vertragsarzt/Gesellschafter, Ärztliche Leitung)."
            ]
        )
    evidence: dict = {}
    if pdf is not None:
        cards = list(
            CardRegistration.objects.active().filter(person=card.person).select_related("person")
        )
        evidence = check_qes_pdf(
            pdf=pdf, name=name or "ese.pdf", xml=data, doc=doc, cards=cards or [card]
        )
    return user, doc, evidence


@transaction.atomic
def accept_kim_ese(
    *,
    user: Any,
    doc: ese.EseDocument,
    data: bytes,
    submission: Submission,
    signer: str,
    qes: dict | None = None,
) -> Sammelerklaerung:
    """Store an eSE from KIM for `submission`; it gives the declaration now if the submission is
    the accepted one, else when billing accepts it (`on_check_done`). `qes`: the evidence of the
    re-checked QES of its PDF (`check_qes_pdf`), if one came with it."""
    obj = _save(actor=user, submission=submission, data=data, doc=doc, channel=EseChannel.KIM)
    if qes:
        pdf = qes.pop("pdf", b"")
        path = private_storage.save(
            f"oneclick/ese/{submission.betriebsstaette.bsnr}/{obj.xml_sha256}.pdf",
            ContentFile(pdf),
        )
        Sammelerklaerung.objects.filter(pk=obj.pk).update(qes_evidence=qes, qes_pdf_path=path)
        obj.qes_evidence, obj.qes_pdf_path = qes, path
    if submission.state == SubmissionState.ACCEPTED:
        _check_declarable(user, submission)
        _give(actor=user, obj=obj, method="kim", evidence={"telematik_id": signer, **(qes or {})})
    return obj


def on_check_done(kind: str, pk: int) -> None:
    """billing.hooks listener: an eSE that came with the file takes effect on acceptance."""
    if kind != "submission":
        return
    for obj in Sammelerklaerung.objects.filter(
        submission_id=pk, channel=EseChannel.KIM, declaration__isnull=True
    ).select_related("submission", "created_by"):
        if obj.submission.state != SubmissionState.ACCEPTED or obj.created_by is None:
            continue
        try:
            with transaction.atomic():
                _check_declarable(obj.created_by, obj.submission)
                _give(actor=obj.created_by, obj=obj, method="kim", evidence=obj.qes_evidence or {})
        except (EseRefused, billing.Refused) as exc:
            log.info("eSE %s not given on acceptance: %s", obj.pk, exc)

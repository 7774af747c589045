# § 38 Ärzte-ZV (fee before dealing, deemed withdrawal), § 46 Ärzte-ZV (fees), § 41 Ärzte-ZV.
"""The Geschäftsstelle: Nachforderung, fees, sessions, scheduling, decision."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from kvportal import audit
from kvportal.admission import pdfs
from kvportal.admission.models import (
    Application,
    Attachment,
    CommitteeSession,
    GeneratedFile,
    Nachforderung,
    Outcome,
)
from kvportal.admission.rules.hours import parse_factor, parse_hours, weekly_hours
from kvportal.admission.rules.lifecycle import (
    EVENT_LABELS,
    Context,
    Event,
    State,
    fee_expired,
)
from kvportal.admission.rules.text import fmt_money
from kvportal.admission.services.common import (
    AdmissionError,
    _applicant_emails,
    _audit,
    _history,
    _lock,
    _log_event,
    _notify,
    _store_generated,
    _transition,
)
from kvportal.audit.models import Activity
from kvportal.core.registry import PurgeResult
from kvportal.members.constants import Role
from kvportal.members.models import Taetigkeit

# --- Nachforderung -------------------------------------------------------------------------

if TYPE_CHECKING:
    from kvportal.accounts.models import User


@transaction.atomic(durable=True)
def request_documents(
    *, actor: User, application: Application, text: str, due_date: dt.date | None = None
) -> Nachforderung:
    application = _lock(application)
    if not text.strip():
        raise AdmissionError("Bitte beschreiben Sie, was nachgefordert wird.")
    before = _transition(application, Event.REQUEST_DOCUMENTS)
    application.resume_state = before
    application.save()
    item = Nachforderung.objects.create(
        application=application, text=text.strip(), due_date=due_date, requested_by=actor
    )
    entry = _log_event(
        application, Event.REQUEST_DOCUMENTS, actor=actor, before=before, note=text.strip()
    )
    _audit(actor, application, Activity.STAFF_ACTION, event="nachforderung")
    _notify(
        f"event:{entry.pk}",
        _applicant_emails(application),
        f"Nachforderung zu Antrag {application.reference}",
        "Die Geschäftsstelle des Zulassungsausschusses benötigt weitere Angaben oder "
        "Unterlagen. Bitte melden Sie sich im Portal an (Meine Anträge).",
    )
    return item


@transaction.atomic(durable=True)
def answer_nachforderung(*, actor: User, application: Application, answer: str) -> Application:
    application = _lock(application)
    item = application.nachforderungen.filter(answered_at__isnull=True).last()
    if item is None:
        raise AdmissionError("Es liegt keine offene Nachforderung vor.")
    if (
        not answer.strip()
        and not application.attachments.filter(
            kind=Attachment.Kind.NACHREICHUNG, uploaded_at__gte=item.requested_at
        ).exists()
    ):
        raise AdmissionError(
            "Bitte antworten Sie oder laden Sie die nachgeforderte Unterlage hoch."
        )
    before = _transition(
        application, Event.ANSWER, Context(resume_state=State(application.resume_state))
    )
    application.resume_state = ""
    application.save()
    item.answer, item.answered_by, item.answered_at = answer.strip(), actor, timezone.now()
    item.save()
    _log_event(application, Event.ANSWER, actor=actor, before=before, note=answer.strip())
    _audit(actor, application, Activity.UPDATE, event="answer")
    return application


# --- fees ---------------------------------------------------------------------------------------


@transaction.atomic
def request_fee(*, actor: User, application: Application, deadline: dt.date) -> Application:
    application = _lock(application)
    fee = application.fee_amount
    if fee is None:  # set at submission; without it the request letter cannot name an amount
        raise AdmissionError(
            "Für diesen Antrag ist keine Antragsgebühr festgesetzt; sie kann nicht angefordert "
            "werden."
        )
    before = _transition(
        application,
        Event.REQUEST_FEE,
        Context(today=timezone.localdate(), fee_deadline=deadline),
    )
    application.fee_deadline = deadline
    application.fee_requested_at = timezone.now()
    application.save()
    _store_generated(application, GeneratedFile.Kind.GEBUEHR, pdfs.fee_request_pdf(application))
    entry = _history(
        application,
        actor=actor,
        event=Event.REQUEST_FEE,
        label=f"{EVENT_LABELS[Event.REQUEST_FEE]}: {fmt_money(fee)} bis {deadline:%d.%m.%Y}",
        before=before,
    )
    _audit(actor, application, Activity.STAFF_ACTION, event="request_fee", deadline=str(deadline))
    _notify(
        f"event:{entry.pk}",
        _applicant_emails(application),
        f"Gebührenanforderung zu Antrag {application.reference}",
        f"Für den Antrag {application.reference} ist eine Gebühr von "
        f"{fmt_money(fee)} "
        f"bis zum {deadline:%d.%m.%Y} zu zahlen. Wird sie nicht fristgerecht gezahlt, gilt der "
        "Antrag als zurückgenommen (§ 38 Ärzte-ZV). Die Anforderung finden Sie im Portal.",
    )
    return application


@transaction.atomic
def book_payment(
    *, actor: User, application: Application, paid_on: dt.date, reference: str = ""
) -> Application:
    application = _lock(application)
    if paid_on > timezone.localdate():
        raise AdmissionError("Das Zahlungsdatum darf nicht in der Zukunft liegen.")
    before = _transition(
        application,
        Event.BOOK_PAYMENT,
        Context(today=timezone.localdate(), fee_deadline=application.fee_deadline, paid_on=paid_on),
    )
    application.fee_paid_on = paid_on
    application.fee_payment_ref = reference.strip()[:100]
    application.save()
    _history(
        application,
        actor=actor,
        event=Event.BOOK_PAYMENT,
        label=f"{EVENT_LABELS[Event.BOOK_PAYMENT]} (Zahlung vom {paid_on:%d.%m.%Y})",
        before=before,
    )
    _audit(actor, application, Activity.STAFF_ACTION, event="book_payment", paid_on=str(paid_on))
    return application


@transaction.atomic(durable=True)
def defer_fee(*, actor: User, application: Application, note: str = "") -> Application:
    application = _lock(application)
    before = _transition(application, Event.DEFER_FEE)
    application.fee_deferred_at = timezone.now()
    application.save()
    _log_event(application, Event.DEFER_FEE, actor=actor, before=before, note=note)
    _audit(actor, application, Activity.STAFF_ACTION, event="defer_fee")
    return application


def expire_unpaid_fees(*, now: dt.datetime, dry_run: bool = False) -> PurgeResult:
    """§ 38 Ärzte-ZV: unpaid after the deadline → the application counts as withdrawn.
    Registered as a periodic job (idempotent)."""
    today = timezone.localdate(now)
    result = PurgeResult(name="zulassung_gebuehrenfrist")
    candidates = Application.objects.filter(state=State.GEBUEHR_ANGEFORDERT, fee_deadline__lt=today)
    for application in candidates:
        if not fee_expired(
            state=State(application.state), fee_deadline=application.fee_deadline, today=today
        ):
            continue
        result.count += 1
        result.items.append(application.reference)
        if not dry_run:
            _expire_one(application.pk, today)
    return result


@transaction.atomic(durable=True)
def _expire_one(pk: int, today: dt.date) -> None:
    application = Application.objects.select_for_update().get(pk=pk)
    if application.state != State.GEBUEHR_ANGEFORDERT:
        return
    before = _transition(
        application, Event.FEE_EXPIRED, Context(today=today, fee_deadline=application.fee_deadline)
    )
    application.save()
    entry = _log_event(application, Event.FEE_EXPIRED, actor=None, before=before)
    _audit(None, application, Activity.UPDATE, event="fee_expired")
    _notify(
        f"event:{entry.pk}",
        _applicant_emails(application),
        f"Antrag {application.reference} gilt als zurückgenommen",
        "Die Gebühr wurde nicht innerhalb der gesetzten Frist gezahlt. Der Antrag gilt nach "
        "§ 38 Ärzte-ZV als zurückgenommen.",
    )


# --- sessions, scheduling, decision -------------------------------------------------------------


@transaction.atomic(durable=True)
def create_session(
    *,
    actor: User,
    bezirk: str,
    committee: str,
    date: dt.date,
    deadline: dt.date | None = None,
    location: str = "",
) -> CommitteeSession:
    if CommitteeSession.objects.filter(bezirk=bezirk, committee=committee, date=date).exists():
        raise AdmissionError(
            "Für diesen Tag ist in Bezirk und Ausschuss schon eine Sitzung angelegt."
        )
    if deadline and deadline >= date:
        raise AdmissionError("Der Annahmeschluss muss vor dem Sitzungstag liegen.")
    session = CommitteeSession.objects.create(
        bezirk=bezirk, committee=committee, date=date, deadline=deadline, location=location
    )
    audit.record(actor=actor, activity=Activity.CREATE, obj=session, object_repr=str(session))
    return session


@transaction.atomic
def schedule(*, actor: User, application: Application, session: CommitteeSession) -> Application:
    application = _lock(application)
    if session.bezirk != application.bezirk or session.committee != application.committee:
        raise AdmissionError("Die Sitzung gehört zu einem anderen Bezirk oder Ausschuss.")
    if session.date < timezone.localdate():
        raise AdmissionError("Die Sitzung liegt in der Vergangenheit.")
    before = _transition(application, Event.SCHEDULE)
    application.session = session
    application.save()
    entry = _history(
        application,
        actor=actor,
        event=Event.SCHEDULE,
        label=f"{EVENT_LABELS[Event.SCHEDULE]}: Sitzung am {session.date:%d.%m.%Y}",
        before=before,
    )
    _audit(actor, application, Activity.STAFF_ACTION, event="schedule", session=session.pk)
    _notify(
        f"event:{entry.pk}",
        _applicant_emails(application),
        f"Antrag {application.reference} terminiert",
        f"Der Zulassungsausschuss berät über Ihren Antrag in seiner Sitzung am "
        f"{session.date:%d.%m.%Y}.",
    )
    return application


def _update_registry(*, actor: User, application: Application) -> bool:
    """On approval the employee counts with the new factor from the effective date."""
    from kvportal.members.services import change_anrechnungsfaktor

    data = application.data
    factor = parse_factor(data.get("factor_to"))
    effective = application.effective_date
    if factor is None or effective is None:
        return False
    work = (
        Taetigkeit.objects.active(effective)
        .filter(
            betriebsstaette=application.betriebsstaette,
            person__lanr=application.employee_lanr,
            role=Role.ANGESTELLT,
        )
        .first()
    ) or (
        Taetigkeit.objects.active()
        .filter(
            betriebsstaette=application.betriebsstaette,
            person__lanr=application.employee_lanr,
            role=Role.ANGESTELLT,
        )
        .first()
    )
    if work is None:
        return False
    hours = parse_hours(data.get("hours"))
    weekly = weekly_hours(hours, per_month=data.get("hours_unit") == "monat") if hours else None
    change_anrechnungsfaktor(
        actor=actor, taetigkeit=work, factor=factor, weekly_hours=weekly, effective=effective
    )
    application.registry_updated_at = timezone.now()
    return True


def _publish_decision(actor: User, application: Application, content: bytes) -> str:
    """Place the Beschluss in the practice's documents (documents app), for the BSNR and the
    employee's LANR. Returns a note for the history."""
    from kvportal.core.quarters import Quarter
    from kvportal.documents.models import DocType
    from kvportal.documents.services import DocumentError, publish_document

    try:
        with transaction.atomic():
            publish_document(
                actor=actor,
                betriebsstaette=application.betriebsstaette,
                quarter=Quarter.of(application.decided_on or timezone.localdate()),
                doc_type=DocType.BESCHLUSS,
                title=f"Beschluss Zulassungsausschuss {application.reference}",
                content=content,
                lanr=application.employee_lanr or None,
            )
    except DocumentError as exc:
        return f"Beschluss nicht in „Dokumente“ eingestellt: {exc}"
    return "Beschluss unter „Dokumente“ eingestellt."


@transaction.atomic(durable=True)
def decide(
    *, actor: User, application: Application, outcome: str, reasons: str = ""
) -> Application:
    """Beschluss of the session; approval updates the registry from the effective date."""
    application = _lock(application)
    if outcome not in Outcome.values:
        raise AdmissionError("Bitte wählen Sie genehmigt oder abgelehnt.")
    if outcome == Outcome.ABGELEHNT and not reasons.strip():
        raise AdmissionError("Eine Ablehnung muss begründet werden (§ 41 Abs. 4 Ärzte-ZV).")
    event = Event.APPROVE if outcome == Outcome.GENEHMIGT else Event.REJECT
    before = _transition(application, event)
    application.outcome = outcome
    application.decided_on = application.session.date if application.session else None
    application.decision_reasons = reasons.strip()
    registry_note = ""
    if outcome == Outcome.GENEHMIGT:
        if _update_registry(actor=actor, application=application):
            registry_note = "Anrechnungsfaktor im Arztregister ab dem Wirksamkeitsdatum geändert."
        else:
            registry_note = (
                "Im Arztregister wurde keine passende Anstellung gefunden – bitte das "
                "Arztregister manuell aktualisieren."
            )
    application.save()
    content = pdfs.decision_pdf(application)
    _store_generated(application, GeneratedFile.Kind.BESCHLUSS, content)
    registry_note = " ".join(
        p for p in (registry_note, _publish_decision(actor, application, content)) if p
    )
    # issue 14: the reasons of a rejection are its confirmation — history, audit, notification
    reason = application.decision_reasons if event == Event.REJECT else ""
    entry = _log_event(
        application, event, actor=actor, before=before, note=registry_note, reason=reason
    )
    detail = {"outcome": outcome, **({"reason": reason} if reason else {})}
    _audit(actor, application, Activity.DECISION, **detail)
    told = (
        f"Der Zulassungsausschuss hat Ihren Antrag abgelehnt.\n\nGründe: {reason}\n\n"
        if reason
        else "Der Zulassungsausschuss hat über Ihren Antrag entschieden. "
    )
    _notify(
        f"event:{entry.pk}",
        _applicant_emails(application),
        f"Beschluss zu Antrag {application.reference}",
        f"{told}Den Beschluss finden Sie im Portal unter „Meine Anträge“.",
    )
    return application


@transaction.atomic(durable=True)
def finalize(*, actor: User, application: Application, final_on: dt.date) -> Application:
    """The decision became final; where due, the administrative fee is invoiced."""
    application = _lock(application)
    if application.decided_on and final_on < application.decided_on:
        raise AdmissionError("Die Rechtskraft kann nicht vor dem Beschluss eintreten.")
    before = _transition(application, Event.FINALIZE)
    application.final_on = final_on
    invoice = application.outcome == Outcome.GENEHMIGT and bool(application.admin_fee_amount)
    if invoice:
        application.admin_fee_invoiced_at = timezone.now()
    application.save()
    if invoice:
        _store_generated(
            application, GeneratedFile.Kind.VERWALTUNGSGEBUEHR, pdfs.admin_fee_pdf(application)
        )
    _log_event(
        application,
        Event.FINALIZE,
        actor=actor,
        before=before,
        note=f"Verwaltungsgebühr {fmt_money(application.admin_fee_amount)} in Rechnung gestellt."
        if invoice and application.admin_fee_amount  # invoice implies an amount
        else "",
    )
    _audit(actor, application, Activity.STAFF_ACTION, event="finalize", invoice=invoice)
    return application


@transaction.atomic(durable=True)
def delete_session(*, actor: User, session: CommitteeSession, reason: str = "") -> None:
    """Remove a session that no application is assigned to (e.g. entered by mistake); the
    reason of the deletion (issue 14) is kept in the audit event."""
    session = CommitteeSession.objects.select_for_update().get(pk=session.pk)
    if session.applications.exists():
        raise AdmissionError(
            "Der Sitzung sind Anträge zugeordnet; bitte diese zuerst einer anderen Sitzung "
            "zuordnen."
        )
    audit.record(
        actor=actor,
        activity=Activity.DELETE,
        obj=session,
        object_repr=str(session),
        detail={"reason": reason.strip()} if reason.strip() else None,
    )
    session.delete()

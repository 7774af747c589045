"""The PDFs of the admission app (WeasyPrint via kvportal.core.pdf.render_pdf)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils import timezone

from kvportal.admission import display
from kvportal.admission.rules.fees import compute_fees
from kvportal.admission.rules.hours import band_for, parse_factor, parse_hours, weekly_hours
from kvportal.admission.rules.text import fmt_date, fmt_decimal, fmt_money
from kvportal.core.pdf import render_pdf

if TYPE_CHECKING:
    from kvportal.admission.models import Application, CommitteeSession


def _base(application: Application) -> dict[str, Any]:
    t = application.app_type
    data = application.data
    factor_to = parse_factor(data.get("factor_to"))
    factor_from = parse_factor(data.get("factor_from"))
    hours = parse_hours(data.get("hours"))
    weekly = weekly_hours(hours, per_month=data.get("hours_unit") == "monat") if hours else None
    fees = compute_fees(t.fee_rule, data.get(t.mode_field))
    return {
        "application": application,
        "type": t,
        "data": data,
        "sections": display.display_sections(t, data),
        "committee_label": display.committee_label(application.committee),
        "bezirk_label": display.bezirk_label(application.bezirk),
        "factor_from": fmt_decimal(factor_from) if factor_from else "–",
        "factor_to": fmt_decimal(factor_to) if factor_to else "–",
        "weekly_hours": fmt_decimal(weekly) if weekly is not None else "–",
        "band": band_for(factor_to).describe() if factor_to else "",
        "effective": fmt_date(application.effective_date) if application.effective_date else "–",
        "fees": fees,
        "fee_amount": fmt_money(application.fee_amount) if application.fee_amount else "",
        "admin_fee_amount": fmt_money(application.admin_fee_amount)
        if application.admin_fee_amount
        else "",
        "fee_deadline": fmt_date(application.fee_deadline) if application.fee_deadline else "",
        "mode_label": t.choice_label(t.mode_field, data.get(t.mode_field)) if t.mode_field else "",
        "notices": [n.text for n in t.notices if n.when.holds(data, {})],
        "signatories": list(application.signatories.all()),
        "attachments": list(application.attachments.all()),
        "anlage1": display.anlage1_rows(data),
        "today": fmt_date(timezone.localdate()),
        "session_date": fmt_date(application.session.date) if application.session else "",
        "decided_on": fmt_date(application.decided_on) if application.decided_on else "",
    }


def application_pdf(application: Application) -> bytes:
    return render_pdf("admission/pdf/application.html", _base(application))


def anlage1_pdf(application: Application) -> bytes:
    return render_pdf("admission/pdf/anlage1.html", _base(application))


def fee_request_pdf(application: Application) -> bytes:
    return render_pdf("admission/pdf/fee_request.html", _base(application))


def decision_pdf(application: Application) -> bytes:
    return render_pdf("admission/pdf/decision.html", _base(application))


def admin_fee_pdf(application: Application) -> bytes:
    return render_pdf("admission/pdf/admin_fee.html", _base(application))


def agenda_pdf(session: CommitteeSession) -> bytes:
    applications = session.applications.order_by("created_at")
    rows = []
    for number, application in enumerate(applications, start=1):
        ctx = _base(application)
        rows.append(
            {
                "number": number,
                "reference": application.reference,
                "applicant": application.data.get("applicant_name", ""),
                "bsnr": application.bsnr,
                "employee": application.employee_name,
                "title": application.app_type.short_title,
                "change": f"{ctx['factor_from']} → {ctx['factor_to']}",
                "effective": ctx["effective"],
                "state": application.get_state_display(),
            }
        )
    return render_pdf(
        "admission/pdf/agenda.html",
        {
            "session": session,
            "date": fmt_date(session.date),
            "rows": rows,
            "committee_label": display.committee_label(session.committee),
            "bezirk_label": display.bezirk_label(session.bezirk),
        },
    )

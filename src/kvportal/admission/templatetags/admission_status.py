"""Stepper of the admission application's detail page (with dates)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import template

from kvportal.core.steps import Step, build_steps

if TYPE_CHECKING:
    from kvportal.admission.models import Application

register = template.Library()

#: state -> the stage it belongs to
STAGE_OF = {
    "entwurf": "entwurf",
    "eingereicht": "eingereicht",
    "vollstaendig": "vollstaendig",
    "nachforderung": "vollstaendig",
    "gebuehr_angefordert": "gebuehr",
    "gebuehr_bezahlt": "terminiert",
    "gebuehr_gestundet": "terminiert",
    "terminiert": "beschluss",
    "genehmigt": "rechtskraft",
    "abgelehnt": "rechtskraft",
    "rechtskraeftig": "",
}


@register.simple_tag
def admission_steps(application: Application) -> list[Step]:
    state = application.state
    session_date = application.session.date if application.session is not None else None
    paid = application.fee_paid_on or (
        application.fee_deferred_at.date() if application.fee_deferred_at else None
    )
    stages = [
        ("entwurf", "Antrag ausgefüllt", application.created_at),
        ("eingereicht", "Bestätigungen", application.submitted_at),
        ("vollstaendig", "Eingang und Prüfung", application.received_at),
        ("gebuehr", "Antragsgebühr", paid),
        ("terminiert", "Sitzung des Ausschusses", session_date),
        ("beschluss", "Beschluss", application.decided_on),
        ("rechtskraft", "Rechtskraft", application.final_on),
    ]
    if state in ("zurueckgenommen", "gilt_als_zurueckgenommen"):
        current = ""
    else:
        current = STAGE_OF.get(state, "")
    hints = {
        "vollstaendig": "ca. 2 Wochen",
        "gebuehr": "Zahlung innerhalb der Frist",
        "terminiert": "nächste Sitzung nach Eingang",
        "rechtskraft": "1 Monat nach Zustellung des Beschlusses",
    }
    problem = state in ("nachforderung", "gebuehr_angefordert")
    steps = build_steps(stages, current, problem=problem, hints=hints)
    if state in (
        "zurueckgenommen",
        "gilt_als_zurueckgenommen",
    ):  # ended early: only what happened counts as done
        steps = [Step(s.label, "done" if s.date else "todo", s.date) for s in steps]
    return steps

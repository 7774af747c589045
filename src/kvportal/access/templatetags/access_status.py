"""Stepper of the access application's status page (with dates)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django import template

from kvportal.core.steps import Step, build_steps

if TYPE_CHECKING:
    from kvportal.access.models import AccessApplication

register = template.Library()


@register.simple_tag
def access_steps(app: AccessApplication) -> list[Step]:
    status = app.status
    decided = "abgelehnt" if status == "abgelehnt" else "genehmigt"
    stages: list[tuple[str, str, dt.date | dt.datetime | None]] = [
        ("entwurf", "Antrag ausgefüllt", app.created_at),
        ("bestaetigung", "Bestätigung durch alle Personen", app.sent_for_confirmation_at),
        ("eingereicht", "Prüfung im Arztregister", app.submitted_at),
        (decided, "Entscheidung" if status != "abgelehnt" else "Abgelehnt", app.decided_at),
        ("brief", "Zugangsbriefe per Post", None),
    ]
    current = {
        "nachbesserung": "eingereicht",
        "zurueckgezogen": "",
        "genehmigt": "brief",
        "abgelehnt": "zz-abgelehnt",
    }.get(status, status)
    hints = {
        "eingereicht": "ca. 5 Werktage",
        decided: "",
        "brief": "3–5 Werktage nach der Genehmigung",
    }
    steps = build_steps(stages, current, problem=status == "nachbesserung", hints=hints)
    if status == "abgelehnt":
        steps = steps[:4]
    if status == "zurueckgezogen":  # ended early: only what happened counts as done
        steps = [Step(s.label, "done" if s.date else "todo", s.date) for s in steps]
    return steps

"""`{% arztbrief_counts submission as rows %}`: the counted letters of the submission's doctors
in its quarter, for billing staff's page of a submission (template hook)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag
def arztbrief_counts(submission) -> list[dict]:
    from kvportal.arztbrief import selectors

    return selectors.practice_rows(submission.betriebsstaette, submission.quarter_obj)

# WCAG 1.3.1/3.3.1: errors and help texts are tied to their inputs (aria-describedby, aria-invalid).
"""Render a bound field whose errors come from outside the Django form (e.g. a check run)."""

from __future__ import annotations

from django import template

register = template.Library()


def describedby(bound, errors) -> str:
    """The ids the field's input refers to: its help text and, if any, its error block."""
    ids = []
    if bound.help_text:
        ids.append(f"{bound.auto_id}_helptext")
    if errors:
        ids.append(f"{bound.auto_id}_error")
    return " ".join(ids)


@register.filter
def with_errors(bound, errors):
    """The widget of `bound`, referring to its help text and error ids, invalid if `errors`."""
    attrs = {}
    ids = describedby(bound, errors)
    if ids:
        attrs["aria-describedby"] = ids
    if errors:
        attrs["aria-invalid"] = "true"
    return bound.as_widget(attrs=attrs)


@register.filter
def describedby_ids(bound, errors) -> str:
    return describedby(bound, errors)


@register.filter
def count_errors(items) -> int:
    """Number of messages in a list of dicts with an "errors" list (e.g. attachments)."""
    return sum(len(item.get("errors") or []) for item in items or [])

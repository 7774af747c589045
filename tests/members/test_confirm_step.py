"""core/confirm.py (issue 14): a service's refusal lands in the confirmation form — at the
field a ValidationError names, everything else above the form."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError

from kvportal.core.confirm import add_errors
from kvportal.core.forms import ConfirmReasonForm


def _form() -> ConfirmReasonForm:
    form = ConfirmReasonForm({"reason": "Ein Grund", "confirmed": "on"})
    assert form.is_valid()
    return form


def test_field_errors_land_at_their_field():
    form = _form()
    add_errors(form, ValidationError({"reason": "Zu kurz.", "valid_to": "Unbekannt."}))
    assert form.errors["reason"] == ["Zu kurz."]
    assert form.non_field_errors() == ["Unbekannt."]  # no such field in this form


def test_plain_refusals_land_above_the_form():
    form = _form()
    add_errors(form, PermissionDenied("Dieses Konto gehört nicht zu Ihrer Praxis."))
    assert form.non_field_errors() == ["Dieses Konto gehört nicht zu Ihrer Praxis."]
    form = _form()
    add_errors(form, ValidationError(["Eins.", "Zwei."]))
    assert form.non_field_errors() == ["Eins.", "Zwei."]

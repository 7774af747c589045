"""core/confirm.py (issue 14): a service's refusal lands in the confirmation form — at the
field a ValidationError names, everything else above the form; the decision runs only on a
valid, confirmed POST, and only then comes the success message and the redirect."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError

from kvportal.core.confirm import add_errors, confirm_then_redirect
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


def _request(rf, data=None):
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.messages.storage.cookie import CookieStorage

    request = rf.post("/bestaetigen/", data) if data is not None else rf.get("/bestaetigen/")
    request.user = AnonymousUser()
    request._messages = CookieStorage(request)
    return request


CONFIRM = {
    "title": "Löschen",
    "consequence": "Weg.",
    "consequences": [],
    "action_url": "/bestaetigen/",
    "submit_label": "Löschen",
    "cancel_url": "/zurueck/",
}


def test_confirm_then_redirect_decides_only_on_a_valid_post(rf):
    from django.contrib.messages import get_messages

    decided: list[str] = []

    def step(request):
        return confirm_then_redirect(
            request,
            ConfirmReasonForm(request.POST or None),
            CONFIRM,
            lambda data: decided.append(data["reason"]),
            done="Gelöscht.",
            then="/weiter/",
        )

    assert step(_request(rf)).status_code == 200  # GET: the page
    assert step(_request(rf, {"reason": "Grund"})).status_code == 200  # not confirmed
    assert decided == []
    request = _request(rf, {"reason": "  Ein   Grund ", "confirmed": "on"})
    response = step(request)
    assert (response.status_code, response["Location"]) == (302, "/weiter/")
    assert decided == ["Ein Grund"]
    assert [str(m) for m in get_messages(request)] == ["Gelöscht."]


def test_confirm_then_redirect_shows_a_refusal_instead_of_redirecting(rf):
    def refuse(data):
        raise ValidationError({"reason": "Zu kurz."})

    response = confirm_then_redirect(
        _request(rf, {"reason": "x", "confirmed": "on"}),
        ConfirmReasonForm({"reason": "x", "confirmed": "on"}),
        CONFIRM,
        refuse,
        done="Gelöscht.",
        then="/weiter/",
    )
    assert response.status_code == 200 and "Zu kurz." in response.content.decode()

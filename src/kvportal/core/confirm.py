# Issue 14: destructive decisions are confirmed with a reason (one step for every app).
"""The confirmation step of a destructive decision (refusal, withdrawal, deactivation,
deletion): the page `core/confirm.html` names the consequence, asks for the reason
(`core.forms.ConfirmReasonForm` or a subclass) and an explicit confirmation. The service runs
only on a valid POST; its refusal lands in the form, at the field it names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render


def add_errors(form: forms.Form, exc: Exception) -> None:
    """A service's refusal in the form: a ValidationError's fields at their fields (others and
    plain messages above the form)."""
    error_dict = getattr(exc, "error_dict", None)
    if error_dict:
        for field, errors in error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, getattr(exc, "messages", None) or [str(exc)])


def confirm_step(
    request: HttpRequest,
    form: forms.Form,
    confirm: dict[str, Any],
    decide: Callable[[dict[str, Any]], object],
    *,
    refusals: tuple[type[Exception], ...] = (ValidationError,),
) -> HttpResponse | None:
    """None once `decide(cleaned_data)` has run on a valid POST of the bound `form` (the view
    then redirects); otherwise the confirmation page. `confirm` = {title, consequence,
    consequences, action_url, submit_label, cancel_url}."""
    if request.method == "POST" and form.is_bound and form.is_valid():
        try:
            decide(form.cleaned_data)
        except refusals as exc:
            add_errors(form, exc)
        else:
            return None
    return render(request, "core/confirm.html", {"confirm": confirm, "form": form})


def confirm_then_redirect(
    request: HttpRequest,
    form: forms.Form,
    confirm: dict[str, Any],
    decide: Callable[[dict[str, Any]], object],
    *,
    done: str,
    then: str,
    refusals: tuple[type[Exception], ...] = (ValidationError,),
) -> HttpResponse:
    """`confirm_step`, and once the decision has run the success message `done` and a
    redirect to `then` (a URL)."""
    response = confirm_step(request, form, confirm, decide, refusals=refusals)
    if response is not None:
        return response
    messages.success(request, done)
    return redirect(then)

# Issue 14: terminating a KIM account is a destructive decision — the shared confirmation step
# with the grace period and the explicit confirmation, for the KV (reason required) and for the
# holder (reason optional); the reason goes into the audit event.
"""The termination („Kündigen“) step shared by the holder's account page and the KV's staff
page."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _

from kvportal.core.confirm import confirm_step
from kvportal.core.http import AuthenticatedHttpRequest
from kvportal.kim import rules, services
from kvportal.kim.models import AccountState, KimAccount


def termination_step(
    request: AuthenticatedHttpRequest,
    account: KimAccount,
    *,
    form_class: type[forms.Form],
    confirm: dict,
    done: str,
) -> HttpResponse:
    """The confirmation page, or (confirmed POST) the termination and a redirect to
    `confirm["cancel_url"]`. `confirm` gives title, consequences, action_url, submit_label and
    cancel_url; the consequence with the end of the grace period is added here."""
    back = confirm["cancel_url"]
    if account.state != AccountState.REGISTERED:
        messages.error(request, _("Nur registrierte Konten können gekündigt werden."))
        return redirect(back)
    until = timezone.localtime(rules.deregistration_date(timezone.now()))
    confirm = {
        **confirm,
        "consequence": _(
            "Das Postfach bleibt bis %(date)s abrufbar; danach wird es abgemeldet und nimmt "
            "keine Nachrichten mehr an."
        )
        % {"date": until.strftime("%d.%m.%Y")},
    }
    response = confirm_step(
        request,
        form_class(request.POST if request.method == "POST" else None),
        confirm,
        lambda data: services.deregister_account(
            actor=request.user, account=account, reason=data["reason"]
        ),
        refusals=(ValidationError, PermissionDenied),
    )
    if response is not None:
        return response
    messages.success(request, done)
    return redirect(back)

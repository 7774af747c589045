# Security: KV staff of the Arztregister only (card issuer, account manager); PIN and
# credential letters are generated once per action and never stored.
"""Staff pages: SMC-B orders (/kim/kv/smcb/) and KIM accounts (/kim/kv/konten/)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kvportal import audit
from kvportal.accounts.constants import StaffRole
from kvportal.accounts.decorators import staff_role_required
from kvportal.audit.models import Activity
from kvportal.core.http import AuthenticatedHttpRequest
from kvportal.kim import selectors, services
from kvportal.kim.forms import RefuseForm
from kvportal.kim.models import AccountState, KimAccount, SmcbOrder
from kvportal.kim.services_letters import credentials_pdf, pin_letter_pdf

registry_staff = staff_role_required(StaffRole.ARZTREGISTER)


def _pdf(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@registry_staff
def smcb_orders(request: AuthenticatedHttpRequest) -> HttpResponse:
    state = request.GET.get("status", "open")
    qs = selectors.staff_orders(state)
    audit.record(
        actor=request.user,
        activity=Activity.VIEW,
        object_type="kim.smcborder",
        object_repr="SMC-B-Bestellungen",
    )
    return render(
        request,
        "kim/staff_smcb.html",
        {"orders": qs[:200], "state": state, "refuse_form": RefuseForm()},
    )


@registry_staff
@require_POST
def smcb_decide(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(SmcbOrder, pk=pk)
    action = request.POST.get("action")
    try:
        if action == "confirm":
            services.confirm_order(actor=request.user, order=order)
            messages.success(request, _("Berechtigung bestätigt: %(bsnr)s") % {"bsnr": order.bsnr})
        elif action == "refuse":
            form = RefuseForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("Bitte geben Sie einen Ablehnungsgrund an."))
                return redirect("kim:staff_smcb")
            services.refuse_order(
                actor=request.user, order=order, reason=form.cleaned_data["reason"]
            )
            messages.success(request, _("Bestellung abgelehnt: %(bsnr)s") % {"bsnr": order.bsnr})
        elif action == "issue":
            issued = services.issue_card(actor=request.user, order=order)
            return _pdf(pin_letter_pdf(issued), f"PIN-Brief-{order.bsnr}.pdf")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("kim:staff_smcb")


@registry_staff
def accounts(request: AuthenticatedHttpRequest) -> HttpResponse:
    state = request.GET.get("status", "requested")
    qs = selectors.staff_accounts(state)
    audit.record(
        actor=request.user,
        activity=Activity.VIEW,
        object_type="kim.kimaccount",
        object_repr="KIM-Konten",
    )
    return render(
        request,
        "kim/staff_accounts.html",
        {
            "accounts": qs[:200],
            "state": state,
            "states": AccountState.choices,
            "refuse_form": RefuseForm(),
        },
    )


@registry_staff
@require_POST
def account_decide(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(KimAccount, pk=pk)
    action = request.POST.get("action")
    try:
        if action == "register":
            issued = services.register_account(actor=request.user, account=account)
            return _pdf(credentials_pdf(issued), f"KIM-Zugangsdaten-{account.pk}.pdf")
        if action == "reissue":
            issued = services.reissue_password(actor=request.user, account=account)
            return _pdf(credentials_pdf(issued), f"KIM-Zugangsdaten-{account.pk}.pdf")
        if action == "refuse":
            form = RefuseForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("Bitte geben Sie einen Ablehnungsgrund an."))
                return redirect("kim:staff_accounts")
            services.refuse_account(
                actor=request.user, account=account, reason=form.cleaned_data["reason"]
            )
            messages.success(request, _("Antrag abgelehnt."))
        if action == "deregister":
            services.deregister_account(actor=request.user, account=account)
            messages.success(request, _("Das Konto ist gekündigt (Übergangsfrist läuft)."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("kim:staff_accounts")

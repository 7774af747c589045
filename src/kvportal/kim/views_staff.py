# Security: KV staff of the Arztregister only (card issuer, account manager); PIN and
# credential letters are generated once per action and never stored.
"""Staff pages: SMC-B orders (/kim/kv/smcb/) and KIM accounts (/kim/kv/konten/)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from kvportal import audit
from kvportal.accounts.constants import StaffRole
from kvportal.accounts.decorators import staff_role_required
from kvportal.audit.models import Activity
from kvportal.core.confirm import confirm_step
from kvportal.core.http import AuthenticatedHttpRequest
from kvportal.kim import selectors, services
from kvportal.kim.forms import DeregisterForm, RefuseForm
from kvportal.kim.models import AccountKind, AccountState, KimAccount, OrderState, SmcbOrder
from kvportal.kim.services_letters import credentials_pdf, pin_letter_pdf
from kvportal.kim.views_common import termination_step

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
        {"orders": qs[:200], "state": state},
    )


def _refusal(
    request: HttpRequest,
    *,
    pending: bool,
    confirm: dict,
    refuse: Callable[[str], object],
    done: str,
) -> HttpResponse:
    """The refusal of an order or account request (issue 14): the shared confirmation step
    (consequence, reason, explicit confirmation); once refused, `done` and back to the list."""
    back = confirm["cancel_url"]
    if not pending:
        messages.error(request, _("Hier ist nichts mehr abzulehnen."))
        return redirect(back)
    response = confirm_step(
        request,
        RefuseForm(request.POST if request.method == "POST" else None),
        confirm,
        lambda data: refuse(data["reason"]),
    )
    if response is not None:
        return response
    messages.success(request, done)
    return redirect(back)


def _action(request: HttpRequest, *steps: str) -> tuple[str, HttpResponse | None]:
    """The action of a POST, or of the query string (the confirmation steps' forms post to
    `?action=refuse` / `?action=deregister`); with a 405 for a GET that opens none of `steps`."""
    action = request.POST.get("action") or request.GET.get("action", "")
    if action not in steps and request.method != "POST":
        return action, HttpResponseNotAllowed(["POST"])
    return action, None


@registry_staff
@require_http_methods(["GET", "POST"])
def smcb_decide(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    action, not_allowed = _action(request, "refuse")
    if not_allowed is not None:
        return not_allowed
    order = get_object_or_404(SmcbOrder, pk=pk)
    if action == "refuse":
        confirm = {
            "title": _("SMC-B-Bestellung für BSNR %(bsnr)s ablehnen") % {"bsnr": order.bsnr},
            "consequence": _(
                "Die Bestellung wird nicht bestätigt; es wird keine Karte ausgestellt."
            ),
            "consequences": [
                _("Die Praxis sieht die Ablehnung mit dem Grund auf ihrer KIM-Seite."),
                _("Eine neue Bestellung ist möglich."),
                _("Der Grund wird im Zugriffsprotokoll gespeichert."),
            ],
            "action_url": reverse("kim:staff_smcb_decide", args=[order.pk]) + "?action=refuse",
            "submit_label": _("Bestellung ablehnen"),
            "cancel_url": reverse("kim:staff_smcb"),
        }
        return _refusal(
            request,
            pending=order.state == OrderState.REQUESTED,
            confirm=confirm,
            refuse=lambda reason: services.refuse_order(
                actor=request.user, order=order, reason=reason
            ),
            done=_("Bestellung abgelehnt: %(bsnr)s") % {"bsnr": order.bsnr},
        )
    try:
        if action == "confirm":
            services.confirm_order(actor=request.user, order=order)
            messages.success(request, _("Berechtigung bestätigt: %(bsnr)s") % {"bsnr": order.bsnr})
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
        },
    )


@registry_staff
@require_http_methods(["GET", "POST"])
def account_decide(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    action, not_allowed = _action(request, "refuse", "deregister")
    if not_allowed is not None:
        return not_allowed
    account = get_object_or_404(KimAccount, pk=pk)
    if action == "deregister":
        return _termination(request, account)
    if action == "refuse":
        confirm = {
            "title": _("KIM-Konto %(address)s ablehnen") % {"address": account.address},
            "consequence": _(
                "Das Postfach wird nicht eingerichtet; die gewünschte Adresse wird wieder frei."
            ),
            "consequences": [
                _("Ein neuer Antrag ist möglich."),
                _("Der Grund wird beim Konto und im Zugriffsprotokoll gespeichert."),
            ],
            "action_url": reverse("kim:staff_account_decide", args=[account.pk]) + "?action=refuse",
            "submit_label": _("Antrag ablehnen"),
            "cancel_url": reverse("kim:staff_accounts"),
        }
        return _refusal(
            request,
            pending=account.state == AccountState.REQUESTED,
            confirm=confirm,
            refuse=lambda reason: services.refuse_account(
                actor=request.user, account=account, reason=reason
            ),
            done=_("Antrag abgelehnt."),
        )
    try:
        if action == "register":
            issued = services.register_account(actor=request.user, account=account)
            return _pdf(credentials_pdf(issued), f"KIM-Zugangsdaten-{account.pk}.pdf")
        if action == "reissue":
            issued = services.reissue_password(actor=request.user, account=account)
            return _pdf(credentials_pdf(issued), f"KIM-Zugangsdaten-{account.pk}.pdf")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("kim:staff_accounts")


def _termination(request: AuthenticatedHttpRequest, account: KimAccount) -> HttpResponse:
    """The KV's termination („Kündigen“) of a registered account (issue 14): the shared
    confirmation step with the grace period; its reason is required and audited."""
    back = reverse("kim:staff_accounts")
    if account.kind == AccountKind.PRACTICE:
        holder = _("Die Praxis kann die Kündigung bis dahin zurücknehmen.")
    elif account.kind == AccountKind.SERVICE:
        holder = _(
            "Ein Funktionspostfach der KV: Nachrichten an diese Adresse werden danach nicht "
            "mehr angenommen."
        )
    else:
        holder = _("Die Inhaberin oder der Inhaber kann die Kündigung bis dahin zurücknehmen.")
    confirm = {
        "title": _("KIM-Konto %(address)s kündigen") % {"address": account.address},
        "consequences": [holder, _("Der Grund wird im Zugriffsprotokoll gespeichert.")],
        "action_url": reverse("kim:staff_account_decide", args=[account.pk]) + "?action=deregister",
        "submit_label": _("Konto kündigen"),
        "cancel_url": back,
    }
    return termination_step(
        request,
        account,
        form_class=DeregisterForm,
        confirm=confirm,
        done=_("Das Konto ist gekündigt (Übergangsfrist läuft)."),
    )

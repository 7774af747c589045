# Security: every page reads through selectors/scope (out-of-scope objects are 404); card
# files and letters are downloads written to the access log.
"""KIM pages for members: overview, SMC-B order and activation, KIM accounts, directory
(Kollegensuche) and publication consent."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kvportal import audit
from kvportal.accounts.decorators import member_required
from kvportal.audit.models import Activity
from kvportal.core.http import AuthenticatedHttpRequest
from kvportal.core.storage import private_storage
from kvportal.kim import selectors, services
from kvportal.kim.forms import (
    AccountRequestForm,
    ActivateForm,
    ConsentForm,
    DirectorySearchForm,
    HolderDeregisterForm,
    LimitsForm,
    OutOfOfficeForm,
    PukForm,
    SmcbOrderForm,
)
from kvportal.kim.models import AccountKind, KimAccount, OrderState
from kvportal.kim.views_common import termination_step

DIRECTORY_PAGE = 50


def _apply_errors(form, exc: ValidationError) -> None:
    """Service errors onto the form: at the field when known, else as a form error."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = field if field in form.fields else None
            for error in errors:
                form.add_error(target, error)
    else:
        for message in exc.messages:
            form.add_error(None, message)


@member_required
def overview(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    practices = []
    orders = list(selectors.orders(user))
    cards = list(selectors.cards(user))
    accounts = list(selectors.manageable_accounts(user))
    for practice in selectors.orderable_practices(user).order_by("bsnr"):
        practices.append(
            {
                "practice": practice,
                "orders": [o for o in orders if o.betriebsstaette_id == practice.pk],
                "open_order": next(
                    (
                        o
                        for o in orders
                        if o.betriebsstaette_id == practice.pk
                        and o.state in (OrderState.REQUESTED, OrderState.CONFIRMED)
                    ),
                    None,
                ),
                "cards": [c for c in cards if c.betriebsstaette_id == practice.pk],
                "active_card": next(
                    (c for c in cards if c.betriebsstaette_id == practice.pk and c.is_active),
                    None,
                ),
                "accounts": [
                    a
                    for a in accounts
                    if a.kind == AccountKind.PRACTICE and a.betriebsstaette_id == practice.pk
                ],
                "suggested": services.suggest_address(practice.name),
            }
        )
    personal = [a for a in accounts if a.kind == AccountKind.PERSON]
    return render(
        request,
        "kim/overview.html",
        {
            "practices": practices,
            "personal": personal,
            "can_personal": bool(user.person_id),
            "entry": selectors.own_entry(user),
            "domain": services.kim_domain(),
        },
    )


@member_required
def smcb_order(request: AuthenticatedHttpRequest, bsnr: str) -> HttpResponse:
    practice = get_object_or_404(selectors.orderable_practices(request.user), bsnr=bsnr)
    prefill = services.order_prefill(practice)
    form = SmcbOrderForm(request.POST or None, initial=prefill)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "confirm"}
        try:
            services.order_smcb(actor=request.user, betriebsstaette=practice, **data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(
                request,
                _(
                    "Die SMC-B ist bestellt. Die KV prüft jetzt Ihre Berechtigung "
                    "als Kartenherausgeber."
                ),
            )
            return redirect("kim:overview")
    return render(
        request,
        "kim/smcb_order.html",
        {"form": form, "practice": practice, "telematik_id": prefill["telematik_id"]},
    )


@member_required
def smcb_activate(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    card = get_object_or_404(selectors.cards(request.user), pk=pk, activated_at__isnull=True)
    form = ActivateForm(request.POST or None, prefix="act")
    puk_form = PukForm(prefix="puk")
    if request.method == "POST" and form.is_valid():
        try:
            services.activate_card(
                actor=request.user,
                card=card,
                transport_pin=form.cleaned_data["transport_pin"],
                new_pin=form.cleaned_data["new_pin"],
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
            card.refresh_from_db()
        else:
            messages.success(
                request,
                _(
                    "Die SMC-B ist freigeschaltet; ihr Verschlüsselungszertifikat "
                    "steht im Verzeichnis."
                ),
            )
            return redirect("kim:overview")
    return render(
        request, "kim/smcb_activate.html", {"card": card, "form": form, "puk_form": puk_form}
    )


@member_required
@require_POST
def smcb_unblock(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    card = get_object_or_404(selectors.cards(request.user), pk=pk, activated_at__isnull=True)
    puk_form = PukForm(request.POST, prefix="puk")
    if puk_form.is_valid():
        try:
            services.unblock_pin(actor=request.user, card=card, puk=puk_form.cleaned_data["puk"])
        except ValidationError as exc:
            _apply_errors(puk_form, exc)
            card.refresh_from_db()
        else:
            messages.success(request, _("Die PIN ist entsperrt: Sie haben wieder drei Versuche."))
            return redirect("kim:smcb_activate", pk=card.pk)
    return render(
        request,
        "kim/smcb_activate.html",
        {"card": card, "form": ActivateForm(prefix="act"), "puk_form": puk_form},
    )


@member_required
def smcb_card_file(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The software SMC-B for the local agent (keys encrypted with the practice's PIN)."""
    card = get_object_or_404(selectors.cards(request.user), pk=pk, activated_at__isnull=False)
    with private_storage.open(card.card_file, "rb") as fh:
        data = fh.read()
    audit.record(actor=request.user, activity=Activity.DOWNLOAD, obj=card, detail={"kim": "card"})
    response = HttpResponse(data, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="smcb-{card.iccsn}.json"'
    return response


@member_required
def account_request(request: AuthenticatedHttpRequest, bsnr: str = "") -> HttpResponse:
    practice = None
    if bsnr:
        practice = get_object_or_404(selectors.orderable_practices(request.user), bsnr=bsnr)
        suggestion = services.suggest_address(practice.name)
    else:
        person = request.user.person
        if person is None:
            raise PermissionDenied
        suggestion = services.suggest_address(person.full_name)
    form = AccountRequestForm(
        request.POST or None, initial={"local_part": suggestion.split("@")[0]}
    )
    if request.method == "POST" and form.is_valid():
        try:
            if practice is not None:
                services.request_practice_account(
                    actor=request.user, betriebsstaette=practice, **form.cleaned_data
                )
            else:
                services.request_personal_account(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(
                request,
                _("Das KIM-Postfach ist beantragt. Die Zugangsdaten erhalten Sie per Brief."),
            )
            return redirect("kim:overview")
    return render(
        request,
        "kim/account_request.html",
        {"form": form, "practice": practice, "domain": services.kim_domain()},
    )


@member_required
def account_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(selectors.manageable_accounts(request.user), pk=pk)
    limits_form = LimitsForm(
        initial={
            "max_mail_size": account.max_mail_size,
            "data_time_to_live": account.data_time_to_live,
            "quota": account.quota,
        },
        prefix="lim",
    )
    ooo_form = OutOfOfficeForm(
        initial={
            "active": account.out_of_office_active,
            "start": account.out_of_office_start,
            "end": account.out_of_office_end,
            "message": account.out_of_office_message,
        },
        prefix="ooo",
    )
    if (request.POST.get("action") or request.GET.get("action")) == "deregister":
        return _holder_termination(request, account)
    if request.method == "POST":
        action = request.POST.get("action")
        form: forms.Form | None = None
        try:
            if action == "limits":
                form = limits_form = LimitsForm(request.POST, prefix="lim")
                if form.is_valid():
                    services.update_limits(
                        actor=request.user,
                        account=account,
                        max_mail_size=form.cleaned_data["max_mail_size"],
                        data_time_to_live=form.cleaned_data["data_time_to_live"],
                        quota=account.quota,
                    )
                    messages.success(request, _("Die Grenzwerte sind gespeichert."))
                    return redirect("kim:account", pk=account.pk)
            elif action == "ooo":
                form = ooo_form = OutOfOfficeForm(request.POST, prefix="ooo")
                if form.is_valid():
                    services.update_out_of_office(
                        actor=request.user, account=account, **form.cleaned_data
                    )
                    messages.success(request, _("Die Abwesenheitsnotiz ist gespeichert."))
                    return redirect("kim:account", pk=account.pk)
            elif action == "revoke":
                services.revoke_deregistration(actor=request.user, account=account)
                messages.success(request, _("Die Kündigung ist zurückgenommen."))
                return redirect("kim:account", pk=account.pk)
        except ValidationError as exc:
            if form is not None:
                _apply_errors(form, exc)
            else:
                messages.error(request, " ".join(exc.messages))
        except PermissionDenied as exc:
            messages.error(request, str(exc))
    return render(
        request,
        "kim/account_detail.html",
        {
            "account": account,
            "limits_form": limits_form,
            "ooo_form": ooo_form,
        },
    )


def _holder_termination(request: AuthenticatedHttpRequest, account: KimAccount) -> HttpResponse:
    """The holder's own „Postfach kündigen“: the reason is optional here (the KV's
    termination requires one, views_staff._termination)."""
    back = reverse("kim:account", args=[account.pk])
    confirm = {
        "title": _("KIM-Postfach %(address)s kündigen") % {"address": account.address},
        "consequences": [
            _("Bis dahin können Sie die Kündigung auf dieser Seite zurücknehmen."),
            _("Ein Grund ist freiwillig; wenn Sie einen angeben, wird er protokolliert."),
        ],
        "action_url": back + "?action=deregister",
        "submit_label": _("Postfach kündigen"),
        "cancel_url": back,
    }
    return termination_step(
        request,
        account,
        form_class=HolderDeregisterForm,
        confirm=confirm,
        done=_("Das Postfach ist gekündigt; es bleibt bis zum Ende der Frist nutzbar."),
    )


@member_required
def directory(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Kollegensuche: search the directory, KIM addresses ready to copy."""
    form = DirectorySearchForm(request.GET or None)
    results = []
    searched = False
    if form.is_valid() and any(form.cleaned_data.values()):
        searched = True
        qs = selectors.search_directory(
            text=form.cleaned_data["q"],
            specialty=form.cleaned_data["specialty"],
            city=form.cleaned_data["city"],
            telematik_id=form.cleaned_data["telematik_id"],
        )[: DIRECTORY_PAGE + 1]
        results = [{"entry": e, "addresses": selectors.addresses_of(e)} for e in qs]
    return render(
        request,
        "kim/directory.html",
        {
            "form": form,
            "results": results[:DIRECTORY_PAGE],
            "more": len(results) > DIRECTORY_PAGE,
            "searched": searched,
            "mailboxes": list(selectors.mailboxes(request.user).order_by("kind", "address")[:1]),
        },
    )


@member_required
def publication(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Seed 003 „Veröffentlichung“: consent to publish the eHBA ENC certificate; revocable."""
    if not request.user.person_id:
        raise PermissionDenied
    entry = selectors.own_entry(request.user)
    form = ConsentForm(request.POST or None)
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            services.revoke_consent(actor=request.user)
            messages.success(
                request, _("Ihre Einwilligung ist widerrufen; der Eintrag ist nicht mehr sichtbar.")
            )
            return redirect("kim:publication")
        if form.is_valid():
            try:
                services.consent_publication(
                    actor=request.user,
                    enc_certificate=form.cleaned_data["enc_certificate"],
                    department=form.cleaned_data["department"],
                    description=form.cleaned_data["description"],
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Ihr Eintrag ist im Verzeichnis veröffentlicht."))
                return redirect("kim:publication")
    return render(
        request,
        "kim/publication.html",
        {"form": form, "entry": entry, "published": bool(entry and entry.published)},
    )

"""Arztregister staff pages (issue 14): Betriebsstätten, Personen and their Tätigkeiten in the
portal's own back office; every write goes through the audited services (changed fields)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from kvportal.accounts.constants import StaffRole
from kvportal.accounts.decorators import staff_role_required
from kvportal.members import forms, selectors, services
from kvportal.members.constants import PracticeKind

registry_staff = staff_role_required(StaffRole.ARZTREGISTER)

#: Values an access application hands to "Betriebsstätte anlegen" (query string, prefilled).
PREFILL_FIELDS = ("bsnr", "name", "kind", "email", "street", "postal_code", "city")


def _columns(request, columns: list[tuple[str, str]], current: str) -> list[dict]:
    """Sortable table headers: label, link (toggles the direction) and aria-sort."""
    q = request.GET.get("q", "")
    key, descending = current.lstrip("-"), current.startswith("-")
    result = []
    for index, (sort_key, label) in enumerate(columns):
        active = sort_key == key or (not key and index == 0)
        next_sort = f"-{sort_key}" if active and not descending else sort_key
        result.append(
            {
                "label": label,
                "url": "?" + urlencode({"q": q, "sort": next_sort}),
                "aria_sort": ("descending" if descending else "ascending") if active else "",
            }
        )
    return result


def _safe_next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    ok = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if ok else ""


def _save(request, form, *, created_message: str, changed_message: str) -> bool:
    """Run the audited service; field errors of the model land at the form's fields."""
    entry = form.instance
    creating = entry.pk is None
    try:
        changes = services.save_registry_entry(actor=request.user, entry=entry)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for field, errors in exc.error_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form.add_error(None, exc.messages)
        return False
    except PermissionDenied as exc:
        form.add_error(None, str(exc))
        return False
    if creating:
        messages.success(request, created_message)
    elif changes:
        messages.success(request, changed_message)
    else:
        messages.info(request, _("Keine Änderungen."))
    return True


# --- Betriebsstätten -------------------------------------------------------------------------


@registry_staff
def practice_list(request):
    form = forms.SearchForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    sort = data.get("sort") or ""
    qs = selectors.staff_practices(q=data.get("q") or "", sort=sort)
    page = Paginator(qs, 50).get_page(request.GET.get("seite"))
    columns = _columns(
        request,
        [("bsnr", _("BSNR")), ("name", _("Name")), ("kind", _("Praxisform")), ("city", _("Ort"))],
        sort,
    )
    return render(
        request,
        "members/practice_list.html",
        {"form": form, "page": page, "columns": columns, "q": data.get("q") or ""},
    )


@registry_staff
@require_http_methods(["GET", "POST"])
def practice_create(request):
    """New Betriebsstätte; prefilled from an access application's data (query string)."""
    next_url = _safe_next(request)
    if request.method == "POST":
        form = forms.BetriebsstaetteForm(request.POST)
        if form.is_valid() and _save(
            request,
            form,
            created_message=_("Die Betriebsstätte %(bsnr)s wurde angelegt.")
            % {"bsnr": form.instance.bsnr},
            changed_message="",
        ):
            return redirect(next_url or reverse("members:practice_detail", args=[form.instance.pk]))
    else:
        initial = {k: request.GET[k][:200] for k in PREFILL_FIELDS if request.GET.get(k)}
        if initial.get("kind") not in PracticeKind.values:
            initial.pop("kind", None)
        form = forms.BetriebsstaetteForm(initial=initial)
    return render(
        request,
        "members/practice_form.html",
        {"form": form, "next": next_url, "prefilled": request.GET.get("bsnr", "")},
    )


@registry_staff
def practice_detail(request, pk: int):
    practice = selectors.practice(pk)
    return render(
        request,
        "members/practice_detail.html",
        {
            "practice": practice,
            "taetigkeiten": selectors.taetigkeiten_of_practice(practice.pk),
            "history": selectors.object_history(practice),
        },
    )


@registry_staff
@require_http_methods(["GET", "POST"])
def practice_edit(request, pk: int):
    practice = selectors.practice(pk)
    form = forms.BetriebsstaetteForm(request.POST or None, instance=practice)
    if (
        request.method == "POST"
        and form.is_valid()
        and _save(
            request,
            form,
            created_message="",
            changed_message=_("Die Betriebsstätte wurde gespeichert."),
        )
    ):
        return redirect("members:practice_detail", pk)
    return render(request, "members/practice_form.html", {"form": form, "practice": practice})


# --- Personen --------------------------------------------------------------------------------


@registry_staff
def person_list(request):
    form = forms.SearchForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    sort = data.get("sort") or ""
    qs = selectors.staff_persons(q=data.get("q") or "", sort=sort)
    page = Paginator(qs, 50).get_page(request.GET.get("seite"))
    columns = _columns(
        request,
        [("name", _("Name")), ("lanr", _("LANR")), ("profession", _("Beruf"))],
        sort,
    )
    return render(
        request,
        "members/person_list.html",
        {"form": form, "page": page, "columns": columns, "q": data.get("q") or ""},
    )


@registry_staff
@require_http_methods(["GET", "POST"])
def person_create(request):
    form = forms.PersonForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and _save(
            request,
            form,
            created_message=_("Die Person wurde angelegt."),
            changed_message="",
        )
    ):
        return redirect("members:person_detail", form.instance.pk)
    return render(request, "members/person_form.html", {"form": form})


@registry_staff
def person_detail(request, pk: int):
    person = selectors.person(pk)
    return render(
        request,
        "members/person_detail.html",
        {
            "person": person,
            "taetigkeiten": selectors.taetigkeiten_of_person(person.pk),
            "accounts": selectors.accounts_of_person(person.pk),
            "history": selectors.object_history(person),
        },
    )


@registry_staff
@require_http_methods(["GET", "POST"])
def person_edit(request, pk: int):
    person = selectors.person(pk)
    form = forms.PersonForm(request.POST or None, instance=person)
    if (
        request.method == "POST"
        and form.is_valid()
        and _save(
            request,
            form,
            created_message="",
            changed_message=_("Die Angaben zur Person wurden gespeichert."),
        )
    ):
        return redirect("members:person_detail", pk)
    return render(request, "members/person_form.html", {"form": form, "person": person})


# --- Tätigkeiten -----------------------------------------------------------------------------


@registry_staff
@require_http_methods(["GET", "POST"])
def taetigkeit_create(request, person_pk: int):
    person = selectors.person(person_pk)
    form = forms.TaetigkeitForm(request.POST or None, person=person)
    if (
        request.method == "POST"
        and form.is_valid()
        and _save(
            request,
            form,
            created_message=_("Die Tätigkeit wurde angelegt."),
            changed_message="",
        )
    ):
        return redirect("members:person_detail", person.pk)
    return render(request, "members/taetigkeit_form.html", {"form": form, "person": person})


@registry_staff
@require_http_methods(["GET", "POST"])
def taetigkeit_edit(request, pk: int):
    taetigkeit = selectors.taetigkeit(pk)
    person = taetigkeit.person
    form = forms.TaetigkeitForm(request.POST or None, instance=taetigkeit, person=person)
    if (
        request.method == "POST"
        and form.is_valid()
        and _save(
            request,
            form,
            created_message="",
            changed_message=_("Die Tätigkeit wurde gespeichert."),
        )
    ):
        return redirect("members:person_detail", person.pk)
    return render(
        request,
        "members/taetigkeit_form.html",
        {
            "form": form,
            "person": person,
            "taetigkeit": taetigkeit,
            "history": selectors.object_history(taetigkeit),
        },
    )


@registry_staff
@require_http_methods(["GET", "POST"])
def taetigkeit_end(request, pk: int):
    """End a Tätigkeit: the shared confirmation step names the consequence, needs a reason."""
    taetigkeit = selectors.taetigkeit(pk)
    form = forms.EndTaetigkeitForm(request.POST or None, taetigkeit=taetigkeit)
    if request.method == "POST" and form.is_valid():
        try:
            services.end_taetigkeit(
                actor=request.user,
                taetigkeit=taetigkeit,
                valid_to=form.cleaned_data["valid_to"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            for field, errors in getattr(exc, "error_dict", {None: exc.error_list}).items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Die Tätigkeit wurde beendet."))
            return redirect("members:person_detail", taetigkeit.person_id)
    t = taetigkeit
    confirm = {
        "title": _("Tätigkeit beenden"),
        "consequence": _(
            "%(person)s ist ab dem Tag nach dem letzten Tag nicht mehr als %(role)s der "
            "BSNR %(bsnr)s geführt."
        )
        % {
            "person": t.person.full_name,
            "role": t.get_role_display(),
            "bsnr": t.betriebsstaette.bsnr,
        },
        "consequences": [
            _(
                "Rechte im Portal, die an diese Tätigkeit gebunden sind, entfallen "
                "(z. B. Dokumente der BSNR, Ärztlicher-Leiter-Regel)."
            ),
            _("Die Änderung und die Begründung stehen in der Historie der Tätigkeit."),
        ],
        "action_url": reverse("members:taetigkeit_end", args=[t.pk]),
        "submit_label": _("Tätigkeit beenden"),
        "cancel_url": reverse("members:person_detail", args=[t.person_id]),
    }
    return render(request, "core/confirm.html", {"confirm": confirm, "form": form})


@registry_staff
@require_http_methods(["GET", "POST"])
def account_deactivate(request, pk: int):
    """Deactivate a member's portal account: confirmation step with consequence and reason."""
    from kvportal.core.forms import ConfirmReasonForm

    account = selectors.account_of_person(pk)
    back = reverse("members:person_detail", args=[account.person_id])
    if not account.is_active:
        messages.info(request, _("Das Konto ist bereits deaktiviert."))
        return redirect(back)
    form = ConfirmReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.deactivate_person_account(
                actor=request.user, user=account, reason=form.cleaned_data["reason"]
            )
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, getattr(exc, "messages", None) or str(exc))
        else:
            messages.success(request, _("Das Konto wurde deaktiviert."))
            return redirect(back)
    confirm = {
        "title": _("Konto %(u)s deaktivieren") % {"u": account.username},
        "consequence": _(
            "Mit diesem Konto ist keine Anmeldung mehr möglich; alle Rechte im Portal und alle "
            "API-Zugänge des Kontos enden sofort."
        ),
        "consequences": [
            _("Das Konto wird nicht gelöscht; das Zugriffsprotokoll bleibt erhalten."),
            _("Die Begründung steht in der Historie des Kontos."),
        ],
        "action_url": reverse("members:account_deactivate", args=[account.pk]),
        "submit_label": _("Konto deaktivieren"),
        "cancel_url": back,
    }
    return render(request, "core/confirm.html", {"confirm": confirm, "form": form})

"""Arztregister staff pages (issue 14): Betriebsstätten, Personen and their Tätigkeiten in the
portal's own back office; every write goes through the audited services (changed fields)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from kvportal.accounts.constants import StaffRole
from kvportal.accounts.decorators import staff_role_required
from kvportal.core.confirm import confirm_then_redirect
from kvportal.core.forms import ConfirmReasonForm
from kvportal.members import forms, selectors, services
from kvportal.members.constants import PracticeKind

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

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


def _registry_list(request, selector, columns: list[tuple[str, str]], template: str):
    """A staff worklist of the registry: search, sortable columns, 50 rows a page."""
    form = forms.SearchForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    sort = data.get("sort") or ""
    page = Paginator(selector(q=data.get("q") or "", sort=sort), 50).get_page(
        request.GET.get("seite")
    )
    return render(
        request,
        template,
        {
            "form": form,
            "page": page,
            "columns": _columns(request, columns, sort),
            "q": data.get("q") or "",
        },
    )


def _registry_detail(request, template: str, name: str, entry: Any, **context):
    """The page of a registry entry (context `name`) with its history from the access log."""
    history = selectors.object_history(entry)
    return render(request, template, {name: entry, **context, "history": history})


def _edit_view(selector: Callable[[int], Any], form_class: Any, name: str, changed: StrOrPromise):
    """The edit page of a Betriebsstätte or Person (`members/<name>_form.html`), back to
    its detail page (`members:<name>_detail`) once saved."""

    @registry_staff
    @require_http_methods(["GET", "POST"])
    def view(request, pk: int):
        entry = selector(pk)
        return _registry_form(
            request,
            form_class(request.POST or None, instance=entry),
            f"members/{name}_form.html",
            {name: entry},
            success=lambda _entry: reverse(f"members:{name}_detail", args=[pk]),
            changed=str(changed),
        )

    view.__name__ = view.__qualname__ = f"{name}_edit"
    return view


def _registry_form(
    request,
    form,
    template: str,
    context: dict,
    *,
    success: Callable[[Any], str],
    created: str | Callable[[Any], str] = "",
    changed: str = "",
    history_of: Any = None,
):
    """The create/edit page of a registry entry: a valid POST is saved by the audited service
    and leads to `success(entry)`; otherwise the form again, with its errors at the fields
    (and the entry's history where `history_of` is given)."""
    if request.method == "POST" and form.is_valid():
        created_message = created(form.instance) if callable(created) else created
        if _save(request, form, created_message=created_message, changed_message=changed):
            return redirect(success(form.instance))
    if history_of is not None:
        context = {**context, "history": selectors.object_history(history_of)}
    return render(request, template, {"form": form, **context})


# --- Betriebsstätten -------------------------------------------------------------------------


@registry_staff
def practice_list(request):
    columns = [
        ("bsnr", _("BSNR")),
        ("name", _("Name")),
        ("kind", _("Praxisform")),
        ("city", _("Ort")),
    ]
    return _registry_list(request, selectors.staff_practices, columns, "members/practice_list.html")


@registry_staff
@require_http_methods(["GET", "POST"])
def practice_create(request):
    """New Betriebsstätte; prefilled from an access application's data (query string)."""
    next_url = _safe_next(request)
    if request.method == "POST":
        form = forms.BetriebsstaetteForm(request.POST)
    else:
        initial = {k: request.GET[k][:200] for k in PREFILL_FIELDS if request.GET.get(k)}
        if initial.get("kind") not in PracticeKind.values:
            initial.pop("kind", None)
        form = forms.BetriebsstaetteForm(initial=initial)
    return _registry_form(
        request,
        form,
        "members/practice_form.html",
        {"next": next_url, "prefilled": request.GET.get("bsnr", "")},
        success=lambda practice: next_url or reverse("members:practice_detail", args=[practice.pk]),
        created=lambda practice: (
            _("Die Betriebsstätte %(bsnr)s wurde angelegt.") % {"bsnr": practice.bsnr}
        ),
    )


@registry_staff
def practice_detail(request, pk: int):
    practice = selectors.practice(pk)
    return _registry_detail(
        request,
        "members/practice_detail.html",
        "practice",
        practice,
        taetigkeiten=selectors.taetigkeiten_of_practice(practice.pk),
    )


practice_edit = _edit_view(
    selectors.practice,
    forms.BetriebsstaetteForm,
    "practice",
    gettext_lazy("Die Betriebsstätte wurde gespeichert."),
)


# --- Personen --------------------------------------------------------------------------------


@registry_staff
def person_list(request):
    columns = [("name", _("Name")), ("lanr", _("LANR")), ("profession", _("Beruf"))]
    return _registry_list(request, selectors.staff_persons, columns, "members/person_list.html")


@registry_staff
@require_http_methods(["GET", "POST"])
def person_create(request):
    return _registry_form(
        request,
        forms.PersonForm(request.POST or None),
        "members/person_form.html",
        {},
        success=lambda person: reverse("members:person_detail", args=[person.pk]),
        created=_("Die Person wurde angelegt."),
    )


@registry_staff
def person_detail(request, pk: int):
    person = selectors.person(pk)
    return _registry_detail(
        request,
        "members/person_detail.html",
        "person",
        person,
        taetigkeiten=selectors.taetigkeiten_of_person(person.pk),
        accounts=selectors.accounts_of_person(person.pk),
    )


person_edit = _edit_view(
    selectors.person,
    forms.PersonForm,
    "person",
    gettext_lazy("Die Angaben zur Person wurden gespeichert."),
)


# --- Tätigkeiten -----------------------------------------------------------------------------


@registry_staff
@require_http_methods(["GET", "POST"])
def taetigkeit_create(request, person_pk: int):
    person = selectors.person(person_pk)
    return _registry_form(
        request,
        forms.TaetigkeitForm(request.POST or None, person=person),
        "members/taetigkeit_form.html",
        {"person": person},
        success=lambda _entry: reverse("members:person_detail", args=[person.pk]),
        created=_("Die Tätigkeit wurde angelegt."),
    )


@registry_staff
@require_http_methods(["GET", "POST"])
def taetigkeit_edit(request, pk: int):
    taetigkeit = selectors.taetigkeit(pk)
    person = taetigkeit.person
    return _registry_form(
        request,
        forms.TaetigkeitForm(request.POST or None, instance=taetigkeit, person=person),
        "members/taetigkeit_form.html",
        {"person": person, "taetigkeit": taetigkeit},
        success=lambda _entry: reverse("members:person_detail", args=[person.pk]),
        changed=_("Die Tätigkeit wurde gespeichert."),
        history_of=taetigkeit,
    )


@registry_staff
@require_http_methods(["GET", "POST"])
def taetigkeit_end(request, pk: int):
    """End a Tätigkeit: the shared confirmation step names the consequence, needs a reason."""
    t = taetigkeit = selectors.taetigkeit(pk)
    back = reverse("members:person_detail", args=[t.person_id])
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
        "cancel_url": back,
    }
    return confirm_then_redirect(
        request,
        forms.EndTaetigkeitForm(request.POST or None, taetigkeit=taetigkeit),
        confirm,
        lambda data: services.end_taetigkeit(
            actor=request.user,
            taetigkeit=taetigkeit,
            valid_to=data["valid_to"],
            reason=data["reason"],
        ),
        done=_("Die Tätigkeit wurde beendet."),
        then=back,
    )


@registry_staff
@require_http_methods(["GET", "POST"])
def account_deactivate(request, pk: int):
    """Deactivate a member's portal account: confirmation step with consequence and reason."""
    account = selectors.account_of_person(pk)
    back = reverse("members:person_detail", args=[account.person_id])
    if not account.is_active:
        messages.info(request, _("Das Konto ist bereits deaktiviert."))
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
    return confirm_then_redirect(
        request,
        ConfirmReasonForm(request.POST or None),
        confirm,
        lambda data: services.deactivate_person_account(
            actor=request.user, user=account, reason=data["reason"]
        ),
        refusals=(ValidationError, PermissionDenied),
        done=_("Das Konto wurde deaktiviert."),
        then=back,
    )

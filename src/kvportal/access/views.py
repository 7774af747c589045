# Seed 000: applicants see only their own application (session grant / secret link / own account).
"""Views: public application path, confirmations, member list, Arztregister back office."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.forms import BaseFormSet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kvportal import audit
from kvportal.access import antiabuse, rules, selectors, services
from kvportal.access import forms as access_forms
from kvportal.access.models import AccessApplication, Confirmation, CredentialLetter
from kvportal.access.pdf import application_pdf, letters_pdf
from kvportal.accounts import scope
from kvportal.accounts.constants import AccountKind, StaffRole
from kvportal.accounts.decorators import member_required, staff_role_required
from kvportal.accounts.models import User
from kvportal.audit.models import Activity
from kvportal.core.http import AuthenticatedHttpRequest

SESSION_GRANTS = "access_grants"
#: "Person hinzufügen" adds at most this many empty rows at once (bounded page size).
MAX_EXTRA_ROWS = 20


def _small_int(value: object, *, default: int = 0, maximum: int = MAX_EXTRA_ROWS) -> int:
    """A form's row counter: junk counts as `default`, the result stays within 0..maximum."""
    try:
        number = int(str(value or default).strip())
    except ValueError:
        number = default
    return max(0, min(number, maximum))


def _confirmation_of(app: AccessApplication, raw: str | None) -> Confirmation:
    """A confirmation of this application by the id posted with the form (404 otherwise)."""
    try:
        pk = int(str(raw or "").strip())
    except ValueError:
        raise Http404("Nicht gefunden.") from None
    return get_object_or_404(Confirmation, pk=pk, application=app)


def _actor(request: HttpRequest) -> User | None:
    return request.user if request.user.is_authenticated else None


def _grant(request: HttpRequest, app: AccessApplication) -> None:
    grants = list(request.session.get(SESSION_GRANTS, []))
    if app.reference not in grants:
        grants.append(app.reference)
        request.session[SESSION_GRANTS] = grants[-20:]


def _applicant_app(request: HttpRequest, reference: str) -> AccessApplication:
    """The applicant's own application; everybody else gets 404."""
    app = selectors.application_by_reference(reference)
    if app is None:
        raise Http404("Nicht gefunden.")
    user = request.user
    if user.is_authenticated and app.created_by_id == user.pk:
        return app
    if reference in request.session.get(SESSION_GRANTS, []):
        return app
    raise Http404("Nicht gefunden.")


# --- public entry ----------------------------------------------------------------------------


def apply(request: HttpRequest) -> HttpResponse:
    """Public entry page (no account needed) and, for members, "add people or rights"."""
    member = request.user.is_authenticated and request.user.kind == AccountKind.MEMBER
    if request.user.is_authenticated and not member:
        raise Http404("Nicht gefunden.")
    form_kwargs = {"public": not member}
    if request.method == "POST":
        form = access_forms.StartForm(request.POST, **form_kwargs)
        if form.is_valid() and not member:
            _refuse_over_limit(request, form)
        if form.is_valid():
            if not member:
                antiabuse.count(
                    ip=_client_ip(request),
                    email=form.cleaned_data["contact_email"],
                    with_proof=form.with_proof,
                )
            bsnr, name = "", ""
            if member:
                practice = (
                    scope.practices(request.user).filter(bsnr=request.POST.get("bsnr", "")).first()
                )
                if practice is not None:
                    bsnr, name = practice.bsnr, practice.name
            app, _token = services.create_application(
                actor=_actor(request),
                variant=form.cleaned_data["variant"],
                contact_email=form.cleaned_data["contact_email"],
                nonce=form.cleaned_data["nonce"],
                bsnr=bsnr,
                practice_name=name,
            )
            _grant(request, app)
            if _token is None and not app.is_editable:
                return redirect("access:status", app.reference)
            return redirect("access:edit", app.reference)
        # Keep all the user typed; a fresh stamp and proof for the next attempt.
        data = request.POST.copy()
        data["stamp"], data["proof"] = access_forms.new_form_stamp(), ""
        form.data = data
    else:
        initial = {"stamp": access_forms.new_form_stamp(), "nonce": secrets.token_urlsafe(16)}
        if member and request.user.is_authenticated:  # member implies logged in
            initial["contact_email"] = request.user.email
        form = access_forms.StartForm(initial=initial, **form_kwargs)
    practices = scope.practices(request.user).order_by("bsnr") if member else []
    return render(
        request,
        "access/apply.html",
        {"form": form, "practices": practices, "pow_difficulty": antiabuse.difficulty()},
    )


def _client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _refuse_over_limit(request: HttpRequest, form: access_forms.StartForm) -> None:
    """Adds a German non-field error when this start would exceed a rate limit."""
    limit = antiabuse.over_limit(
        ip=_client_ip(request),
        email=form.cleaned_data["contact_email"],
        with_proof=form.with_proof,
    )
    if limit == "email":
        form.add_error(
            "contact_email",
            _(
                "Für diese E-Mail-Adresse wurden in der letzten Stunde schon mehrere Anträge "
                "begonnen. Bitte nutzen Sie den Link aus unserer E-Mail oder versuchen Sie es "
                "in einer Stunde erneut."
            ),
        )
    elif limit == "ip":
        form.add_error(
            None,
            _(
                "Von Ihrem Anschluss wurden in der letzten Stunde zu viele Anträge begonnen. "
                "Bitte versuchen Sie es in einer Stunde erneut oder wenden Sie sich an die "
                "Hotline. Ohne JavaScript gilt eine engere Grenze."
            ),
        )


def resume(request: HttpRequest, token: str) -> HttpResponse:
    """The secret draft link from the e-mail: grants this browser session access."""
    app = services.find_by_token(token)
    if app is None:
        raise Http404("Nicht gefunden.")
    _grant(request, app)
    target = "access:edit" if app.is_editable else "access:status"
    return redirect(target, app.reference)


# --- draft, review, submit -------------------------------------------------------------------


def _person_rows(app: AccessApplication, extra: int) -> list[dict]:
    rows = [
        {
            "role": p.role,
            "last_name": p.last_name,
            "first_name": p.first_name,
            "email": p.email,
            "lanr": p.lanr,
            "listed": p.listed,
            "right_billing": p.right_billing,
            "right_docs_bsnr": p.right_docs_bsnr,
            "right_docs_lanr": p.right_docs_lanr,
        }
        for p in app.persons.all()
    ]
    if not rows:
        rows = _default_rows(app.variant_enum)
    default_role = rules.Role.ARZT.value
    rows += [{"role": default_role, "listed": True} for _ in range(extra)]
    return rows


def _default_rows(variant: rules.Variant) -> list[dict]:
    if variant is rules.Variant.MVZ:
        roles = [rules.Role.TRAEGER, rules.Role.LEITER, rules.Role.ARZT]
    elif variant is rules.Variant.BAG:
        roles = [rules.Role.PARTNER, rules.Role.PARTNER]
    else:
        roles = [rules.Role.INHABER]
    return [{"role": r.value, "listed": r is not rules.Role.TRAEGER} for r in roles]


def _bound_forms(
    app: AccessApplication, extra: int = 1
) -> tuple[access_forms.HeaderForm, BaseFormSet, access_forms.AcknowledgeForm]:
    """Forms bound to the stored draft, so that check findings can be attached per field."""
    header = access_forms.HeaderForm(
        data={
            "variant": app.variant,
            "practice_name": app.practice_name,
            "bsnr": app.bsnr,
            "traeger_name": app.traeger_name,
        }
    )
    rows = _person_rows(app, extra)
    data = {"p-TOTAL_FORMS": str(len(rows)), "p-INITIAL_FORMS": "0"}
    for i, row in enumerate(rows):
        for key, value in row.items():
            if isinstance(value, bool):
                if value:
                    data[f"p-{i}-{key}"] = "on"
            else:
                data[f"p-{i}-{key}"] = value or ""
    formset = access_forms.PersonFormSet(data=data, prefix="p")
    ack = access_forms.AcknowledgeForm(
        data={"acknowledge": "on"} if app.notes_acknowledged_at else {}
    )
    header.is_valid()
    formset.is_valid()
    ack.is_valid()
    return header, formset, ack


def _attach(
    findings: list[rules.Finding],
    header: access_forms.HeaderForm,
    formset: BaseFormSet,
    ack: access_forms.AcknowledgeForm,
) -> list[str]:
    """Put each finding at its field; returns messages that have no field of their own."""
    loose: list[str] = []
    for f in findings:
        parts = f.field.split(".")
        if parts[0] == "persons" and len(parts) == 3 and int(parts[1]) < len(formset.forms):
            form = formset.forms[int(parts[1])]
            form.add_error(parts[2] if parts[2] in form.fields else None, f.message)
        elif parts[0] in header.fields:
            header.add_error(parts[0], f.message)
        elif parts[0] == "acknowledge":
            ack.add_error("acknowledge", f.message)
        else:
            loose.append(f.message)
    return loose


def edit(request: HttpRequest, reference: str) -> HttpResponse:
    app = _applicant_app(request, reference)
    if not app.is_editable:
        return redirect("access:status", app.reference)
    loose: list[str] = []
    if request.method == "POST":
        header = access_forms.HeaderForm(request.POST)
        formset = access_forms.PersonFormSet(request.POST, prefix="p")
        ack = access_forms.AcknowledgeForm(request.POST)
        if header.is_valid() and formset.is_valid() and ack.is_valid():
            persons = [f.cleaned_data for f in formset.forms if not f.is_blank()]
            services.save_draft(
                actor=_actor(request),
                application=app,
                persons=persons,
                acknowledged=ack.cleaned_data["acknowledge"],
                **header.cleaned_data,
            )
            action = request.POST.get("action", "save")
            if action == "review":
                return redirect("access:review", app.reference)
            if action == "add_row":
                header, formset, ack = _bound_forms(
                    app, extra=1 + _small_int(request.POST.get("extra"))
                )
                return render(
                    request, "access/edit.html", _edit_context(app, header, formset, ack, loose)
                )
            messages.success(request, "Der Entwurf wurde gespeichert.")
            return redirect("access:edit", app.reference)
    else:
        header, formset, ack = _bound_forms(app)
        if request.GET.get("pruefen"):
            loose = _attach(rules.errors(services.check_for_applicant(app)), header, formset, ack)
    return render(request, "access/edit.html", _edit_context(app, header, formset, ack, loose))


def _edit_context(
    app: AccessApplication,
    header: access_forms.HeaderForm,
    formset: BaseFormSet,
    ack: access_forms.AcknowledgeForm,
    loose: list[str],
) -> dict[str, Any]:
    return {
        "app": app,
        "header": header,
        "formset": formset,
        "ack": ack,
        "loose": loose,
        "right_labels": rules.RIGHT_LABELS,
    }


def review(request: HttpRequest, reference: str) -> HttpResponse:
    app = _applicant_app(request, reference)
    findings = services.check_for_applicant(app)
    errs = rules.errors(findings)
    if request.method == "POST":
        try:
            services.submit(actor=_actor(request), application=app)
        except services.SubmissionError:
            messages.error(request, "Der Antrag enthält noch Fehler. Bitte korrigieren Sie sie.")
            return redirect(reverse("access:edit", args=[app.reference]) + "?pruefen=1")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("access:status", app.reference)
    if not app.is_editable:
        return redirect("access:status", app.reference)
    return render(
        request,
        "access/review.html",
        {
            "app": app,
            "errors": errs,
            "flags": rules.flags(findings),
            "summary": _summary(app),
        },
    )


def _summary(app: AccessApplication) -> list[dict]:
    result = []
    for p in app.persons.all():
        data = p.to_rules()
        result.append(
            {
                "person": p,
                "listed": rules.is_listed(data),
                "rights": [rules.RIGHT_LABELS[r] for r in sorted(rules.effective_rights(data))],
                "auto_billing": data.role is rules.Role.LEITER and not p.right_billing,
            }
        )
    return result


def status(request: HttpRequest, reference: str) -> HttpResponse:
    app = _applicant_app(request, reference)
    confirmed = services.confirmed_map(app)
    people = []
    for p in app.persons.all():
        ok = bool(app.fingerprint) and confirmed.get(p.key) == app.fingerprint
        open_conf = services.open_requests(app, p.key).first() if app.fingerprint else None
        people.append(
            {
                "person": p,
                "confirmed": ok,
                "open": open_conf,
                "by_login": bool(
                    open_conf and services.can_confirm_by_login(request.user, open_conf)
                ),
            }
        )
    return render(
        request,
        "access/status.html",
        {
            "app": app,
            "people": people,
            "missing": [x for x in people if not x["confirmed"]],
            "summary": _summary(app),
            "steps": [
                (s, rules.STATUS_LABELS[s])
                for s in (
                    rules.Status.ENTWURF,
                    rules.Status.BESTAETIGUNG,
                    rules.Status.EINGEREICHT,
                    rules.Status.GENEHMIGT,
                )
            ],
        },
    )


@require_POST
def status_action(request: HttpRequest, reference: str) -> HttpResponse:
    app = _applicant_app(request, reference)
    action = request.POST.get("action")
    try:
        if action == "edit":
            services.back_to_draft(actor=_actor(request), application=app)
            return redirect("access:edit", app.reference)
        if action == "withdraw":
            services.withdraw(actor=_actor(request), application=app)
            messages.success(request, "Der Antrag wurde zurückgezogen.")
        elif action == "resend":
            conf = _confirmation_of(app, request.POST.get("confirmation"))
            services.resend_confirmation(actor=_actor(request), confirmation=conf)
            messages.success(request, "Die Bestätigungsanfrage wurde erneut gesendet.")
        elif action == "confirm_login":
            conf = _confirmation_of(app, request.POST.get("confirmation"))
            services.confirm_with_login(actor=_actor(request), confirmation=conf)
            messages.success(request, "Ihre Bestätigung wurde gespeichert.")
    except (ValidationError, rules.TransitionError) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    return redirect("access:status", app.reference)


def application_pdf_view(request: HttpRequest, reference: str) -> HttpResponse:
    app = _applicant_app(request, reference)
    return _pdf_response(request, app)


def _pdf_response(request: HttpRequest, app: AccessApplication) -> HttpResponse:
    content = application_pdf(app)
    audit.record(
        actor=_actor(request), activity=Activity.DOWNLOAD, obj=app, detail={"pdf": "antrag"}
    )
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="Antrag-{app.reference}.pdf"'
    return response


# --- confirmations ---------------------------------------------------------------------------


def confirm(request: HttpRequest, token: str) -> HttpResponse:
    conf = services.find_confirmation(token)
    if conf is None:
        raise Http404("Nicht gefunden.")
    app = conf.application
    person = conf.current_person
    form = access_forms.CodeForm(request.POST or None)
    error = ""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "login":
                services.confirm_with_login(actor=_actor(request), confirmation=conf)
            elif form.is_valid():
                services.confirm_with_code(
                    actor=_actor(request), confirmation=conf, code=form.cleaned_data["code"]
                )
            else:
                raise ValidationError("")
            return redirect("access:confirm", token)
        except PermissionDenied as exc:
            error = str(exc)
        except ValidationError as exc:
            error = " ".join(m for m in exc.messages if m)
    conf.refresh_from_db()
    valid = True
    try:
        services._validate_open(conf)
    except ValidationError as exc:
        valid, error = False, error or " ".join(exc.messages)
    return render(
        request,
        "access/confirm.html",
        {
            "conf": conf,
            "app": app,
            "person": person,
            "form": form,
            "error": error,
            "valid": valid,
            "summary": _summary(app),
            "by_login": services.can_confirm_by_login(request.user, conf),
        },
    )


# --- member list -----------------------------------------------------------------------------


@member_required
def my_applications(request: AuthenticatedHttpRequest) -> HttpResponse:
    apps = selectors.applications_of(request.user)
    return render(request, "access/my_applications.html", {"apps": apps})


# --- back office -----------------------------------------------------------------------------


@staff_role_required(StaffRole.ARZTREGISTER)
def staff_queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = access_forms.QueueFilterForm(request.GET or {"status": rules.Status.EINGEREICHT.value})
    data = form.cleaned_data if form.is_valid() else {}
    qs = selectors.staff_queue(
        status=data.get("status") or "",
        variant=data.get("variant") or "",
        flagged=bool(data.get("flagged")),
        q=data.get("q") or "",
    )
    page = Paginator(qs, 25).get_page(request.GET.get("seite"))
    pending_letters = selectors.unprinted_letters().count()
    return render(
        request,
        "access/staff_queue.html",
        {"form": form, "page": page, "pending_letters": pending_letters},
    )


@staff_role_required(StaffRole.ARZTREGISTER)
def staff_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(AccessApplication, pk=pk)
    audit.record(actor=request.user, activity=Activity.VIEW, obj=app)
    findings = services.check(app) if app.status == rules.Status.EINGEREICHT else []
    return render(
        request,
        "access/staff_detail.html",
        {
            "app": app,
            "summary": _summary(app),
            "findings": [f for f in findings if f.field != "acknowledge"],
            "confirmations": app.confirmations.filter(
                confirmed_at__isnull=False, fingerprint=app.fingerprint
            ),
            "letters": app.letters.select_related("user").order_by("pk"),
            "decision_form": access_forms.DecisionForm(),
            **_registry_context(app),
        },
    )


def _registry_context(app: AccessApplication) -> dict:
    """Issue 14: a BSNR not yet in the registry makes "Betriebsstätte anlegen" (prefilled
    with the application's data) the one primary action; the history shows the decisions."""
    from urllib.parse import urlencode

    from kvportal.members import selectors as registry

    practice = registry.practice_by_bsnr(app.bsnr)
    create_url = ""
    if practice is None and app.bsnr:
        prefill = {
            "bsnr": app.bsnr,
            "name": app.practice_name,
            "kind": app.variant,
            "email": app.contact_email,
            "next": reverse("access:staff_detail", args=[app.pk]),
        }
        create_url = (
            reverse("members:practice_create")
            + "?"
            + urlencode({k: v for k, v in prefill.items() if v})
        )
    return {
        "registry_practice": practice,
        "create_practice_url": create_url,
        "history": registry.object_history(app),
    }


@staff_role_required(StaffRole.ARZTREGISTER)
def staff_refuse(request, pk: int):
    """Refusal of an access application: the shared confirmation step (consequence, reason)."""
    from kvportal.core.forms import ConfirmReasonForm

    app = get_object_or_404(AccessApplication, pk=pk)
    if app.status != rules.Status.EINGEREICHT:
        messages.error(request, "Nur eingereichte Anträge können abgelehnt werden.")
        return redirect("access:staff_detail", pk)
    form = ConfirmReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.reject(actor=request.user, application=app, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            form.add_error("reason", exc.messages)
        else:
            messages.success(request, "Der Antrag wurde abgelehnt.")
            return redirect("access:staff_detail", pk)
    confirm = {
        "title": _("Antrag %(r)s ablehnen") % {"r": app.reference},
        "consequence": _(
            "Der Antrag wird endgültig abgelehnt; es werden keine Konten angelegt. "
            "Der Antragsteller erhält die Begründung per E-Mail und auf der Statusseite."
        ),
        "consequences": [
            _("Ein neuer Zugang ist nur mit einem neuen Antrag möglich."),
            _("Die Begründung steht in der Historie des Antrags."),
        ],
        "action_url": reverse("access:staff_refuse", args=[app.pk]),
        "submit_label": _("Antrag ablehnen"),
        "cancel_url": reverse("access:staff_detail", args=[app.pk]),
    }
    return render(request, "core/confirm.html", {"confirm": confirm, "form": form})


@staff_role_required(StaffRole.ARZTREGISTER)
@require_POST
def staff_decide(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(AccessApplication, pk=pk)
    form = access_forms.DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Unbekannte Aktion.")
        return redirect("access:staff_detail", pk)
    action, message = form.cleaned_data["action"], form.cleaned_data["message"]
    try:
        if action == "approve":
            letters = services.approve(actor=request.user, application=app)
            messages.success(
                request,
                f"Der Antrag wurde genehmigt. {len(letters)} Zugangsschreiben "
                "sind zum Druck bereit.",
            )
        elif action == "reject":  # issue 14: only through the confirmation step
            return redirect("access:staff_refuse", pk)
        else:
            services.request_corrections(actor=request.user, application=app, message=message)
            messages.success(request, "Der Antragsteller wurde um Nachbesserung gebeten.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("access:staff_detail", pk)


def _letters_response(
    request: AuthenticatedHttpRequest, letters: list[CredentialLetter], filename: str
) -> HttpResponse | None:
    try:
        issued = services.issue_letters(actor=request.user, letters=letters)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return None
    content = letters_pdf(issued)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@staff_role_required(StaffRole.ARZTREGISTER)
@require_POST
def staff_letter_pdf(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Print one letter (a new initial password each time; an earlier one stops working)."""
    letter = get_object_or_404(CredentialLetter, pk=pk)
    response = _letters_response(request, [letter], f"Zugangsdaten-{letter.reference}.pdf")
    if response is None:
        return redirect("access:staff_letters")
    return response


@staff_role_required(StaffRole.ARZTREGISTER)
@require_POST
def staff_letters_batch(request: AuthenticatedHttpRequest) -> HttpResponse:
    """One combined PDF of all letters not printed yet (optionally of one application)."""
    qs = selectors.unprinted_letters()
    if request.POST.get("application"):
        try:
            qs = qs.filter(application_id=int(request.POST["application"]))
        except ValueError:
            messages.error(request, "Die Antragsnummer für den Sammeldruck ist ungültig.")
            return redirect("access:staff_letters")
    letters = list(qs.order_by("pk"))
    if not letters:
        messages.error(request, "Es liegen keine ungedruckten Zugangsschreiben vor.")
        return redirect("access:staff_letters")
    response = _letters_response(request, letters, "Zugangsdaten-Sammeldruck.pdf")
    return response or redirect("access:staff_letters")


@staff_role_required(StaffRole.ARZTREGISTER)
def staff_letters(request: AuthenticatedHttpRequest) -> HttpResponse:
    letters = selectors.letters()
    page = Paginator(letters, 50).get_page(request.GET.get("seite"))
    pending = letters.filter(issued_at__isnull=True, superseded_at__isnull=True).count()
    return render(request, "access/staff_letters.html", {"page": page, "pending": pending})


@staff_role_required(StaffRole.ARZTREGISTER)
@require_POST
def staff_reissue(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Lost/expired letter: a new letter for the account with this user name."""
    from kvportal.accounts import selectors as account_selectors

    user = account_selectors.user_by_username(request.POST.get("username", "").strip())
    if user is None:
        messages.error(request, "Ein Konto mit diesem Nutzernamen gibt es nicht.")
        return redirect("access:staff_letters")
    try:
        issued = services.reissue_letter(actor=request.user, user=user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("access:staff_letters")
    response = HttpResponse(letters_pdf([issued]), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="Zugangsdaten-{issued.letter.reference}.pdf"'
    )
    response["Cache-Control"] = "no-store"
    return response


@staff_role_required(StaffRole.ARZTREGISTER)
def staff_application_pdf(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _pdf_response(request, get_object_or_404(AccessApplication, pk=pk))

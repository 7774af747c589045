# Seed 000 scope: practice data only through kvportal.accounts.scope (404 outside scope);
# downloads stream from private storage and are audited; § 36a Abs. 2b SGB I review + copy.
"""Member, signatory and back-office views of the admission app."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from kvportal import audit
from kvportal.accounts.constants import AccountKind, StaffRole
from kvportal.accounts.decorators import member_required, staff_role_required
from kvportal.admission import display, pdfs, selectors, services
from kvportal.admission.forms import (
    ANLAGE1_KEYS,
    EVIDENCE,
    EXTRA_ANLAGE1_ROWS,
    EXTRA_PARTNER_ROWS,
    PARTNER_KEYS,
    AnswerForm,
    ApplicationForm,
    CodeForm,
    DecisionForm,
    DeferForm,
    FeeRequestForm,
    FinalForm,
    InboxFilterForm,
    NachforderungForm,
    NewApplicationForm,
    PaymentForm,
    RejectForm,
    ScheduleForm,
    SessionForm,
    padded,
    rows_from_post,
)
from kvportal.admission.models import (
    Application,
    Attachment,
    CommitteeSession,
    GeneratedFile,
    Outcome,
    Signatory,
)
from kvportal.admission.rules.definitions import ValidationResult
from kvportal.admission.rules.lifecycle import OFFICE_STATES, WITHDRAWABLE, State
from kvportal.admission.rules.text import fmt_date, fmt_decimal, fmt_money
from kvportal.audit.models import Activity
from kvportal.core.confirm import confirm_then_redirect
from kvportal.core.forms import ConfirmReasonForm
from kvportal.core.http import AuthenticatedHttpRequest
from kvportal.core.storage import private_storage

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

ZULASSUNG = StaffRole.ZULASSUNG


# --- helpers ---------------------------------------------------------------------------------


def _member_application(request: AuthenticatedHttpRequest, pk: int) -> Application:
    return get_object_or_404(selectors.applications(request.user), pk=pk)


def _editable(request: AuthenticatedHttpRequest, pk: int) -> Application:
    application = _member_application(request, pk)
    if not selectors.may_edit(request.user, application):
        raise Http404("Nicht gefunden.")
    return application


def _history(application: Application, *, staff: bool) -> list[dict[str, Any]]:
    """The application's history for `core/_history.html` (issue 14): reasons of withdrawals
    and rejections shown; the member sees the office as „Geschäftsstelle“, not its staff."""
    rows = []
    for entry in application.history.select_related("actor__person"):
        actor = entry.actor
        if actor is None:
            who = ""
        elif staff or actor.kind != AccountKind.STAFF:
            who = actor.display_name
        else:
            who = _("Geschäftsstelle")
        label = f"{entry.label}: {entry.note}" if entry.note else entry.label
        rows.append(
            {"at": entry.at, "who": who, "label": label, "reason": entry.reason, "changes": []}
        )
    return rows


def _stream(
    request: AuthenticatedHttpRequest, application: Application, path: str, name: str, what: str
) -> FileResponse:
    audit.record(
        actor=request.user,
        activity=Activity.DOWNLOAD,
        obj=application,
        bsnr=application.bsnr,
        object_repr=application.reference,
        detail={"datei": what},
    )
    return FileResponse(
        private_storage.open(path, "rb"),
        as_attachment=True,
        filename=name,
        content_type="application/pdf",
    )


def _summary(application: Application, result: ValidationResult) -> dict[str, Any]:
    """Computed values for the edit and review pages."""
    computed = result.computed
    session = computed.get("earliest_session")
    earliest = computed.get("earliest_date")
    weekly = computed.get("weekly_hours")
    minimum = computed.get("min_consultation_hours")
    return {
        "weekly_hours": fmt_decimal(weekly) if weekly is not None else "",
        "min_consultation": fmt_decimal(minimum) if minimum is not None else "",
        "band": computed.get("band", ""),
        "earliest_session": fmt_date(session.date) if session else "",
        "earliest_date": fmt_date(earliest) if earliest else "",
        "fee_lines": result.fees.lines if result.fees else (),
        "warnings": result.warnings,
        "notices": result.notices,
    }


# --- member: list, new, edit, review ------------------------------------------------------------


@member_required
def application_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    items = selectors.applications(request.user).order_by("-created_at")
    return render(
        request,
        "admission/list.html",
        {
            "applications": items,
            "to_confirm": selectors.pending_confirmations(request.user),
            "can_apply": selectors.applicant_practices(request.user).exists(),
        },
    )


@member_required
def new(request: AuthenticatedHttpRequest) -> HttpResponse:
    practices = list(selectors.applicant_practices(request.user))
    if not practices:
        raise Http404("Nicht gefunden.")
    employees = selectors.employees_by_practice(practices)
    choices = [
        (f"{p.pk}:{e.pk}", f"{e.full_name} (LANR {e.lanr or '–'}) – {p.bsnr} {p.name}")
        for p in practices
        for e in employees[p.pk]
    ]
    choices += [
        (f"{p.pk}:", f"Angestellte(r) nicht im Register – {p.bsnr} {p.name}") for p in practices
    ]
    form = NewApplicationForm(request.POST or None, employee_choices=choices)
    if request.method == "POST" and form.is_valid():
        practice_pk, _, person_pk = form.cleaned_data["employee"].partition(":")
        practice = next(p for p in practices if str(p.pk) == practice_pk)
        employee = selectors.employees(practice).filter(pk=person_pk).first() if person_pk else None
        application = services.create_draft(
            actor=request.user,
            type_code=form.cleaned_data["type_code"],
            betriebsstaette=practice,
            employee=employee,
        )
        return redirect("admission:edit", application.pk)
    return render(request, "admission/new.html", {"form": form})


def _attachment_context(application: Application, result: ValidationResult) -> list[dict[str, Any]]:
    required = {a.kind for a in result.required_attachments}
    uploaded = {a.kind: a for a in application.attachments.all()}
    return [
        {
            "kind": a.kind,
            "label": a.label,
            "required": a.kind in required,
            "file": uploaded.get(a.kind),
            "errors": result.errors.get(f"attachment.{a.kind}", []),
        }
        for a in application.app_type.attachments
    ]


@member_required
def edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    application = _editable(request, pk)
    if application.state != State.ENTWURF:
        return redirect("admission:detail", application.pk)
    app_type = application.app_type
    checking = False
    if request.method == "POST":
        form = ApplicationForm(app_type, request.POST)
        data, refused = form.draft_data(application.data)
        data["anlage1"] = rows_from_post(request.POST, "a1", ANLAGE1_KEYS)
        data["partners"] = rows_from_post(request.POST, "p", PARTNER_KEYS)
        application = services.save_draft(actor=request.user, application=application, data=data)
        upload_errors = []
        for attachment in app_type.attachments:
            if request.POST.get(f"remove_{attachment.kind}"):
                for old in application.attachments.filter(kind=attachment.kind):
                    services.remove_attachment(actor=request.user, attachment=old)
            upload = request.FILES.get(f"att_{attachment.kind}")
            if upload is not None:
                try:
                    services.add_attachment(
                        actor=request.user,
                        application=application,
                        kind=attachment.kind,
                        file_name=upload.name or "",
                        content=upload.read(),
                    )
                except services.AdmissionError as exc:
                    upload_errors.append((attachment.kind, str(exc)))
        checking = "check" in request.POST
        result = services.check(application)
        if checking and result.ok and not upload_errors and not refused:
            return redirect("admission:review", application.pk)
        if not checking and not upload_errors and not refused:
            messages.success(request, _("Entwurf gespeichert."))
            return redirect("admission:edit", application.pk)
    else:
        upload_errors, refused = [], {}
        result = services.check(application)
    form = ApplicationForm(app_type, initial=application.data)
    show_errors = checking or request.GET.get("pruefen") == "1"
    field_errors = dict(result.errors) if show_errors else {}
    for name, errors in refused.items():  # refused input is always shown at its field
        field_errors[name] = [*errors, *field_errors.get(name, [])]
    attachments = _attachment_context(application, result)
    for item in attachments:
        if not show_errors:
            item["errors"] = []
        item["errors"] += [m for k, m in upload_errors if k == item["kind"]]
    data = application.data
    sections = []
    for section in app_type.sections:
        sections.append(
            {
                "key": section.key,
                "title": section.title,
                "intro": section.intro,
                "when": getattr(section.when, "values", ()),
                "fields": [
                    {"bound": form[f.name], "errors": field_errors.get(f.name, []), "def": f}
                    for f in app_type.fields_in(section.key)
                ],
            }
        )
    anlage1_errors = {
        int(k.split(".")[1]): v for k, v in field_errors.items() if k.startswith("anlage1.")
    }
    anlage1 = [
        {"index": i, "row": row, "errors": anlage1_errors.get(i, [])}
        for i, row in enumerate(
            padded(list(data.get("anlage1") or []), EXTRA_ANLAGE1_ROWS, ANLAGE1_KEYS)
        )
    ]
    partners = list(
        enumerate(padded(list(data.get("partners") or []), EXTRA_PARTNER_ROWS, PARTNER_KEYS))
    )
    return render(
        request,
        "admission/edit.html",
        {
            "application": application,
            "type": app_type,
            "sections": sections,
            "anlage1": anlage1,
            "anlage1_errors": field_errors.get("anlage1", []),
            "partners": partners,
            "partner_errors": field_errors.get("partners", []),
            "evidence_choices": EVIDENCE,
            "attachments": attachments,
            "summary": _summary(application, result),
            "error_count": sum(len(v) for v in field_errors.values()),
            "show_errors": show_errors,
        },
    )


@member_required
def review(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    application = _editable(request, pk)
    if application.state != State.ENTWURF:
        return redirect("admission:detail", application.pk)
    result = services.check(application)
    if not result.ok:
        messages.error(
            request, _("Der Antrag ist noch unvollständig – bitte die markierten Angaben ergänzen.")
        )
        return redirect(reverse("admission:edit", args=[application.pk]) + "?pruefen=1")
    error = ""
    if request.method == "POST":
        if not request.POST.get("consent"):
            error = _("Bitte bestätigen Sie die Erklärung, bevor Sie den Antrag einreichen.")
        else:
            try:
                application = services.submit(
                    actor=request.user, application=application, token=request.POST.get("token", "")
                )
            except services.DuplicateApplication as exc:
                messages.error(request, str(exc))
                return redirect("admission:detail", exc.existing.pk)
            except services.SubmissionRefused as exc:
                messages.error(request, str(exc))
                return redirect(reverse("admission:edit", args=[application.pk]) + "?pruefen=1")
            except services.AdmissionError as exc:
                messages.error(request, str(exc))
                return redirect("admission:detail", application.pk)
            messages.success(
                request,
                _("Antrag %(ref)s eingereicht. Eine Kopie (PDF) finden Sie unten.")
                % {"ref": application.reference},
            )
            return redirect("admission:detail", application.pk)
    logins = services.known_logins([s.person.lanr for s in result.signatories])
    return render(
        request,
        "admission/review.html",
        {
            "application": application,
            "type": application.app_type,
            "sections": display.display_sections(application.app_type, application.data),
            "anlage1": display.anlage1_rows(application.data)
            if application.app_type.needs_anlage1(application.data)
            else [],
            "signatories": [
                {
                    "s": s,
                    "portal": bool(s.person.lanr and s.person.lanr in logins)
                    or services.is_submitter(request.user, s),
                }
                for s in result.signatories
            ],
            "summary": _summary(application, result),
            "attachments": application.attachments.all(),
            "error": error,
        },
    )


# --- member: detail and actions -----------------------------------------------------------------


@member_required
def detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    application = _member_application(request, pk)
    mine = [s for s in application.signatories.all() if s.user_id == request.user.pk]
    can_edit = selectors.may_edit(request.user, application)
    open_request = application.nachforderungen.filter(answered_at__isnull=True).last()
    return render(
        request,
        "admission/detail.html",
        {
            "application": application,
            "type": application.app_type,
            "sections": display.display_sections(application.app_type, application.data),
            "anlage1": display.anlage1_rows(application.data)
            if application.app_type.needs_anlage1(application.data)
            else [],
            "signatories": application.signatories.all(),
            "to_confirm": [s for s in mine if s.confirmation is None]
            if application.state == State.EINGEREICHT
            else [],
            "files": application.files.all(),
            "attachments": application.attachments.all(),
            "history": _history(application, staff=False),
            "can_edit": can_edit,
            "can_withdraw": can_edit and State(application.state) in WITHDRAWABLE,
            "can_reopen": can_edit and application.state == State.EINGEREICHT,
            "open_request": open_request if can_edit else None,
            "answer_form": AnswerForm(),
            "fee": fmt_money(application.fee_amount) if application.fee_amount else "",
            "steps": _steps(application),
        },
    )


def _steps(application: Application) -> list[tuple[str, bool]]:
    order = [
        ("entwurf", "Entwurf"),
        ("eingereicht", "Bestätigungen"),
        ("vollstaendig", "Eingang"),
        ("gebuehr_angefordert", "Gebühr"),
        ("terminiert", "Sitzung"),
        ("genehmigt", "Beschluss"),
        ("rechtskraeftig", "Rechtskraft"),
    ]
    alias = {
        "nachforderung": "vollstaendig",
        "gebuehr_bezahlt": "gebuehr_angefordert",
        "gebuehr_gestundet": "gebuehr_angefordert",
        "abgelehnt": "genehmigt",
    }
    current = alias.get(application.state, application.state)
    return [(label, key == current) for key, label in order]


@member_required
@require_POST
def confirm(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    application = _member_application(request, pk)
    try:
        signatory_pk = int(request.POST.get("signatory", ""))
    except ValueError:
        raise Http404("Unterzeichner nicht gefunden.") from None
    signatory = get_object_or_404(application.signatories, pk=signatory_pk)
    if not request.POST.get("consent"):
        messages.error(request, _("Bitte bestätigen Sie die Erklärung."))
        return redirect("admission:detail", application.pk)
    try:
        services.confirm(actor=request.user, signatory=signatory)
        messages.success(request, _("Vielen Dank – Ihre Bestätigung ist gespeichert."))
    except services.AdmissionError as exc:
        messages.error(request, str(exc))
    return redirect("admission:detail", application.pk)


def _member_action(
    request: AuthenticatedHttpRequest,
    pk: int,
    func: Callable[..., object],
    success: str,
) -> HttpResponse:
    application = _editable(request, pk)
    try:
        func(actor=request.user, application=application)
        messages.success(request, success)
    except services.AdmissionError as exc:
        messages.error(request, str(exc))
    return redirect("admission:detail", application.pk)


@member_required
@require_http_methods(["GET", "POST"])
def withdraw(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """„Antrag zurücknehmen“: the shared confirmation step (consequence, reason; issue 14)."""
    application = _editable(request, pk)
    back = reverse("admission:detail", args=[application.pk])
    if State(application.state) not in WITHDRAWABLE:
        messages.error(request, _("Dieser Antrag kann nicht mehr zurückgenommen werden."))
        return redirect(back)
    confirm = {
        "title": _("Antrag %(r)s zurücknehmen") % {"r": application.reference},
        "consequence": _(
            "Der Zulassungsausschuss entscheidet nicht über diesen Antrag; er kann danach nicht "
            "mehr geändert oder wieder eingereicht werden."
        ),
        "consequences": [
            _("Für dieselbe Änderung ist ein neuer Antrag möglich."),
            _("Offene Bestätigungslinks der Unterzeichner werden ungültig."),
            _("Die Begründung steht in der Historie des Antrags, auch für die Geschäftsstelle."),
        ],
        "action_url": reverse("admission:withdraw", args=[application.pk]),
        "submit_label": _("Antrag zurücknehmen"),
        "cancel_url": back,
    }
    return confirm_then_redirect(
        request,
        ConfirmReasonForm(request.POST or None),
        confirm,
        lambda data: services.withdraw(
            actor=request.user, application=application, reason=data["reason"]
        ),
        refusals=(services.AdmissionError,),
        done=_("Der Antrag wurde zurückgenommen."),
        then=back,
    )


@member_required
@require_POST
def reopen(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    response = _member_action(
        request,
        pk,
        services.reopen,
        _("Der Antrag ist wieder ein Entwurf und kann geändert werden."),
    )
    return response


@member_required
@require_POST
def delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    application = _editable(request, pk)
    try:
        services.delete_draft(actor=request.user, application=application)
        messages.success(request, _("Der Entwurf wurde gelöscht."))
    except services.AdmissionError as exc:
        messages.error(request, str(exc))
        return redirect("admission:detail", application.pk)
    return redirect("admission:list")


@member_required
@require_POST
def answer(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    application = _editable(request, pk)
    form = AnswerForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            upload = form.cleaned_data.get("file")
            if upload:
                services.add_attachment(
                    actor=request.user,
                    application=application,
                    kind=Attachment.Kind.NACHREICHUNG,
                    file_name=upload.name,
                    content=upload.read(),
                )
            services.answer_nachforderung(
                actor=request.user, application=application, answer=form.cleaned_data["answer"]
            )
            messages.success(request, _("Ihre Antwort wurde an die Geschäftsstelle übermittelt."))
        except services.AdmissionError as exc:
            messages.error(request, str(exc))
    return redirect("admission:detail", application.pk)


@member_required
def file(request: AuthenticatedHttpRequest, pk: int, kind: str) -> FileResponse:
    application = _member_application(request, pk)
    generated = get_object_or_404(application.files, kind=kind)
    return _stream(request, application, generated.path, generated.download_name, kind)


@member_required
def attachment(request: AuthenticatedHttpRequest, pk: int, attachment_pk: int) -> FileResponse:
    application = _member_application(request, pk)
    item = get_object_or_404(application.attachments, pk=attachment_pk)
    return _stream(request, application, item.path, item.file_name, f"anlage:{item.kind}")


# --- signatories without portal login: one-time code -------------------------------------------


def _signatory_or_404(token: str) -> Signatory:
    signatory = services.signatory_for_token(token)
    if signatory is None:
        raise Http404("Unbekannter Link.")
    return signatory


def confirm_code(request: HttpRequest, token: str) -> HttpResponse:
    signatory = _signatory_or_404(token)
    application = signatory.application
    if not services.link_open(signatory):
        # confirmed, withdrawn, reopened or decided: the link shows nothing of the application
        return render(request, "admission/confirm_code_closed.html")
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        try:
            if "send" in request.POST:
                services.send_code(signatory=signatory)
                messages.success(
                    request, _("Der Code wurde an %(email)s gesendet.") % {"email": signatory.email}
                )
                return redirect("admission:confirm_code", token)
            if not request.POST.get("consent"):
                form.add_error(None, _("Bitte bestätigen Sie die Erklärung."))
            elif form.is_valid():
                services.confirm_with_code(signatory=signatory, code=form.cleaned_data["code"])
                messages.success(request, _("Vielen Dank – Ihre Bestätigung ist gespeichert."))
                return redirect("admission:confirm_code", token)
        except services.AdmissionError as exc:
            form.add_error("code" if "send" not in request.POST else None, str(exc))
    return render(
        request,
        "admission/confirm_code.html",
        {
            "signatory": signatory,
            "token": token,
            "application": application,
            "type": application.app_type,
            "sections": display.display_sections(application.app_type, application.data),
            "form": form,
        },
    )


def confirm_code_pdf(request: HttpRequest, token: str) -> FileResponse:
    signatory = _signatory_or_404(token)
    if not services.link_open(signatory):
        raise Http404("Keine Bestätigung mehr nötig.")
    application = signatory.application
    generated = get_object_or_404(application.files, kind=GeneratedFile.Kind.ANTRAG)
    audit.record(
        actor=None,
        activity=Activity.DOWNLOAD,
        obj=application,
        object_repr=application.reference,
        detail={"datei": "antrag", "unterzeichner": signatory.pk},
    )
    return FileResponse(
        private_storage.open(generated.path, "rb"),
        as_attachment=True,
        filename=generated.download_name,
        content_type="application/pdf",
    )


# --- back office (Geschäftsstelle, role Zulassung) ----------------------------------------------


@staff_role_required(ZULASSUNG)
def staff_inbox(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = InboxFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    items = selectors.staff_inbox(
        bezirk=filters.get("bezirk", ""),
        committee=filters.get("committee", ""),
        state=filters.get("state", ""),
    )
    if not filters.get("state"):
        items = items.filter(state__in=[s.value for s in OFFICE_STATES])
    return render(request, "admission/staff_inbox.html", {"form": form, "applications": items})


@staff_role_required(ZULASSUNG)
def staff_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    application = selectors.staff_application(pk)
    audit.record(
        actor=request.user,
        activity=Activity.VIEW,
        obj=application,
        bsnr=application.bsnr,
        object_repr=application.reference,
    )
    result = services.check(application, drafting=False)
    today = timezone.localdate()
    return render(
        request,
        "admission/staff_detail.html",
        {
            "application": application,
            "type": application.app_type,
            "sections": display.display_sections(application.app_type, application.data),
            "anlage1": display.anlage1_rows(application.data),
            "result": result,
            "summary": _summary(application, result),
            "required_attachments": [
                {"label": a.label, "present": application.attachments.filter(kind=a.kind).exists()}
                for a in result.required_attachments
            ],
            "signatories": application.signatories.all(),
            "files": application.files.all(),
            "attachments": application.attachments.all(),
            "history": _history(application, staff=True),
            "nachforderungen": application.nachforderungen.all(),
            "state": application.state,
            "forms": {
                "nachforderung": NachforderungForm(),
                "fee": FeeRequestForm(initial={"deadline": today + dt.timedelta(weeks=3)}),
                "payment": PaymentForm(initial={"paid_on": today}),
                "defer": DeferForm(),
                "schedule": ScheduleForm(application=application),
                "decision": DecisionForm(),
                "final": FinalForm(initial={"final_on": today}),
            },
            "fee": fmt_money(application.fee_amount) if application.fee_amount else "",
            "admin_fee": fmt_money(application.admin_fee_amount)
            if application.admin_fee_amount
            else "",
        },
    )


#: action → (form, office service, success message)
ACTIONS: dict[str, tuple[type[forms.Form], Callable[..., object], StrOrPromise]] = {
    "nachforderung": (
        NachforderungForm,
        services.request_documents,
        gettext_lazy("Nachforderung versandt."),
    ),
    "gebuehr": (FeeRequestForm, services.request_fee, gettext_lazy("Gebühr angefordert.")),
    "zahlung": (PaymentForm, services.book_payment, gettext_lazy("Zahlung gebucht.")),
    "stundung": (DeferForm, services.defer_fee, gettext_lazy("Gebühr gestundet.")),
    "terminieren": (ScheduleForm, services.schedule, gettext_lazy("Antrag terminiert.")),
    "beschluss": (DecisionForm, services.decide, gettext_lazy("Beschluss gespeichert.")),
    "rechtskraft": (FinalForm, services.finalize, gettext_lazy("Rechtskraft eingetragen.")),
}


def _reject(
    request: AuthenticatedHttpRequest, application: Application, *, initial: str = ""
) -> HttpResponse:
    """The rejection of an application (Beschluss „abgelehnt“): the shared confirmation step
    with the consequence; its reason is the Beschluss's reasons (issue 14, § 41 Abs. 4
    Ärzte-ZV). GET or a „Beschluss: abgelehnt“ shows it, its own POST decides."""
    back = reverse("admission:staff_detail", args=[application.pk])
    if application.state != State.TERMINIERT:
        messages.error(request, _("Nur terminierte Anträge können abgelehnt werden."))
        return redirect(back)
    confirm = {
        "title": _("Antrag %(r)s ablehnen") % {"r": application.reference},
        "consequence": _(
            "Der Beschluss „abgelehnt“ wird gespeichert und als PDF erzeugt; der Antragsteller "
            "erhält ihn unter „Dokumente“ und eine Nachricht mit den Gründen."
        ),
        "consequences": [
            _("Das Arztregister wird nicht geändert."),
            _("Danach ist nur noch die Rechtskraft einzutragen."),
            _("Die Gründe stehen in der Historie des Antrags."),
        ],
        "action_url": reverse("admission:staff_action", args=[application.pk, "ablehnen"]),
        "submit_label": _("Antrag ablehnen"),
        "cancel_url": back,
    }
    deciding = request.method == "POST" and not initial
    return confirm_then_redirect(
        request,
        RejectForm(request.POST) if deciding else RejectForm(initial={"reason": initial}),
        confirm,
        lambda data: services.decide(
            actor=request.user,
            application=application,
            outcome=Outcome.ABGELEHNT,
            reasons=data["reason"],
        ),
        refusals=(services.AdmissionError,),
        done=_("Beschluss gespeichert: Der Antrag ist abgelehnt."),
        then=back,
    )


@staff_role_required(ZULASSUNG)
@require_http_methods(["GET", "POST"])
def staff_action(request: AuthenticatedHttpRequest, pk: int, action: str) -> HttpResponse:
    application = selectors.staff_application(pk)
    if action == "ablehnen":
        return _reject(request, application)
    if action not in ACTIONS:
        raise Http404("Nicht gefunden.")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form_class, func, success = ACTIONS[action]
    kwargs: dict[str, Any] = {"application": application} if form_class is ScheduleForm else {}
    form = form_class(request.POST, **kwargs)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else str(error))
        return redirect("admission:staff_detail", application.pk)
    values = dict(form.cleaned_data)
    if action == "beschluss" and values["outcome"] == Outcome.ABGELEHNT:
        # a rejection is confirmed first (issue 14): the step shows the reasons entered
        return _reject(request, application, initial=values.get("reasons") or "")
    if action == "zahlung":
        values["reference"] = values.get("reference") or ""
    try:
        func(actor=request.user, application=application, **values)
        messages.success(request, success)
    except services.AdmissionError as exc:
        messages.error(request, str(exc))
    return redirect("admission:staff_detail", application.pk)


@staff_role_required(ZULASSUNG)
def staff_file(request: AuthenticatedHttpRequest, pk: int, kind: str) -> FileResponse:
    # drafts belong to the practice until submitted (as in staff_detail)
    application = selectors.staff_application(pk)
    generated = get_object_or_404(application.files, kind=kind)
    return _stream(request, application, generated.path, generated.download_name, kind)


@staff_role_required(ZULASSUNG)
def staff_attachment(
    request: AuthenticatedHttpRequest, pk: int, attachment_pk: int
) -> FileResponse:
    application = selectors.staff_application(pk)
    item = get_object_or_404(application.attachments, pk=attachment_pk)
    return _stream(request, application, item.path, item.file_name, f"anlage:{item.kind}")


@staff_role_required(ZULASSUNG)
def sessions(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = SessionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.create_session(actor=request.user, **form.cleaned_data)
            messages.success(request, _("Sitzung angelegt."))
            return redirect("admission:sessions")
        except services.AdmissionError as exc:
            form.add_error(None, str(exc))
    items = selectors.committee_sessions(since=timezone.localdate() - dt.timedelta(days=90))
    return render(request, "admission/sessions.html", {"form": form, "sessions": items})


@staff_role_required(ZULASSUNG)
def session_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(CommitteeSession, pk=pk)
    return render(
        request,
        "admission/session_detail.html",
        {"session": session, "applications": session.applications.order_by("created_at")},
    )


@staff_role_required(ZULASSUNG)
@require_http_methods(["GET", "POST"])
def session_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Delete an empty session: the shared confirmation step with a reason (issue 14)."""
    session = get_object_or_404(CommitteeSession, pk=pk)
    confirm = {
        "title": _("Sitzung am %(d)s löschen") % {"d": f"{session.date:%d.%m.%Y}"},
        "consequence": _(
            "Die Sitzung wird aus dem Kalender der Geschäftsstelle entfernt; ihr können keine "
            "Anträge mehr zugeordnet werden."
        ),
        "consequences": [
            _("Nur möglich, solange der Sitzung kein Antrag zugeordnet ist."),
            _("Die Begründung steht im Zugriffsprotokoll."),
        ],
        "action_url": reverse("admission:session_delete", args=[session.pk]),
        "submit_label": _("Sitzung löschen"),
        "cancel_url": reverse("admission:session_detail", args=[session.pk]),
    }
    return confirm_then_redirect(
        request,
        ConfirmReasonForm(request.POST or None),
        confirm,
        lambda data: services.delete_session(
            actor=request.user, session=session, reason=data["reason"]
        ),
        refusals=(services.AdmissionError,),
        done=_("Sitzung gelöscht."),
        then=reverse("admission:sessions"),
    )


@staff_role_required(ZULASSUNG)
def agenda(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(CommitteeSession, pk=pk)
    audit.record(
        actor=request.user, activity=Activity.EXPORT, obj=session, object_repr=str(session)
    )
    response = HttpResponse(pdfs.agenda_pdf(session), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="tagesordnung-{session.bezirk}-{session.date:%Y-%m-%d}.pdf"'
    )
    return response

# Seed 000: billing data only for holders of the billing right (404 otherwise); every upload,
# protocol and receipt retrieval is written to the access log.
"""Member pages (Abrechnung einreichen, overview, protocol, receipt, declaration) and the
staff pages of the Abrechnung department."""

from __future__ import annotations

from typing import Any

from django.contrib import messages as flash
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from kvportal.accounts import scope
from kvportal.accounts.constants import Right, StaffRole
from kvportal.accounts.decorators import member_required, staff_role_required
from kvportal.billing import messages, rules, selectors, services
from kvportal.billing.forms import (
    DeadlineForm,
    KvRejectForm,
    KvResultForm,
    StaffFilterForm,
    SubmissionForm,
    TestRunForm,
    quarter_offer,
)
from kvportal.billing.models import KvResult, Submission
from kvportal.core.confirm import confirm_then_redirect
from kvportal.core.pdf import render_pdf
from kvportal.core.quarters import Quarter
from kvportal.core.storage import private_storage


class SizeLimitUploadHandler(FileUploadHandler):
    """Stops reading an upload as soon as it exceeds the limit (nothing large hits the disk)."""

    def __init__(self, request: HttpRequest | None = None, *, limit: int) -> None:
        super().__init__(request)
        self.limit = limit

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            if self.request is not None:
                # read back with getattr() by the view (an ad-hoc flag on this request)
                self.request.billing_upload_too_large = True  # type: ignore[attr-defined]
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def limit_uploads(request) -> None:
    """Install the size limit before the request body is parsed (no-op if it already was)."""
    if hasattr(request, "_files"):  # body already parsed by a middleware
        return
    request.upload_handlers = [
        SizeLimitUploadHandler(request, limit=services.max_upload_bytes()),
        *request.upload_handlers,
    ]


def too_large_text() -> str:
    return messages.text(
        rules.Problem("file_too_large_limit", {"max": services.max_upload_bytes()})
    )


# --------------------------------------------------------------------------------------------
# member pages


@member_required
def overview(request):
    today = timezone.localdate()
    practices = selectors.overview(request.user, today)
    # issue 14 defect 2: others see who has to give the declaration (one query for all BSNRs)
    names = selectors.declarers_by_practice([item.practice for item in practices])
    for item in practices:
        item.declarers = names.get(item.practice.pk, [])
    return render(
        request,
        "billing/overview.html",
        {
            "practices": practices,
            "opens": services.billing_opens_for(request.user),
            "today": today,
        },
    )


@csrf_exempt
def submit(request):
    if request.method == "POST":
        limit_uploads(request)
    return _submit(request)


@csrf_protect
@member_required
def _submit(request):
    user = request.user
    today = timezone.localdate()
    practices = selectors.billing_practices(user)
    # services.may_declare for all BSNRs in one query (the practices are accessible already)
    show_declare = bool(
        selectors._declarable_ids(user, list(practices.values_list("pk", flat=True)))
    )
    offer = quarter_offer(today, services.billing_opens_for(user))
    initial: dict[str, Any] = {}
    # "Korrigierte Datei hochladen": the same BSNR and quarter preselected
    wanted_bsnr, wanted_quarter = request.GET.get("bsnr", ""), request.GET.get("quarter", "")
    if wanted_bsnr and practices.filter(bsnr=wanted_bsnr).exists():
        initial["betriebsstaette"] = practices.get(bsnr=wanted_bsnr).pk
    if wanted_quarter in {q.slug for q in offer["offered"]}:
        initial["quarter"] = wanted_quarter
    # issue 14 defect 3: a refusal never loses the file choice (kept server-side, this user)
    held = request.session.get(HELD_SESSION_KEY)
    if held and (request.method != "POST" or request.POST.get("held") != "1"):
        _forget_held(request)  # a fresh page or a form without the kept file
        held = None
    form = SubmissionForm(
        request.POST or None,
        request.FILES or None,
        user=user,
        today=today,
        show_declare=show_declare,
        offer=offer,
        initial=initial,
        held_name=(held or {}).get("name", ""),
    )
    duplicate = None
    new_file = request.FILES.get("file") if request.method == "POST" else None
    if request.method == "POST":
        if getattr(request, "billing_upload_too_large", False):
            form.is_valid()  # bind the other fields; the file itself was not kept
            form.errors.pop("file", None)
            form.add_error("file", too_large_text())
        elif form.is_valid():
            upload, filename = new_file, getattr(new_file, "name", "")
            if upload is None:
                upload, filename = services.open_held(actor=user, held=held), held["name"]
            if upload is None:
                form.add_error(
                    "file",
                    _(
                        "Die zuvor gewählte Datei ist nicht mehr vorhanden (nach einer Stunde "
                        "gelöscht). Bitte wählen Sie die Datei erneut aus."
                    ),
                )
            else:
                try:
                    submission = services.receive_submission(
                        actor=user,
                        betriebsstaette=form.cleaned_data["betriebsstaette"],
                        quarter=form.cleaned_data["quarter"],
                        upload=upload,
                        filename=filename,
                        declare=form.cleaned_data.get("declare", False),
                    )
                except services.Refused as refused:
                    duplicate = refused.duplicate
                    for text in refused.texts:
                        form.add_error(None, text)
                    if {p.code for p in refused.problems} & services.FILE_PROBLEMS:
                        _forget_held(request)  # the file itself is the problem
                        form.held_name = ""
                    elif new_file is not None:
                        _keep_held(request, form, new_file)
                else:
                    if upload is not new_file:
                        upload.close()
                    _forget_held(request)
                    return redirect("billing:detail", pk=submission.pk)
                finally:
                    if upload is not new_file and not upload.closed:
                        upload.close()
        elif new_file is not None and "file" not in form.errors:
            _keep_held(request, form, new_file)  # another field was wrong: keep the file
    return render(
        request,
        "billing/submit.html",
        {
            "form": form,
            "duplicate": duplicate,
            "opens": offer["opens"],
            "offer": offer,
            "chosen_late": offer["late"].get(Quarter.parse(initial["quarter"]))
            if "quarter" in initial
            else None,
            "late_windows": sorted(offer["late"].values(), key=lambda w: w.quarter, reverse=True),
            "has_practices": practices.exists(),
            "windows": [services.window_for(Quarter.parse(slug)) for slug in form.quarter_slugs],
        },
    )


HELD_SESSION_KEY = "billing_held_upload"


def _keep_held(request, form: SubmissionForm, upload) -> None:
    """Keep the file of a refused attempt for the next one (replaces an earlier kept file)."""
    _forget_held(request)
    held = services.hold_upload(actor=request.user, upload=upload, filename=upload.name)
    request.session[HELD_SESSION_KEY] = held
    form.held_name = held["name"]


def _forget_held(request) -> None:
    services.drop_held(request.session.pop(HELD_SESSION_KEY, None))


def _detail_context(submission: Submission) -> dict:
    report = submission.report or {}
    return {
        "submission": submission,
        "problems": messages.texts(submission.problems or []),
        "report": report,
        "report_messages": report.get("messages") or [],
        "stats": report.get("stats") or {},
        "window": services.window_for(submission.quarter_obj),
    }


@member_required
def detail(request, pk: int):
    submission = selectors.get_submission(request.user, pk)
    if submission.is_done:
        services.log_access(
            actor=request.user, submission=submission, what="protocol_view", download=False
        )
    context = _detail_context(submission)
    context["history"] = selectors.history(submission)
    context["declaration"] = selectors.declaration_for(
        submission.betriebsstaette, submission.quarter_obj
    )
    practice, quarter = submission.betriebsstaette, submission.quarter_obj
    accepted = services.accepted_submission(practice, quarter)
    context["quarter_accepted"] = accepted
    # issue 14 defect 2: the declaration refers to an accepted file, never to a rejected one
    context["can_declare"] = (
        context["declaration"] is None
        and accepted is not None
        and services.may_declare(request.user, practice)
    )
    context["declarers"] = selectors.declarers(practice)
    context["declaration_url"] = reverse("billing:declare", args=[practice.bsnr, quarter.slug])
    context["correct_url"] = (
        reverse("billing:submit") + f"?bsnr={practice.bsnr}&quarter={quarter.slug}"
    )
    return render(request, "billing/detail.html", context)


def status_payload(submission: Submission) -> dict:
    return {
        "id": submission.pk,
        "state": submission.state,
        "state_label": str(submission.get_state_display()),
        "progress": submission.progress,
        "done": submission.is_done,
        "check_status": submission.check_status,
    }


@member_required
def status(request, pk: int):
    submission = selectors.get_submission(request.user, pk)
    return JsonResponse(status_payload(submission))


def purged_text(submission: Submission) -> str:
    return _("Datei und Prüfprotokoll dieser Einreichung wurden am %(date)s gelöscht.") % {
        "date": timezone.localtime(submission.purged_at).strftime("%d.%m.%Y")
    }


def require_not_purged(submission: Submission) -> None:
    """§ 304 SGB V: after the purge the file and the documents derived from it are gone."""
    if submission.is_purged:
        raise Http404(purged_text(submission))


def protocol_pdf_response(submission: Submission) -> HttpResponse:
    pdf = render_pdf("billing/pdf/protocol.html", _detail_context(submission))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="Pruefprotokoll_{submission.betriebsstaette.bsnr}_'
        f'{submission.quarter}_{submission.pk}.pdf"'
    )
    return response


def receipt_context(submission: Submission) -> dict:
    return {
        "submission": submission,
        "problems": messages.texts(submission.problems or []),
        "declaration": selectors.declaration_for(
            submission.betriebsstaette, submission.quarter_obj
        ),
        "created_at": timezone.now(),
    }


def receipt_pdf_response(submission: Submission) -> HttpResponse:
    pdf = render_pdf("billing/pdf/receipt.html", receipt_context(submission))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="Empfangsbestaetigung_{submission.betriebsstaette.bsnr}_'
        f'{submission.quarter}_{submission.pk}.pdf"'
    )
    return response


@member_required
def protocol_pdf(request, pk: int):
    submission = selectors.get_submission(request.user, pk)
    if not submission.is_done:
        raise Http404(_("Die Prüfung läuft noch."))
    require_not_purged(submission)
    services.log_access(actor=request.user, submission=submission, what="protocol_pdf")
    return protocol_pdf_response(submission)


@member_required
def receipt_pdf(request, pk: int):
    submission = selectors.get_submission(request.user, pk)
    require_not_purged(submission)
    services.log_access(actor=request.user, submission=submission, what="receipt_pdf")
    return receipt_pdf_response(submission)


def _parse_quarter(quarter: str) -> Quarter:
    try:
        return Quarter.parse(quarter)
    except ValueError as exc:
        raise Http404(str(exc)) from exc


def declaration_context(user, practice, q: Quarter) -> dict:
    """Issue 14 defect 2: the full wording, BSNR, quarter, covered LANRs, the accepted file it
    refers to (summary) and who has to give it."""
    declaration = selectors.declaration_for(practice, q)
    files = selectors.declaration_files(practice, q)
    entitled = services.may_declare(user, practice)
    accepted = files["accepted"]
    lanrs = (
        declaration.evidence.get("lanrs") if declaration and declaration.evidence else None
    ) or services.covered_lanrs(practice, q)
    return {
        "practice": practice,
        "quarter": q,
        "declaration": declaration,
        "text": declaration.text if declaration else services.declaration_text(practice, q),
        "lanrs": lanrs,
        "accepted": accepted,
        "stats": (accepted.report or {}).get("stats", {}) if accepted else {},
        "waiting": files["waiting"],
        "entitled": entitled,
        "can_give": entitled and declaration is None and accepted is not None,
        "declarers": selectors.declarers(practice),
        "may_bill": scope.has_right(user, practice, Right.BILLING),
    }


@member_required
def declare(request, bsnr: str, quarter: str):
    """The declaration page of one BSNR and quarter (GET) and giving it (POST)."""
    practice = selectors.declaration_practice(request.user, bsnr)
    q = _parse_quarter(quarter)
    context = declaration_context(request.user, practice, q)
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm") != "1":
            error = _(
                "Bitte bestätigen Sie die Erklärung zur Abrechnung: setzen Sie das Häkchen "
                "unter dem Wortlaut."
            )
        else:
            try:
                services.give_declaration(actor=request.user, betriebsstaette=practice, quarter=q)
            except services.Refused as refused:
                error = " ".join(refused.texts)
            else:
                flash.success(
                    request,
                    _(
                        "Die Erklärung zur Abrechnung für die BSNR %(bsnr)s und das Quartal "
                        "%(q)s ist abgegeben."
                    )
                    % {"bsnr": practice.bsnr, "q": q},
                )
                target = request.POST.get("next", "")
                if target.startswith("/abrechnung/") and "//" not in target:
                    return redirect(target)
                return redirect("billing:declare", bsnr=practice.bsnr, quarter=q.slug)
        context = declaration_context(request.user, practice, q)
    context["error"] = error
    return render(request, "billing/declaration.html", context, status=400 if error else 200)


@member_required
def declaration_pdf(request, bsnr: str, quarter: str):
    """Receipt of a given declaration (tagged PDF)."""
    practice = selectors.declaration_practice(request.user, bsnr)
    q = _parse_quarter(quarter)
    context = declaration_context(request.user, practice, q)
    declaration = context["declaration"]
    if declaration is None:
        raise Http404(_("Für dieses Quartal ist keine Erklärung zur Abrechnung abgegeben."))
    services.log_access(actor=request.user, submission=declaration, what="declaration_pdf")
    context["created_at"] = timezone.now()
    pdf = render_pdf("billing/pdf/declaration.html", context)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="Erklaerung_zur_Abrechnung_{practice.bsnr}_{q.slug}.pdf"'
    )
    return response


# --------------------------------------------------------------------------------------------
# staff pages (role Abrechnung)


@staff_role_required(StaffRole.ABRECHNUNG)
def staff_list(request):
    today = timezone.localdate()
    form = StaffFilterForm(request.GET or None, today=today)
    filters = {}
    if form.is_valid():
        filters = {
            "quarter": form.cleaned_data["quarter"],
            "bsnr": form.cleaned_data["bsnr"].strip(),
            "state": form.cleaned_data["state"],
            "late": form.cleaned_data["late"],
            "current": "1" if form.cleaned_data["current"] else "",
        }
    page = Paginator(selectors.staff_submissions(**filters), 50).get_page(request.GET.get("seite"))
    return render(request, "billing/staff_list.html", {"form": form, "page": page})


#: the query of the rejection step's own URL (its form posts there)
KV_REJECT_STEP = "zurueckweisen"


def _kv_reject(request, submission: Submission, *, initial: str | None = None) -> HttpResponse:
    """The KV's rejection of a submission (issue 14): the shared confirmation step; its reason
    is the note the practice sees. A GET or the result form with „zurückgewiesen“ (its note
    carried over as `initial`) shows it, its own POST decides."""
    back = reverse("billing:staff_detail", args=[submission.pk])
    confirm = {
        "title": _("Einreichung Nr. %(n)s zurückweisen") % {"n": submission.pk},
        "consequence": _(
            "Das Ergebnis der KV-Prüfung wird „von der KV zurückgewiesen“; die Praxis sieht es "
            "mit dem Grund im Prüfprotokoll der Einreichung."
        ),
        "consequences": [
            _("Die Praxis muss eine korrigierte Datei einreichen."),
            _("Der Grund wird im Zugriffsprotokoll gespeichert."),
        ],
        "action_url": f"{back}?schritt={KV_REJECT_STEP}",
        "submit_label": _("Einreichung zurückweisen"),
        "cancel_url": back,
    }
    deciding = request.method == "POST" and initial is None
    if initial is None:  # the step's own page: an earlier rejection's reason, to be changed
        initial = submission.kv_note if submission.kv_result == KvResult.REJECTED else ""
    form = KvRejectForm(request.POST) if deciding else KvRejectForm(initial={"reason": initial})
    return confirm_then_redirect(
        request,
        form,
        confirm,
        lambda data: services.set_kv_result(
            actor=request.user,
            submission=submission,
            result=KvResult.REJECTED,
            note=data["reason"],
        ),
        done=_("Die Einreichung ist von der KV zurückgewiesen."),
        then=back,
    )


@staff_role_required(StaffRole.ABRECHNUNG)
def staff_detail(request, pk: int):
    submission = selectors.staff_submission(pk)
    if request.GET.get("schritt") == KV_REJECT_STEP:
        return _kv_reject(request, submission)
    form = KvResultForm(
        request.POST or None,
        initial={"result": submission.kv_result, "note": submission.kv_note},
    )
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["result"] == KvResult.REJECTED:
            # a rejection is confirmed first (issue 14): the step shows the note entered
            return _kv_reject(request, submission, initial=form.cleaned_data["note"])
        services.set_kv_result(
            actor=request.user,
            submission=submission,
            result=form.cleaned_data["result"],
            note=form.cleaned_data["note"],
        )
        flash.success(request, _("Das Ergebnis der KV-Prüfung ist gespeichert."))
        return redirect("billing:staff_detail", pk=pk)
    if request.method == "GET":
        services.log_access(
            actor=request.user, submission=submission, what="staff_view", download=False
        )
    context = _detail_context(submission)
    context.update(
        {
            "history": selectors.history(submission),
            "declaration": selectors.declaration_for(
                submission.betriebsstaette, submission.quarter_obj
            ),
            "form": form,
            "staff": True,
            "may_recheck": services.recheck_allowed(submission),
        }
    )
    return render(request, "billing/staff_detail.html", context)


@staff_role_required(StaffRole.ABRECHNUNG)
@require_POST
def staff_recheck(request, pk: int):
    submission = selectors.staff_submission(pk)
    try:
        services.restart_check(actor=request.user, submission=submission)
    except services.Refused as refused:
        for text in refused.texts:
            flash.error(request, text)
    else:
        flash.success(request, _("Die Prüfung der Datei wurde erneut gestartet."))
    return redirect("billing:staff_detail", pk=pk)


@staff_role_required(StaffRole.ABRECHNUNG)
def staff_download(request, pk: int):
    submission = selectors.staff_submission(pk)
    require_not_purged(submission)
    services.log_access(actor=request.user, submission=submission, what="file_download")
    handle = private_storage.open(submission.storage_name, "rb")
    return FileResponse(
        handle,
        as_attachment=True,
        filename=submission.original_name,
        content_type="application/octet-stream",
    )


@staff_role_required(StaffRole.ABRECHNUNG)
def staff_protocol_pdf(request, pk: int):
    submission = selectors.staff_submission(pk)
    require_not_purged(submission)
    services.log_access(actor=request.user, submission=submission, what="protocol_pdf")
    return protocol_pdf_response(submission)


@staff_role_required(StaffRole.ABRECHNUNG)
def staff_receipt_pdf(request, pk: int):
    submission = selectors.staff_submission(pk)
    require_not_purged(submission)
    services.log_access(actor=request.user, submission=submission, what="receipt_pdf")
    return receipt_pdf_response(submission)


@staff_role_required(StaffRole.ABRECHNUNG)
def deadlines(request):
    today = timezone.localdate()
    windows = services.windows_around(today, back=4, ahead=4)
    overrides = selectors.deadline_overrides()
    rows = [
        {"quarter": q, "window": w, "override": overrides.get(q.slug)}
        for q, w in sorted(windows.items(), reverse=True)
    ]
    return render(request, "billing/deadlines.html", {"rows": rows})


@staff_role_required(StaffRole.ABRECHNUNG)
def deadline_edit(request, quarter: str):
    try:
        q = Quarter.parse(quarter)
    except ValueError as exc:
        raise Http404(str(exc)) from exc
    window = services.window_for(q)
    form = DeadlineForm(
        request.POST or None,
        initial={"early_from": window.early_from, "starts": window.starts, "ends": window.ends},
    )
    if request.method == "POST":
        if request.POST.get("reset") == "1":
            services.reset_deadline(actor=request.user, quarter=q)
            flash.success(
                request, _("Für das Quartal %(q)s gelten wieder die Standardfristen.") % {"q": q}
            )
            return redirect("billing:deadlines")
        if form.is_valid():
            try:
                services.set_deadline(actor=request.user, quarter=q, **form.cleaned_data)
            except services.Refused as refused:
                for text in refused.texts:
                    form.add_error(None, text)
            else:
                flash.success(
                    request, _("Die Abgabefrist für das Quartal %(q)s ist gespeichert.") % {"q": q}
                )
                return redirect("billing:deadlines")
    return render(
        request,
        "billing/deadline_edit.html",
        {"form": form, "quarter": q, "default": rules.default_window(q)},
    )


# --------------------------------------------------------------------------------------------
# Testabrechnung (issue 12 item 5)


def test_runs(request):
    if request.method == "POST":
        limit_uploads(request)
    return _test_runs(request)


@csrf_protect
@member_required
def _test_runs(request):
    from kvportal.billing import testruns

    form = TestRunForm(request.POST or None, request.FILES or None, user=request.user,
                       today=timezone.localdate())  # fmt: skip
    if request.method == "POST":
        if getattr(request, "billing_upload_too_large", False):
            form.is_valid()
            form.errors.pop("file", None)
            form.add_error("file", too_large_text())
        elif form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                run = testruns.receive_test_run(
                    actor=request.user,
                    betriebsstaette=form.cleaned_data["betriebsstaette"],
                    quarter=form.cleaned_data["quarter"],
                    upload=upload,
                    filename=upload.name,
                )
            except services.Refused as refused:
                for text in refused.texts:
                    form.add_error(None, text)
            else:
                return redirect("billing:test_run_detail", pk=run.pk)
    runs = selectors.test_runs_for(request.user)[:20]
    return render(
        request,
        "billing/test_runs.html",
        {"form": form, "runs": runs, "keep_hours": testruns.keep_hours()},
    )


@member_required
def test_run_detail(request, pk: int):
    run = get_object_or_404(selectors.test_runs_for(request.user), pk=pk)
    services.log_access(actor=request.user, submission=run, what="test_run_view", download=False)
    comparison = run.comparison or {}
    return render(
        request,
        "billing/test_run_detail.html",
        {
            "run": run,
            "groups": [
                ("new", _("Neu gegenüber dem vorigen Testlauf"), comparison.get("new", [])),
                ("fixed", _("Behoben"), comparison.get("fixed", [])),
                ("unchanged", _("Unverändert"), comparison.get("unchanged", [])),
            ],
            "first_run": comparison.get("first_run", False),
        },
    )

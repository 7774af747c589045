# Security: API tokens act only within their holder's billing rights (scope "billing");
# other users' submissions do not exist for the caller (404). Every call is audited.
"""JSON API for practice software: submit a billing file, poll status and protocol, fetch
the receipt. Mounted at /api/v1/billing/."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from kvportal.accounts.api import api_view, json_error
from kvportal.accounts.constants import ApiScope
from kvportal.billing import messages, rules, selectors, services
from kvportal.billing.models import Channel, Submission
from kvportal.billing.views import (
    limit_uploads,
    protocol_pdf_response,
    purged_text,
    receipt_pdf_response,
    too_large_text,
)
from kvportal.core.quarters import Quarter

_STATUS_FOR_CODE = {"no_right": 403, "duplicate": 409, "file_too_large": 413}


def submission_json(submission: Submission) -> dict:
    declaration = selectors.declaration_for(submission.betriebsstaette, submission.quarter_obj)
    base = f"/api/v1/billing/submissions/{submission.pk}"
    return {
        "id": submission.pk,
        "bsnr": submission.betriebsstaette.bsnr,
        "quartal": str(submission.quarter_obj),
        "quartal_kvdt": submission.quarter_obj.kvdt,
        "dateiname": submission.original_name,
        "dateiart": submission.kind,
        "groesse": submission.size,
        "sha256": submission.sha256,
        "eingegangen": timezone.localtime(submission.received_at).isoformat(),
        "eingereicht_von": submission.submitted_by_name,
        "weg": submission.channel,
        "status": submission.state,
        "status_text": str(submission.get_state_display()),
        "fortschritt": submission.progress,
        "abgeschlossen": submission.is_done,
        "pruefergebnis": submission.check_status,
        "zeitpunkt": submission.timing,
        "verspaetet": submission.is_late,
        "gueltig": submission.is_current,
        "nachlieferung": submission.is_supplement,
        "ersetzt_durch_neuere": submission.was_replaced,
        "ersetzt": submission.replaces_id,
        "ablehnungsgruende": messages.texts(submission.problems or []),
        "erklaerung_zur_abrechnung": (
            {
                "abgegeben_am": timezone.localtime(declaration.given_at).isoformat(),
                "abgegeben_von": declaration.given_by_name,
                "form": declaration.method,
            }
            if declaration
            else None
        ),
        "geloescht_am": (
            timezone.localtime(submission.purged_at).isoformat() if submission.is_purged else None
        ),
        "links": (
            {"self": f"{base}/", "portal": reverse("billing:detail", args=[submission.pk])}
            if submission.is_purged
            else {
                "self": f"{base}/",
                "protokoll": f"{base}/protocol/",
                "protokoll_pdf": f"{base}/protocol.pdf",
                "empfangsbestaetigung_pdf": f"{base}/receipt.pdf",
                "portal": reverse("billing:detail", args=[submission.pk]),
            }
        ),
    }


@api_view(scope=ApiScope.BILLING)
@require_http_methods(["GET", "POST"])
def submissions(request):
    if request.method == "POST":
        return _create(request)
    qs = selectors.submissions_for(request.user)
    if request.GET.get("bsnr"):
        qs = qs.filter(betriebsstaette__bsnr=request.GET["bsnr"])
    if request.GET.get("quartal"):
        try:
            qs = qs.filter(quarter=Quarter.parse(request.GET["quartal"]).slug)
        except ValueError as exc:
            return json_error(400, str(exc))
    return JsonResponse(
        {"einreichungen": [submission_json(s) for s in qs[:200]]},
        json_dumps_params={"ensure_ascii": False},
    )


def _upload_request(request, *, missing_file: str):
    """File, practice and quarter of an upload (submission or test run), or the JSON error
    that names the form field at fault."""
    limit_uploads(request)
    upload = request.FILES.get("datei") or request.FILES.get("file")
    if getattr(request, "billing_upload_too_large", False):
        return json_error(413, too_large_text(), codes=["file_too_large"])
    bsnr = (request.POST.get("bsnr") or "").strip()
    quarter_text = (request.POST.get("quartal") or request.POST.get("quarter") or "").strip()
    if upload is None:
        return json_error(400, missing_file)
    if not bsnr:
        return json_error(400, "Die BSNR fehlt (Formularfeld „bsnr“).")
    try:
        quarter = Quarter.parse(quarter_text)
    except ValueError as exc:
        return json_error(400, f"Formularfeld „quartal“: {exc}")
    practice = selectors.practice_by_bsnr(bsnr)
    if practice is None:
        problem = rules.Problem("no_right", {"bsnr": bsnr})
        return json_error(403, messages.text(problem), codes=["no_right"])
    return upload, practice, quarter


def _create(request):
    parsed = _upload_request(
        request, missing_file="Die Abrechnungsdatei fehlt (Formularfeld „datei“)."
    )
    if isinstance(parsed, JsonResponse):
        return parsed
    upload, practice, quarter = parsed
    try:
        submission = services.receive_submission(
            actor=request.user,
            betriebsstaette=practice,
            quarter=quarter,
            upload=upload,
            filename=upload.name,
            channel=Channel.API,
            declare=(request.POST.get("erklaerung") or "").lower() in {"1", "true", "ja"},
        )
    except services.Refused as refused:
        codes = [p.code for p in refused.problems]
        extra: dict = {"codes": codes, "gruende": refused.texts}
        if refused.duplicate is not None:
            extra["duplikat"] = {
                "id": refused.duplicate.pk,
                "links": {"self": f"/api/v1/billing/submissions/{refused.duplicate.pk}/"},
            }
        status = _STATUS_FOR_CODE.get(codes[0], 422) if codes else 422
        return json_error(status, " ".join(refused.texts), **extra)
    submission.refresh_from_db()
    response = JsonResponse(
        submission_json(submission), status=201, json_dumps_params={"ensure_ascii": False}
    )
    response["Location"] = f"/api/v1/billing/submissions/{submission.pk}/"
    return response


def _get(request, pk: int) -> Submission | None:
    return selectors.submissions_for(request.user).filter(pk=pk).first()


def _not_found() -> JsonResponse:
    return json_error(404, "Diese Einreichung gibt es nicht (oder nicht für Ihren Zugang).")


def _purged(submission: Submission) -> JsonResponse:
    return json_error(
        404,
        purged_text(submission),
        codes=["purged"],
        geloescht_am=timezone.localtime(submission.purged_at).isoformat(),
    )


@api_view(scope=ApiScope.BILLING)
@require_http_methods(["GET"])
def submission_detail(request, pk: int):
    submission = _get(request, pk)
    if submission is None:
        return _not_found()
    return JsonResponse(submission_json(submission), json_dumps_params={"ensure_ascii": False})


@api_view(scope=ApiScope.BILLING)
@require_http_methods(["GET"])
def protocol(request, pk: int):
    submission = _get(request, pk)
    if submission is None:
        return _not_found()
    if submission.is_purged:
        return _purged(submission)
    if submission.is_done:
        services.log_access(actor=request.user, submission=submission, what="protocol_api")
    data = submission_json(submission)
    data["protokoll"] = submission.report or {}
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False})


@api_view(scope=ApiScope.BILLING)
@require_http_methods(["GET"])
def protocol_pdf(request, pk: int) -> HttpResponse:
    submission = _get(request, pk)
    if submission is None:
        return _not_found()
    if submission.is_purged:
        return _purged(submission)
    if not submission.is_done:
        return json_error(409, "Die Prüfung läuft noch.", fortschritt=submission.progress)
    services.log_access(actor=request.user, submission=submission, what="protocol_pdf")
    return protocol_pdf_response(submission)


@api_view(scope=ApiScope.BILLING)
@require_http_methods(["GET"])
def receipt_pdf(request, pk: int) -> HttpResponse:
    submission = _get(request, pk)
    if submission is None:
        return _not_found()
    if submission.is_purged:
        return _purged(submission)
    services.log_access(actor=request.user, submission=submission, what="receipt_pdf")
    return receipt_pdf_response(submission)


@api_view(scope=ApiScope.BILLING)
@require_http_methods(["GET"])
def deadlines(request):
    today = timezone.localdate()
    windows = services.windows_around(today, back=4, ahead=1)
    return JsonResponse(
        {
            "fristen": [
                {
                    "quartal": str(q),
                    "vorzeitig_ab": w.early_from.isoformat(),
                    "von": w.starts.isoformat(),
                    "bis": w.ends.isoformat(),
                    "zeitpunkt_heute": rules.classify_timing(w, today).value,
                }
                for q, w in sorted(windows.items(), reverse=True)
            ]
        },
        json_dumps_params={"ensure_ascii": False},
    )


# --------------------------------------------------------------------------------------------
# Testabrechnung (issue 12 item 5)


def test_run_json(run) -> dict:
    comparison = run.comparison or {}
    return {
        "id": run.pk,
        "bsnr": run.betriebsstaette.bsnr,
        "quartal": str(run.quarter_obj),
        "dateiname": run.original_name,
        "hochgeladen": timezone.localtime(run.created_at).isoformat(),
        "loeschung": timezone.localtime(run.expires_at).isoformat(),
        "status": run.state,
        "abgeschlossen": run.state == "done",
        "pruefergebnis": run.check_status,
        "vorheriger_testlauf": run.previous_id,
        "erster_testlauf": comparison.get("first_run"),
        "neu": comparison.get("new", []),
        "behoben": comparison.get("fixed", []),
        "unveraendert": comparison.get("unchanged", []),
        "links": {"self": f"/api/v1/billing/test-runs/{run.pk}/"},
    }


@api_view(scope=ApiScope.BILLING)
@require_http_methods(["GET", "POST"])
def test_runs(request):
    if request.method == "GET":
        runs = selectors.test_runs_for(request.user)[:200]
        return JsonResponse(
            {"testlaeufe": [test_run_json(r) for r in runs]},
            json_dumps_params={"ensure_ascii": False},
        )
    from kvportal.billing import testruns

    parsed = _upload_request(request, missing_file="Die KVDT-Datei fehlt (Formularfeld „datei“).")
    if isinstance(parsed, JsonResponse):
        return parsed
    upload, practice, quarter = parsed
    try:
        run = testruns.receive_test_run(
            actor=request.user,
            betriebsstaette=practice,
            quarter=quarter,
            upload=upload,
            filename=upload.name,
        )
    except services.Refused as refused:
        codes = [p.code for p in refused.problems]
        status = _STATUS_FOR_CODE.get(codes[0], 422) if codes else 422
        return json_error(status, " ".join(refused.texts), codes=codes, gruende=refused.texts)
    run.refresh_from_db()
    response = JsonResponse(
        test_run_json(run), status=201, json_dumps_params={"ensure_ascii": False}
    )
    response["Location"] = f"/api/v1/billing/test-runs/{run.pk}/"
    return response


@api_view(scope=ApiScope.BILLING)
@require_http_methods(["GET"])
def test_run_detail(request, pk: int):
    run = selectors.test_runs_for(request.user).filter(pk=pk).first()
    if run is None:
        return json_error(404, "Diesen Testlauf gibt es nicht (oder nicht für Ihren Zugang).")
    return JsonResponse(test_run_json(run), json_dumps_params={"ensure_ascii": False})

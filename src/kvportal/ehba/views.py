# Security (gematik IDP style): the card answer is checked only against a challenge of this
# browser session; refusals are logged by the services; downloads of application PDFs are
# scoped through the owning app and written to the access log.
"""eHBA pages: card login, second factor, registration, QES signing of applications."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from kvportal import audit
from kvportal.accounts.constants import StaffRole
from kvportal.accounts.decorators import member_required, staff_role_required
from kvportal.audit.models import Activity
from kvportal.cardlib.origins import normalise_origin
from kvportal.ehba import selectors, services
from kvportal.ehba.forms import (
    CardAnswerForm,
    RegisterForm,
    SecondFactorSettingForm,
    SignedUploadForm,
)
from kvportal.ehba.models import (
    ChallengePurpose,
    RegistrationEnd,
)

if TYPE_CHECKING:
    from kvportal.accounts.models import User

#: At most this many unanswered challenges per session within CHALLENGE_WINDOW.
MAX_OPEN_CHALLENGES = 10
CHALLENGE_WINDOW = dt.timedelta(minutes=5)


def agent_url() -> str:
    return str(settings.EHBA_AGENT_URL).rstrip("/")


def portal_origin(request: HttpRequest) -> str:
    return normalise_origin(request.build_absolute_uri("/"))


def _user(request: HttpRequest) -> User:
    """`request.user` in a view behind `login_required`/`member_required`/`staff_role_required`,
    narrowed to `User` (the decorators let only a logged-in user through)."""
    user = request.user
    if not user.is_authenticated:  # pragma: no cover - the decorators answer first
        raise PermissionDenied
    return user


def _session_key(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key or ""


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(settings.LOGIN_REDIRECT_URL)


def _card_context(request: HttpRequest, purpose: ChallengePurpose, **extra) -> dict:
    return {
        "agent_url": agent_url(),
        "challenge_url": reverse("ehba:challenge"),
        "purpose": purpose.value,
        "next": request.POST.get("next") or request.GET.get("next") or "",
        **extra,
    }


# --- challenge --------------------------------------------------------------------------------


@never_cache
@require_POST
def challenge(request: HttpRequest) -> JsonResponse:
    """Issue a challenge for this session (JSON); used by static/ehba/ehba.js."""
    try:
        purpose = ChallengePurpose(request.POST.get("purpose", ChallengePurpose.LOGIN))
    except ValueError:
        return JsonResponse({"error": _("Unbekannter Vorgang.")}, status=400)
    user = request.user if request.user.is_authenticated else None
    if purpose != ChallengePurpose.LOGIN and user is None:
        return JsonResponse({"error": _("Bitte melden Sie sich zuerst an.")}, status=403)
    key = _session_key(request)
    recent = selectors.open_challenge_count(
        services.session_hash(key), since=timezone.now() - CHALLENGE_WINDOW
    )
    if recent >= MAX_OPEN_CHALLENGES:
        return JsonResponse(
            {"error": _("Zu viele offene Anmeldeanfragen. Bitte warten Sie einige Minuten.")},
            status=429,
        )
    value = services.issue_challenge(
        actor=user, session_key=key, purpose=purpose, audience=portal_origin(request)
    )
    return JsonResponse(
        {
            "challenge": value,
            "expires_in": services.challenge_seconds(),
            "agent_url": agent_url(),
        }
    )


# --- login with the card alone ----------------------------------------------------------------


def _account_locked(request: HttpRequest, user) -> bool:
    try:
        from axes.handlers.proxy import AxesProxyHandler
    except ImportError:  # pragma: no cover - axes is a dependency
        return False
    return AxesProxyHandler.is_locked(request, credentials={"username": user.get_username()})


@never_cache
def card_login(request: HttpRequest) -> HttpResponse:
    # is_verified() is attached to request.user at runtime by django_otp's OTPMiddleware
    if request.user.is_authenticated and request.user.is_verified():  # type: ignore[attr-defined]
        return redirect(_next_url(request))
    form = CardAnswerForm(request.POST if request.method == "POST" else None)
    error = ""
    if request.method == "POST" and form.is_valid():
        outcome = services.verify_card_response(
            actor=None,
            session_key=_session_key(request),
            purpose=ChallengePurpose.LOGIN,
            audience=portal_origin(request),
            token=form.cleaned_data["token"],
            agent_error=form.cleaned_data["agent_error"],
        )
        if outcome.ok and _account_locked(request, outcome.user):
            audit.record(
                actor=outcome.user,
                activity=Activity.LOGIN_FAILED,
                obj=outcome.user,
                detail={"method": "ehba", "reason": "account_locked"},
            )
            error = _("Ihr Konto ist gesperrt. Bitte wenden Sie sich an das Arztregister der KV.")
        elif outcome.ok:
            login(request, outcome.user, backend="django.contrib.auth.backends.ModelBackend")
            otp_login(request, outcome.registration)
            messages.success(request, _("Sie sind mit Ihrem eHBA angemeldet."))
            return redirect(_next_url(request))
        else:
            error = outcome.message
        form = CardAnswerForm()
    return render(
        request,
        "ehba/login.html",
        _card_context(request, ChallengePurpose.LOGIN, form=form, error=error),
        status=400 if error else 200,
    )


# --- second factor after the password -----------------------------------------------------------


@never_cache
@login_required
def second_factor(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user.is_verified():  # type: ignore[attr-defined]  # django_otp's OTPMiddleware adds it
        return redirect(_next_url(request))
    if services.active_registration(user) is None:
        raise Http404("Kein eHBA registriert.")
    form = CardAnswerForm(request.POST if request.method == "POST" else None)
    error = ""
    if request.method == "POST" and form.is_valid():
        outcome = services.verify_card_response(
            actor=user,
            session_key=_session_key(request),
            purpose=ChallengePurpose.SECOND_FACTOR,
            audience=portal_origin(request),
            token=form.cleaned_data["token"],
            agent_error=form.cleaned_data["agent_error"],
        )
        if outcome.ok:
            otp_login(request, outcome.registration)
            messages.success(request, _("Anmeldung mit eHBA bestätigt."))
            return redirect(_next_url(request))
        error = outcome.message
        form = CardAnswerForm()
    return render(
        request,
        "ehba/second_factor.html",
        _card_context(request, ChallengePurpose.SECOND_FACTOR, form=form, error=error),
        status=400 if error else 200,
    )


# --- registration ---------------------------------------------------------------------------------


@never_cache
@member_required
def register(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    allowed = services.can_register(user)
    current = services.active_registration(user)
    form = RegisterForm(request.POST if request.method == "POST" else None)
    error = ""
    if request.method == "POST":
        if not allowed:
            raise PermissionDenied(services.refusal_message("not_member"))
        if form.is_valid():
            outcome = services.register_card(
                actor=user,
                session_key=_session_key(request),
                audience=portal_origin(request),
                token=form.cleaned_data["token"],
                agent_error=form.cleaned_data["agent_error"],
                second_factor=form.cleaned_data["second_factor"],
            )
            if outcome.ok:
                assert outcome.registration is not None  # set on every successful outcome
                messages.success(
                    request,
                    _("Ihr eHBA (Telematik-ID %(tid)s) ist registriert.")
                    % {"tid": outcome.registration.telematik_id},
                )
                return redirect("ehba:register")
            error = outcome.message
            form = RegisterForm()
    history = selectors.registration_history(user)
    return render(
        request,
        "ehba/register.html",
        _card_context(
            request,
            ChallengePurpose.REGISTER,
            form=form,
            error=error,
            allowed=allowed,
            current=current,
            history=history,
            setting_form=SecondFactorSettingForm(
                initial={"second_factor": current.second_factor if current else False}
            ),
        ),
        status=400 if error else 200,
    )


@member_required
@require_POST
def registration_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    registration = selectors.own_active_registration(user, pk)
    services.end_registration(actor=user, registration=registration, reason=RegistrationEnd.REMOVED)
    messages.success(request, _("Die Registrierung Ihres eHBA wurde entfernt."))
    return redirect("ehba:register")


@member_required
@require_POST
def registration_second_factor(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    registration = selectors.own_active_registration(user, pk)
    form = SecondFactorSettingForm(request.POST)
    if form.is_valid():
        services.set_second_factor(
            actor=user,
            registration=registration,
            required=form.cleaned_data["second_factor"],
        )
        messages.success(request, _("Ihre Einstellung wurde gespeichert."))
    return redirect("ehba:register")


# --- qualified signatures on applications ---------------------------------------------------------


def _signer_status(documents, required) -> list[dict]:
    """Per document: who signed (latest accepted report) and who is still missing."""
    rows = []
    for document in documents:
        report = document.reports.filter(accepted=True).order_by("-created_at", "-id").first()
        signed = list(report.signatures.all()) if report else []
        if isinstance(required, services.AnyOf):
            missing = [] if document.complete else [_("eine unterschriftsberechtigte Person")]
        elif report:
            missing = report.missing_signers
        else:
            missing = [getattr(s, "label", "") or f"{s.given_name} {s.surname}" for s in required]
        rows.append({"document": document, "report": report, "signed": signed, "missing": missing})
    return rows


@never_cache
@login_required
def sign_application(request: HttpRequest, label: str, pk: str) -> HttpResponse:
    user = _user(request)
    application = selectors.application_for(user, label, pk)
    signable = services.signable_for(label)
    assert signable is not None  # application_for() answers 404 for a label without one
    staff = selectors.is_staff(user)
    is_open = signable.is_open(application)
    if not staff and is_open:
        documents = services.prepare_documents(actor=user, application=application)
    else:
        documents = services.current_documents(application)
    required = signable.required_signers(application)
    audit.record(
        actor=user, activity=Activity.VIEW, obj=application, detail={"ehba": "signing_page"}
    )
    return render(
        request,
        "ehba/sign.html",
        {
            "application": application,
            "signable": signable,
            "label": label,
            "rows": _signer_status(documents, required),
            "required": required,
            "required_any": isinstance(required, services.AnyOf),
            "reports": services.reports_of(application)[:50],
            "complete": services.application_complete(application),
            "can_sign": not staff and is_open,
            "upload_form": SignedUploadForm(),
            "agent_url": agent_url(),
            "back_url": signable.detail_url(application) if signable.detail_url else "",
        },
    )


@login_required
def document_download(request: HttpRequest, pk: int, version: str) -> FileResponse:
    if version not in ("original", "aktuell"):
        raise Http404("Nicht gefunden.")
    document = selectors.document_for(request.user, pk)
    content = services.read_document(document, original=version == "original")
    audit.record(
        actor=request.user,
        activity=Activity.DOWNLOAD,
        obj=document.application,
        detail={"ehba_document": document.key, "version": version},
    )
    from io import BytesIO

    suffix = "original" if version == "original" else f"signaturen-{document.signature_count}"
    response = FileResponse(
        BytesIO(content),
        content_type="application/pdf",
        as_attachment=True,
        filename=f"{document.key}-{suffix}.pdf",
    )
    response["Cache-Control"] = "no-store"
    return response


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@member_required
@require_POST
def document_upload(request: HttpRequest, pk: int) -> HttpResponse:
    document = selectors.document_for(request.user, pk)
    form = SignedUploadForm(request.POST, request.FILES)
    report = None
    if not form.is_valid():
        message = " ".join(str(e) for errors in form.errors.values() for e in errors)
        ok = False
    else:
        try:
            report = services.submit_signed_document(
                actor=_user(request),
                document=document,
                signed_pdf=form.cleaned_data["signed_pdf"].read(),
            )
        except services.UploadRejected as exc:
            ok, message, report = False, " ".join(exc.messages), exc.report
        else:
            ok = True
            message = _("„%(title)s“: Signatur geprüft und übernommen (%(verdict)s).") % {
                "title": document.title,
                "verdict": report.get_verdict_display(),
            }
    report_url = reverse("ehba:report", args=[report.pk]) if report else ""
    if _wants_json(request):
        application = document.application
        assert application is not None  # object_id is required: a document has its application
        return JsonResponse(
            {
                "ok": ok,
                "message": message,
                "report_url": report_url,
                "complete": services.application_complete(application),
            },
            status=200 if ok else 422,
        )
    (messages.success if ok else messages.error)(request, message)
    ct = document.content_type
    return redirect("ehba:sign", label=f"{ct.app_label}.{ct.model}", pk=document.object_id)


@login_required
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = selectors.report_for(request.user, pk)
    ct = report.content_type
    audit.record(
        actor=request.user,
        activity=Activity.VIEW,
        obj=report.application,
        detail={"ehba_report": report.pk},
    )
    return render(
        request,
        "ehba/report.html",
        {
            "report": report,
            "signatures": report.signatures.all(),
            "label": f"{ct.app_label}.{ct.model}",
        },
    )


@staff_role_required(StaffRole.ARZTREGISTER)
def staff_registrations(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "ehba/staff_registrations.html",
        {"registrations": selectors.registrations_for_staff()[:200]},
    )

"""Account self-service pages: profile (e-mail, sessions), "Passwort vergessen", the holder's
password reset for Praxispersonal (with its letter), the Arztregister's request list."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kvportal.accounts.constants import StaffRole
from kvportal.accounts.decorators import member_required, staff_role_required
from kvportal.core.http import AuthenticatedHttpRequest
from kvportal.selfservice import selectors, services
from kvportal.selfservice.forms import EmailForm, ForgotPasswordForm

REQUESTS_PER_HOUR = 5


@login_required
def profile(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = EmailForm(request.POST or None, initial={"email": request.user.email})
    if request.method == "POST" and form.is_valid():
        changed = form.cleaned_data["email"].strip().lower() != (request.user.email or "").lower()
        services.change_email(actor=request.user, email=form.cleaned_data["email"])
        messages.success(request, _("Ihre E-Mail-Adresse wurde gespeichert."))
        if changed:  # issue 14: a new address is confirmed before any notice goes there
            _send_confirmation(request)
        return redirect("selfservice:profile")
    row = services.email_confirmation_of(request.user)
    return render(
        request,
        "selfservice/profile.html",
        {
            "form": form,
            "sessions": selectors.active_sessions(request.user),
            "current_key": request.session.session_key,
            "email_confirmed": bool(row and row.confirms(request.user.email)),
            "confirmation_sent": row.sent_at if row and row.token_hash else None,
        },
    )


def _send_confirmation(request) -> bool:
    from django.core.exceptions import ValidationError

    try:
        services.request_email_confirmation(actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return False
    messages.info(
        request,
        _("Wir haben Ihnen einen Bestätigungslink an %(email)s gesendet.")
        % {"email": request.user.email},
    )
    return True


@login_required
@require_POST
def email_confirm_request(request):
    _send_confirmation(request)
    return redirect("selfservice:profile")


def email_confirm(request, token: str):
    """The link from the mail: GET shows a button (mail scanners open links), POST confirms."""
    from django.core.exceptions import ValidationError

    error = ""
    if request.method == "POST":
        try:
            services.confirm_email(raw_token=token)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(
                request,
                _(
                    "Ihre E-Mail-Adresse ist bestätigt. Sie werden benachrichtigt, wenn neue "
                    "Dokumente bereitstehen."
                ),
            )
            if request.user.is_authenticated:
                return redirect("selfservice:profile")
            return redirect("accounts:login")
    return render(request, "selfservice/email_confirm.html", {"error": error})


@login_required
@require_POST
def session_end(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    record = selectors.own_session(request.user, pk)
    if record.session_key == request.session.session_key:
        messages.error(request, _("Ihre aktuelle Sitzung beenden Sie mit „Abmelden“."))
        return redirect("selfservice:profile")
    services.end_session(actor=request.user, record=record)
    messages.success(request, _("Die Sitzung wurde beendet."))
    return redirect("selfservice:profile")


@login_required
@require_POST
def sessions_end_others(request: AuthenticatedHttpRequest) -> HttpResponse:
    # a logged-in request always has a session key ("" would keep no session either)
    current_key = request.session.session_key or ""
    count = services.end_other_sessions(actor=request.user, current_key=current_key)
    messages.success(request, _("%(n)d andere Sitzung(en) beendet.") % {"n": count})
    return redirect("selfservice:profile")


def forgot_password(request: HttpRequest) -> HttpResponse:
    form = ForgotPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        key = f"selfservice-forgot:{request.META.get('REMOTE_ADDR', '')}"
        if cache.get(key, 0) >= REQUESTS_PER_HOUR:
            form.add_error(
                None,
                _(
                    "Von Ihrem Anschluss kamen in der letzten Stunde schon mehrere Anforderungen. "
                    "Bitte rufen Sie die Hotline an (Kontakt und Hotline, unten auf der Seite)."
                ),
            )
        else:
            if not cache.add(key, 1, 3600):
                cache.incr(key)
            user = request.user if request.user.is_authenticated else None
            services.request_credential_letter(
                actor=user, username=form.cleaned_data["username"], bsnr=form.cleaned_data["bsnr"]
            )
            return redirect("selfservice:forgot_done")
    return render(request, "selfservice/forgot_password.html", {"form": form})


def forgot_done(request: HttpRequest) -> HttpResponse:
    return render(request, "selfservice/forgot_done.html")


@member_required
@require_POST
def praxispersonal_reset(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """New initial password for a Praxispersonal account; answers with the letter (PDF)."""
    from kvportal.selfservice.letters import praxispersonal_letter_pdf

    target = selectors.praxispersonal_of(request.user, pk)
    try:
        password = services.reset_praxispersonal_password(actor=request.user, target=target)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return redirect("accounts:staff_accounts")
    target.refresh_from_db()
    pdf = praxispersonal_letter_pdf(holder=request.user, target=target, password=password)
    response = HttpResponse(pdf, content_type="application/pdf")
    stamp = timezone.localdate().strftime("%Y%m%d")
    response["Content-Disposition"] = (
        f'attachment; filename="zugangsbrief-{target.username}-{stamp}.pdf"'
    )
    return response


@staff_role_required(StaffRole.ARZTREGISTER)
def staff_requests(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(
        request,
        "selfservice/staff_requests.html",
        {"requests": selectors.open_letter_requests()},
    )


@staff_role_required(StaffRole.ARZTREGISTER)
@require_POST
def staff_request_done(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    services.mark_request_handled(actor=request.user, request=selectors.letter_request(pk))
    messages.success(request, _("Die Anforderung ist als erledigt markiert."))
    return redirect("selfservice:staff_requests")

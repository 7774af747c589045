"""Login, logout, password change, TOTP, own access log, Praxispersonal, API tokens."""

from __future__ import annotations

import io

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp import user_has_device

from kvportal import audit
from kvportal.accounts import selectors, services
from kvportal.accounts.constants import AccountKind, Right
from kvportal.accounts.decorators import member_required
from kvportal.accounts.forms import (
    AccessLogFilterForm,
    ApiTokenForm,
    LoginForm,
    NotificationForm,
    OtpTokenForm,
    PasswordChangeForm,
    PraxispersonalForm,
)
from kvportal.accounts.models import User
from kvportal.accounts.passwords import password_conventions
from kvportal.audit.models import Activity
from kvportal.core.http import AuthenticatedHttpRequest


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        reason = self.request.GET.get("grund")
        context["reason"] = {
            "zeitablauf": _(
                "Sie wurden nach längerer Inaktivität automatisch abgemeldet. "
                "Bitte melden Sie sich erneut an."
            ),
            "abgemeldet": _("Sie haben sich abgemeldet. Ihre Sitzung ist beendet."),
        }.get(reason or "")
        return context


class LogoutView(auth_views.LogoutView):
    def get_success_url(self):
        return "/anmelden/?grund=abgemeldet"


@login_required
def password_change(request: AuthenticatedHttpRequest) -> HttpResponse:
    user: User = request.user
    form = PasswordChangeForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.change_password(
            actor=user, user=user, new_password=form.cleaned_data["new_password1"]
        )
        update_session_auth_hash(request, user)
        messages.success(request, _("Ihr Passwort wurde geändert."))
        return redirect("core:home")
    return render(
        request,
        "accounts/password_change.html",
        {"form": form, "forced": user.must_change_password, "conventions": password_conventions()},
    )


@login_required
def otp_verify(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = OtpTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"].strip()
        for device in selectors.confirmed_totp_devices(request.user):
            if device.verify_token(token):
                otp_login(request, device)
                target = request.GET.get("next", "")
                if not url_has_allowed_host_and_scheme(
                    target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
                ):
                    target = "core:home"
                return redirect(target)
        audit.record(actor=request.user, activity=Activity.OTP_FAILED, obj=request.user)
        form.add_error("token", _("Der Sicherheitscode ist falsch oder abgelaufen."))
    return render(request, "accounts/otp_verify.html", {"form": form})


def _qr_svg(url: str) -> str:
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


@login_required
def otp_setup(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    # is_verified() is attached to request.user at runtime by django_otp's OTPMiddleware
    if user_has_device(user, confirmed=True) and user.is_verified():  # type: ignore[attr-defined]
        return render(request, "accounts/otp_setup.html", {"active": True})
    device = services.totp_enrolment_device(actor=user)
    form = OtpTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"]
        if services.confirm_totp_device(actor=user, device=device, token=token):
            device.refresh_from_db()
            otp_login(request, device)
            messages.success(request, _("Der zweite Faktor ist eingerichtet."))
            return redirect("core:home")
        form.add_error("token", _("Der Sicherheitscode ist falsch. Bitte erneut versuchen."))
    import base64

    secret = base64.b32encode(device.bin_key).decode()
    return render(
        request,
        "accounts/otp_setup.html",
        {"form": form, "qr_svg": _qr_svg(device.config_url), "secret": secret},
    )


@login_required
def access_log(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Own log; holders of the BSNR-wide right also see who accessed the practice's documents."""
    user = request.user
    show = request.GET.get("ansicht", "eigen")
    entries, can_see_practice = selectors.access_log(user, practice_view=show == "praxis")
    filters = AccessLogFilterForm(request.GET or None, initial={"ansicht": show})
    entries = filters.apply(entries)
    page = Paginator(entries, 50).get_page(request.GET.get("seite"))
    return render(
        request,
        "accounts/access_log.html",
        {"page": page, "show": show, "can_see_practice": can_see_practice, "filters": filters},
    )


@member_required
def staff_accounts(request: AuthenticatedHttpRequest) -> HttpResponse:
    user: User = request.user
    if user.kind != AccountKind.MEMBER:
        raise PermissionDenied(_("Praxispersonal kann keine weiteren Konten anlegen."))
    practices = selectors.delegating_practices(user)
    form = PraxispersonalForm(practices, request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            new_user, password = services.create_praxispersonal(
                actor=user,
                betriebsstaette=form.cleaned_data["betriebsstaette"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                email=form.cleaned_data["email"],
                rights=[Right(r) for r in form.cleaned_data["rights"]],
            )
        except (PermissionDenied, ValidationError) as exc:
            form.add_error("rights", str(exc.messages[0] if hasattr(exc, "messages") else exc))
        else:
            created = {"user": new_user, "password": password}
            form = PraxispersonalForm(practices)
    rights = selectors.praxispersonal_rights(practices)
    return render(
        request,
        "accounts/staff_accounts.html",
        {"form": form, "rights": rights, "created": created, "has_practices": practices.exists()},
    )


@member_required
@require_POST
def staff_right_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    if request.user.kind != AccountKind.MEMBER:
        raise Http404
    practices = selectors.delegating_practices(request.user)
    portal_right = selectors.delegated_right(practices, pk)
    try:
        services.revoke_right(actor=request.user, portal_right=portal_right)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Das Recht wurde entzogen."))
    return redirect("accounts:staff_accounts")


@login_required
def api_tokens(request: AuthenticatedHttpRequest) -> HttpResponse:
    allowed = services.allowed_api_scopes(request.user)
    if not allowed:
        raise Http404
    form = ApiTokenForm(allowed, request.POST or None)
    raw = None
    if request.method == "POST" and form.is_valid():
        _token, raw = services.create_api_token(
            actor=request.user, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"]
        )
        form = ApiTokenForm(allowed)
    tokens = selectors.api_tokens(request.user)
    return render(request, "accounts/api_tokens.html", {"form": form, "tokens": tokens, "raw": raw})


@login_required
@require_POST
def api_token_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    token = selectors.own_api_token(request.user, pk)
    services.revoke_api_token(actor=request.user, token=token)
    messages.success(request, _("Der API-Zugang wurde widerrufen."))
    return redirect("accounts:api_tokens")


@login_required
def account_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = NotificationForm(
        request.POST or None, initial={"notify_by_email": request.user.notify_by_email}
    )
    if request.method == "POST" and form.is_valid():
        services.set_notification_preference(
            actor=request.user, notify_by_email=form.cleaned_data["notify_by_email"]
        )
        messages.success(request, _("Ihre Einstellungen wurden gespeichert."))
        return redirect("accounts:settings")
    return render(request, "accounts/settings.html", {"form": form})

"""Session security (seed 000 Sicherheitshinweise): idle sessions end automatically after
SESSION_IDLE_MINUTES; first login forces a password change; KV staff must use TOTP."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse

from kvportal import audit
from kvportal.audit.models import Activity

SESSION_KEY = "kvportal_last_activity"


class IdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            last = request.session.get(SESSION_KEY)
            if last is not None and now - last > settings.SESSION_IDLE_MINUTES * 60:
                audit.record(actor=user, activity=Activity.IDLE_TIMEOUT, obj=user)
                request._kvportal_idle_logout = True
                logout(request)
                if request.path.startswith("/api/"):
                    return self.get_response(request)
                return redirect(f"{reverse('accounts:login')}?grund=zeitablauf")
            if not request.path.startswith(settings.STATIC_URL):
                request.session[SESSION_KEY] = now
        return self.get_response(request)


def _allowed_paths() -> tuple[str, ...]:
    from kvportal.core.registry import gate_exempt

    return (
        *(reverse(name) for name in gate_exempt()),
        reverse("accounts:logout"),
        reverse("accounts:password_change"),
        reverse("accounts:otp_verify"),
        reverse("accounts:otp_setup"),
        settings.STATIC_URL,
        "/api/",
    )


class SecurityGateMiddleware:
    """Nothing else is reachable until the forced steps are done."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            target = self._gate(request, user)
            if target and not request.path.startswith(_allowed_paths()):
                return redirect(target)
        return self.get_response(request)

    @staticmethod
    def _gate(request, user) -> str | None:
        from django_otp import user_has_device

        from kvportal.accounts.models import otp_required_for

        verified = user.is_verified() if hasattr(user, "is_verified") else False
        has_device = user_has_device(user, confirmed=True)
        if has_device and not verified:
            return reverse("accounts:otp_verify")
        if user.must_change_password:
            return reverse("accounts:password_change")
        if otp_required_for(user) and not verified:
            return reverse("accounts:otp_setup")
        return None

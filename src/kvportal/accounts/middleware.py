"""Session security (seed 000 Sicherheitshinweise): idle sessions end automatically after
SESSION_IDLE_MINUTES (background polling is no activity); every session ends at the latest
SESSION_COOKIE_AGE after login, whatever the activity; first login forces a password change;
KV staff must use TOTP; authenticated responses are never stored by browsers or proxies."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control

from kvportal import audit
from kvportal.audit.models import Activity

SESSION_KEY = "kvportal_last_activity"
#: set once at login (signals.on_login); the absolute limit counts from here
LOGIN_KEY = "kvportal_login_at"
#: header the portal's own polling scripts send (e.g. billing/progress.js)
BACKGROUND_HEADER = "X-Kvportal-Background"
#: query parameter of the self-reload of pages with data-refresh-seconds (core/portal.js)
AUTO_PARAM = "auto"


def is_background(request) -> bool:
    """Status polling is not user activity: marked by the header our scripts send, `?auto=1`
    (the self-reload of refreshing pages), or a URL
    name listed in settings.KVPORTAL_BACKGROUND_URL_NAMES (polling endpoints)."""
    if request.headers.get(BACKGROUND_HEADER) == "1" or request.GET.get(AUTO_PARAM) == "1":
        return True
    names = settings.KVPORTAL_BACKGROUND_URL_NAMES
    if not names:
        return False
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return match.view_name in names


class IdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            last = request.session.get(SESSION_KEY)
            login_at = request.session.get(LOGIN_KEY)
            if login_at is None:  # session from before this rule: the limit starts now
                login_at = request.session[LOGIN_KEY] = now
            idle = last is not None and now - last > settings.SESSION_IDLE_MINUTES * 60
            expired = now - login_at > settings.SESSION_COOKIE_AGE
            if idle or expired:
                audit.record(
                    actor=user,
                    activity=Activity.IDLE_TIMEOUT,
                    obj=user,
                    detail={"reason": "max_age" if expired and not idle else "idle"},
                )
                request._kvportal_idle_logout = True
                logout(request)
                if request.path.startswith("/api/"):
                    return self.get_response(request)
                return redirect(f"{reverse('accounts:login')}?grund=zeitablauf")
            if not request.path.startswith(settings.STATIC_URL) and not is_background(request):
                request.session[SESSION_KEY] = now
        return self.get_response(request)


class NoStoreMiddleware:
    """Responses to signed-in users (pages with personal data, protocols, receipts,
    downloads) and API responses get ``Cache-Control: no-store``; static files stay
    cacheable."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(settings.STATIC_URL):
            return response
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        if "no-store" in response.get("Cache-Control", ""):
            return response  # the view decided already (e.g. credential letters)
        if signed_in or request.path.startswith("/api/") or getattr(request, "api_token", None):
            add_never_cache_headers(response)  # no-cache, no-store, must-revalidate, private
            patch_cache_control(response, private=True)
        return response


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

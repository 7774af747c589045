"""Session security (seed 000 Sicherheitshinweise): idle sessions end automatically after
SESSION_IDLE_MINUTES (background polling is no activity); every session ends at the latest
SESSION_COOKIE_AGE after login, whatever the activity; first login forces a password change;
KV staff must use TOTP; authenticated responses are never stored by browsers or proxies.

Request cost (issue 13): the activity stamp is written only when it is older than
ACTIVITY_STAMP_SECONDS (so the idle limit holds to the minute, never later than configured);
the second-factor part of the gate (does the user have a confirmed device?) is decided once
per login and again after every device change (version token in the cache, see
`devices_changed`), not with three device queries on every request."""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.contrib.auth import logout
from django.core.cache import cache
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
#: the stored activity stamp is renewed at most this often (seconds; shorter idle limits, as in
#: tests, renew at a thirtieth of the limit)
ACTIVITY_STAMP_SECONDS = 60
#: session key of the gate decision: [device version token, has a confirmed device, checked at]
GATE_KEY = "kvportal_gate"


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


def _stamp_interval() -> float:
    return min(ACTIVITY_STAMP_SECONDS, settings.SESSION_IDLE_MINUTES * 60 / 30)


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
            if (
                (last is None or now - last >= _stamp_interval())
                and not request.path.startswith(settings.STATIC_URL)
                and not is_background(request)
            ):
                request.session[SESSION_KEY] = now
        return self.get_response(request)


class ScopeCacheMiddleware:
    """A user's effective rights and staff roles are read once per request (issue 13;
    accounts/scope.py), not once per helper call."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from kvportal.accounts import scope

        with scope.request_memo():
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
        from kvportal.accounts.models import otp_required_for

        verified = user.is_verified() if hasattr(user, "is_verified") else False
        if not verified and _has_confirmed_device(request, user):
            return reverse("accounts:otp_verify")
        if user.must_change_password:
            return reverse("accounts:password_change")
        if otp_required_for(user) and not verified:
            return reverse("accounts:otp_setup")
        return None


# --------------------------------------------------------------------------- gate decision


def _version_key(user_id: int) -> str:
    return f"kvportal:gate-devices:{user_id}"


def devices_changed(user_id: int) -> None:
    """A second-factor device of the user was enrolled, confirmed, ended or removed: every
    session of the user decides the gate afresh on its next request. A new random token (not a
    counter) so that a cache that lost the key never matches an old decision by chance."""
    cache.set(_version_key(user_id), uuid.uuid4().hex, None)


def _has_confirmed_device(request, user) -> bool:
    """Whether the user holds a confirmed device (TOTP, backup codes, eHBA), decided once per
    login and after each device change instead of with one query per device type per request.
    It is also re-checked once a minute, which bounds a stale decision where several processes
    run without a shared cache (KVPORTAL_CACHE_URL)."""
    from django_otp import user_has_device

    version = cache.get(_version_key(user.pk))
    now = time.time()
    stored = request.session.get(GATE_KEY)
    if (
        isinstance(stored, list)
        and len(stored) == 3
        and stored[0] == version
        and 0 <= now - stored[2] < ACTIVITY_STAMP_SECONDS
    ):
        return bool(stored[1])
    has_device = user_has_device(user, confirmed=True)
    request.session[GATE_KEY] = [version, has_device, now]
    return has_device

"""API authentication for practice software: `Authorization: Bearer <token>`.

Security: tokens are compared by SHA-256 hash, act only within their holder's rights and
scopes, and every call is bound to the holder in the access log."""

from __future__ import annotations

from functools import wraps

from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from kvportal import audit
from kvportal.accounts import selectors, services
from kvportal.accounts.models import ApiToken
from kvportal.audit.models import Activity

NOT_FOUND_TEXT = "Nicht gefunden (oder nicht im Rahmen der Rechte dieses API-Zugangs)."


def json_error(status: int, message: str, **extra) -> JsonResponse:
    return JsonResponse({"fehler": message, **extra}, status=status)


def authenticate_token(request) -> ApiToken | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Bearer "):
        return None
    raw = header[7:].strip()
    token = selectors.api_token_by_raw(raw)
    if token is None or not token.is_active or not token.user.is_active:
        return None
    return token


def api_view(scope: str):
    """Decorator: authenticate the bearer token and require `scope`."""

    def decorator(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            token = authenticate_token(request)
            if token is None:
                audit.record(
                    actor=None,
                    activity=Activity.LOGIN_FAILED,
                    object_type="api",
                    detail={"reason": "token"},
                )
                return json_error(
                    401, "API-Zugang fehlt, ist ungültig, abgelaufen oder widerrufen."
                )
            if scope not in token.scopes:
                return json_error(403, f"Dieser API-Zugang gilt nicht für den Bereich „{scope}“.")
            services.record_token_use(token=token)
            request.user = token.user
            request.api_token = token
            try:
                return view(request, *args, **kwargs)
            except Http404:
                return json_error(404, NOT_FOUND_TEXT)

        return wrapper

    return decorator

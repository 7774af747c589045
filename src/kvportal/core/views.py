from __future__ import annotations

from django.http import Http404, JsonResponse
from django.views import defaults

from kvportal.core import health, openapi_spec, registry


def home(request):
    """Start page at ``/`` (``core:home``): the view the portal app registered
    (``registry.register_start_page``); core itself knows no accounts or practices."""
    view = registry.start_page()
    if view is None:
        raise Http404
    return view(request)


def openapi(request):
    """OpenAPI document of the practice-software API (paths registered by the apps)."""
    return JsonResponse(
        openapi_spec.build_spec(), json_dumps_params={"ensure_ascii": False, "indent": 2}
    )


def healthz(request):
    """Liveness: the process answers. Touches neither database nor storage nor broker, so a
    database outage does not make the orchestrator restart healthy web processes."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """Readiness: the database, the private storage and (when configured) the broker answer.
    503 with a JSON body naming each failed check; no exception texts (they may name hosts)."""
    checks = health.run_checks()
    failed = [name for name, result in checks.items() if not result["ok"]]
    body = {
        "status": "fehler" if failed else "ok",
        "fehlgeschlagen": failed,
        "pruefungen": checks,
    }
    response = JsonResponse(
        body, status=503 if failed else 200, json_dumps_params={"ensure_ascii": False}
    )
    response["Cache-Control"] = "no-store"
    return response


# --------------------------------------------------------------------------- API errors

API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def not_found(request, exception=None):
    """404: JSON with a German message under /api/, the portal's page elsewhere."""
    if _is_api(request):
        return JsonResponse(
            {
                "fehler": "Nicht gefunden: Unter dieser Adresse gibt es nichts "
                "(oder nichts für Ihren Zugang). Die gültigen Adressen stehen in "
                "/api/openapi.json.",
                "pfad": request.path,
            },
            status=404,
            json_dumps_params={"ensure_ascii": False},
        )
    return defaults.page_not_found(request, exception)


def bad_request(request, exception=None):
    """400 (e.g. an unreadable multipart body): JSON under /api/."""
    if _is_api(request):
        return JsonResponse(
            {"fehler": "Die Anfrage ist fehlerhaft aufgebaut und kann nicht gelesen werden."},
            status=400,
            json_dumps_params={"ensure_ascii": False},
        )
    return defaults.bad_request(request, exception)


def server_error(request):
    """500: JSON under /api/ (no stack trace, the error is in the access log)."""
    if _is_api(request):
        return JsonResponse(
            {"fehler": "Interner Fehler. Er wurde protokolliert; bitte später erneut versuchen."},
            status=500,
            json_dumps_params={"ensure_ascii": False},
        )
    return defaults.server_error(request)

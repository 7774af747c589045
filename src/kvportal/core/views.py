from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views import defaults

from kvportal.accounts import rules, scope
from kvportal.accounts.decorators import member_required
from kvportal.accounts.models import PortalRight
from kvportal.core import health, openapi_spec, registry
from kvportal.members import selectors as member_selectors


def home(request):
    """Start page "Meine Praxis": practices, roles and rights, recent activity, panels."""
    from django.contrib.auth.views import redirect_to_login

    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if scope.is_kv_staff(request.user):
        return render(request, "core/staff_home.html", {})
    return member_home(request)


@member_required
def member_home(request):
    from kvportal.accounts import selectors as account_selectors

    user = request.user
    rights = scope.rights_by_practice(user)
    roles = member_selectors.roles_by_practice(user.person_id)
    practices = [
        {
            "practice": practice,
            "rights": [PortalRight(right=r).get_right_display() for r in sorted(held)],
            "roles": roles.get(practice.pk, []),
        }
        for practice, held in rights.items()
    ]
    billing_from = None
    if user.first_password_change_at:
        billing_from = rules.billing_opens_quarter(
            timezone.localdate(user.first_password_change_at)
        )
    panels = []
    for panel in registry.panels():
        context = panel.context(request)
        if context is not None:
            panels.append({"template": panel.template_name, "context": context})
    recent = account_selectors.recent_activity(user, limit=8)
    return render(
        request,
        "core/home.html",
        {"practices": practices, "billing_from": billing_from, "panels": panels, "recent": recent},
    )


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

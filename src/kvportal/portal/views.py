"""The start page "Meine Praxis" (``/``, URL name ``core:home``; registered with core's
``registry.register_start_page`` in ``PortalConfig.ready``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from kvportal.accounts import rules, scope
from kvportal.accounts import selectors as account_selectors
from kvportal.accounts.constants import Right, StaffRole
from kvportal.accounts.decorators import member_required
from kvportal.audit.models import Activity
from kvportal.core import registry
from kvportal.core.http import AuthenticatedHttpRequest, is_authenticated
from kvportal.members import selectors as member_selectors
from kvportal.members.constants import PracticeKind


def home(request: HttpRequest) -> HttpResponse:
    """Start page "Meine Praxis": practices, roles and rights, recent activity, panels."""
    from django.contrib.auth.views import redirect_to_login

    if not is_authenticated(request):
        return redirect_to_login(request.get_full_path())
    if scope.is_kv_staff(request.user):
        return staff_home(request)
    return member_home(request)


def staff_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Start page of KV staff (issue 14): per held staff role the open work with links and the
    deadlines, from the counts each feature app registers (``registry.register_staff_counts``)."""
    held = scope.staff_roles(request.user)
    entries = registry.staff_counts(request.user)
    sections = []
    for role in StaffRole:
        if role.value not in held:
            continue
        mine = [e for e in entries if e["role"] == role.value]
        sections.append(
            {
                "role": role,
                "counts": [e for e in mine if "count" in e],
                "deadlines": [e for e in mine if "deadline" in e],
            }
        )
    return render(request, "core/staff_home.html", {"sections": sections})


@member_required
def member_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    rights = scope.rights_by_practice(user)
    roles = member_selectors.roles_by_practice(user.person_id)
    # labels straight from the choices (issue 13, request-path CPU): get_FOO_display() hashes
    # every lazy label per call — ~20 µs per right, ~100 µs per access-log entry
    labels = {value: str(label) for value, label in Right.choices}
    kinds = {value: str(label) for value, label in PracticeKind.choices}
    practices = [
        {
            "practice": practice,
            "kind": kinds.get(practice.kind, practice.kind),
            "rights": [labels.get(r, r) for r in sorted(held)],
            "roles": roles.get(practice.pk, []),
        }
        for practice, held in rights.items()
    ]
    billing_from = None
    if user.first_password_change_at and scope.practices(user, Right.BILLING).exists():
        billing_from = rules.billing_opens_quarter(
            timezone.localdate(user.first_password_change_at)
        )
    panels = []
    for panel in registry.panels():
        context = panel.context(request)
        if context is not None:
            panels.append({"template": panel.template_name, "context": context})
    activities = {value: str(label) for value, label in Activity.choices}
    recent = [
        {
            "timestamp": entry.timestamp,
            "label": activities.get(entry.activity, entry.activity),
            "object_repr": entry.object_repr,
        }
        for entry in account_selectors.recent_activity(user, limit=8)
    ]
    return render(
        request,
        "core/home.html",
        {
            "practices": practices,
            "billing_from": billing_from,
            "panels": panels,
            "recent": recent,
            "tasks": registry.tasks_for(user),
        },
    )

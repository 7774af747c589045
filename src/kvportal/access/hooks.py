"""Registrations of the access app in the core registry (nav, panel, purger, demo)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

    from kvportal.accounts.models import User


def _is_member(user: User) -> bool:
    from kvportal.accounts.constants import AccountKind

    return user.kind == AccountKind.MEMBER


def _is_arztregister(user: User) -> bool:
    from kvportal.accounts import scope
    from kvportal.accounts.constants import StaffRole

    return scope.is_staff_role(user, StaffRole.ARZTREGISTER)


def panel_context(request: HttpRequest) -> dict[str, Any] | None:
    from kvportal.access.models import AccessApplication

    user = request.user
    if not user.is_authenticated or not _is_member(user):
        return None
    apps = list(AccessApplication.objects.filter(created_by=user).order_by("-created_at")[:3])
    return {"apps": apps}


def register() -> None:
    from kvportal.access import demo, services
    from kvportal.core.registry import (
        NavItem,
        Panel,
        register_demo,
        register_nav,
        register_panel,
        register_purger,
    )

    register_nav(NavItem("Online-Zugang", "access:my_applications", order=70, visible=_is_member))
    register_nav(
        NavItem(
            "Zugangsanträge",
            "access:staff_queue",
            section="staff",
            order=20,
            visible=_is_arztregister,
        )
    )
    register_panel(Panel("access/panel.html", panel_context, order=40))
    from kvportal.access import todo
    from kvportal.core.registry import register_tasks

    register_tasks(todo.tasks)
    register_purger("access_drafts", services.purge_drafts)
    register_demo(60, demo.seed_demo)

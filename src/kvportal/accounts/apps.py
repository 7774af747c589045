# Least privilege in the back office (issue 11): staff roles hold model permissions only for
# their own domain; accounts, groups, devices, lockouts and the access log are superuser-only.
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

if TYPE_CHECKING:
    from kvportal.accounts.models import User

#: Which apps' models each staff role may work on in the back office, and how.
ROLE_APPS: dict[str, dict[str, tuple[str, ...]]] = {
    "Arztregister": {"members": ("view", "add", "change", "delete")},
    "Abrechnung": {"billing": ("view",), "documents": ("view",)},
    "Zulassung": {"admission": ("view",)},
}


def ensure_staff_groups(sender: object = None, **kwargs: Any) -> None:
    from django.contrib.auth.models import Group, Permission
    from django.db.models import Q

    for role, apps in ROLE_APPS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = Q(pk__in=[])
        for app, actions in apps.items():
            for action in actions:
                wanted |= Q(content_type__app_label=app, codename__startswith=f"{action}_")
        group.permissions.set(Permission.objects.filter(wanted))


def _holds_delegable_right(user: User) -> bool:
    """Billing or all documents of a BSNR: what can be delegated or used by practice software
    (an employed doctor with only his own documents has neither, issue 14)."""
    from kvportal.accounts import scope
    from kvportal.accounts.constants import Right

    return any(scope.practices(user, right).exists() for right in (Right.BILLING, Right.DOCS_BSNR))


def _may_use_api(user: User) -> bool:
    from kvportal.accounts.constants import AccountKind

    return user.kind != AccountKind.STAFF


def _member_api(user: User) -> bool:
    return _may_use_api(user) and _holds_delegable_right(user)


def _may_delegate(user: User) -> bool:
    from kvportal.accounts.constants import AccountKind

    return user.kind == AccountKind.MEMBER and _holds_delegable_right(user)


def _staff_api(user: User) -> bool:
    from kvportal.accounts.services import allowed_api_scopes

    return not _may_use_api(user) and bool(allowed_api_scopes(user))


class AccountsConfig(AppConfig):
    name = "kvportal.accounts"
    label = "accounts"
    verbose_name = "Nutzerkonten und Rechte"

    def ready(self) -> None:
        from kvportal.accounts import signals  # noqa: F401
        from kvportal.core.registry import NavItem, register_nav

        post_migrate.connect(ensure_staff_groups, dispatch_uid="kvportal_staff_groups")
        register_nav(NavItem("Meine Praxis", "core:home", order=0))
        # "Verwaltung": the user's own account and what the practice delegates (issue 14)
        admin = "Verwaltung"
        register_nav(NavItem("Mein Konto", "accounts:settings", order=79, group=admin))
        register_nav(
            NavItem(
                "Praxispersonal", "accounts:staff_accounts", order=80, visible=_may_delegate,
                group=admin,
            )
        )  # fmt: skip
        register_nav(
            NavItem(
                "API-Zugänge", "accounts:api_tokens", order=85, visible=_member_api, group=admin
            )
        )
        register_nav(
            NavItem(
                "API-Zugänge", "accounts:api_tokens", section="staff", order=95,
                visible=_staff_api, group=admin,
            )
        )  # fmt: skip
        register_nav(NavItem("Zugriffsprotokoll", "accounts:access_log", order=90, group=admin))
        register_nav(
            NavItem(
                "Backoffice (Admin)",
                "admin:index",
                section="staff",
                order=0,
                visible=lambda u: u.is_staff,
                group=admin,
            )
        )

# Least privilege in the back office (issue 11): staff roles hold model permissions only for
# their own domain; accounts, groups, devices, lockouts and the access log are superuser-only.
from django.apps import AppConfig
from django.db.models.signals import post_migrate

#: Which apps' models each staff role may work on in the back office, and how.
ROLE_APPS = {
    "Arztregister": {"members": ("view", "add", "change", "delete")},
    "Abrechnung": {"billing": ("view",), "documents": ("view",)},
    "Zulassung": {"admission": ("view",)},
}


def ensure_staff_groups(sender=None, **kwargs) -> None:
    from django.contrib.auth.models import Group, Permission
    from django.db.models import Q

    for role, apps in ROLE_APPS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = Q(pk__in=[])
        for app, actions in apps.items():
            for action in actions:
                wanted |= Q(content_type__app_label=app, codename__startswith=f"{action}_")
        group.permissions.set(Permission.objects.filter(wanted))


def _may_use_api(user) -> bool:
    from kvportal.accounts.constants import AccountKind

    return user.kind != AccountKind.STAFF


def _staff_api(user) -> bool:
    from kvportal.accounts.services import allowed_api_scopes

    return not _may_use_api(user) and bool(allowed_api_scopes(user))


class AccountsConfig(AppConfig):
    name = "kvportal.accounts"
    label = "accounts"
    verbose_name = "Nutzerkonten und Rechte"

    def ready(self) -> None:
        from kvportal.accounts import signals  # noqa: F401
        from kvportal.accounts.constants import AccountKind
        from kvportal.core.registry import NavItem, register_nav

        post_migrate.connect(ensure_staff_groups, dispatch_uid="kvportal_staff_groups")
        register_nav(NavItem("Meine Praxis", "core:home", order=0))
        register_nav(
            NavItem(
                "Praxispersonal",
                "accounts:staff_accounts",
                order=80,
                visible=lambda u: u.kind == AccountKind.MEMBER,
            )
        )
        register_nav(NavItem("API-Zugänge", "accounts:api_tokens", order=85, visible=_may_use_api))
        register_nav(
            NavItem(
                "API-Zugänge", "accounts:api_tokens", section="staff", order=95, visible=_staff_api
            )
        )
        register_nav(NavItem("Zugriffsprotokoll", "accounts:access_log", order=90))
        register_nav(
            NavItem(
                "Backoffice (Admin)",
                "admin:index",
                section="staff",
                order=0,
                visible=lambda u: u.is_staff,
            )
        )

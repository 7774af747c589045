from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _is_doctor(user) -> bool:
    from kvportal.accounts.constants import AccountKind

    return bool(
        user.is_authenticated
        and user.kind != AccountKind.STAFF
        and user.person_id
        and user.person.lanr
    )


def _is_billing_staff(user) -> bool:
    from kvportal.accounts import scope
    from kvportal.accounts.constants import StaffRole

    return scope.is_staff_role(user, StaffRole.ABRECHNUNG)


class ArztbriefConfig(AppConfig):
    name = "kvportal.arztbrief"
    label = "arztbrief"
    verbose_name = _("eArztbrief")

    def ready(self) -> None:
        from kvportal.arztbrief import checks, panels, services
        from kvportal.billing.checkdata import register_portal_check
        from kvportal.core import registry

        registry.register_nav(
            registry.NavItem(
                label=_("eArztbrief"), url_name="arztbrief:index", order=97, visible=_is_doctor
            )
        )
        registry.register_nav(
            registry.NavItem(
                label=_("eArztbriefe (GOP 86900/86901)"),
                url_name="arztbrief:staff",
                section="staff",
                order=22,
                visible=_is_billing_staff,
            )
        )
        registry.register_panel(
            registry.Panel(template_name="arztbrief/_panel.html", context=panels.panel, order=25)
        )
        registry.register_template_hook("billing_staff_submission", "arztbrief/_billing_staff.html")
        registry.register_purger("arztbrief", services.purge_unsent)
        register_portal_check(checks.portal_check)
        from kvportal.arztbrief.openapi import PATHS

        registry.register_api_paths(PATHS)
        from kvportal.arztbrief import demo

        registry.register_demo(97, demo.seed)
        if self.apps.is_installed("kvportal.ehba"):
            from kvportal.arztbrief import signing

            signing.register()

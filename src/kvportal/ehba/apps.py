from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _can_register(user) -> bool:
    from kvportal.ehba.services import can_register

    return can_register(user)


def _is_registry_staff(user) -> bool:
    from kvportal.accounts import scope
    from kvportal.accounts.constants import StaffRole

    return scope.is_staff_role(user, StaffRole.ARZTREGISTER)


class EhbaConfig(AppConfig):
    name = "kvportal.ehba"
    label = "ehba"
    verbose_name = _("eHBA und qualifizierte Signatur")

    def ready(self) -> None:
        from kvportal.core import registry
        from kvportal.ehba import services

        registry.register_nav(
            registry.NavItem(
                label=_("eHBA"),
                url_name="ehba:register",
                section="member",
                order=90,
                visible=_can_register,
            )
        )
        registry.register_nav(
            registry.NavItem(
                label=_("eHBA-Registrierungen"),
                url_name="ehba:staff_registrations",
                section="staff",
                order=90,
                visible=_is_registry_staff,
            )
        )
        registry.register_purger("ehba_challenges", services.purge_challenges)
        registry.register_gate_exempt("ehba:second_factor")
        registry.register_gate_exempt("ehba:challenge")
        registry.register_template_hook("login_extras", "ehba/_login_link.html")
        registry.register_template_hook("otp_extras", "ehba/_second_factor_link.html")
        # the signing link on the page of every object an app registered as signable
        registry.register_template_hook("object_actions", "ehba/_object_actions.html")
        registry.register_demo(80, services.seed_demo)
        from kvportal.ehba import checks  # noqa: F401  (registers the deploy checks)

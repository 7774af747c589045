from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _is_member(user) -> bool:
    from kvportal.accounts.constants import AccountKind

    return bool(user.is_authenticated and user.kind != AccountKind.STAFF)


def _has_mailbox(user) -> bool:
    from kvportal.kim import selectors

    return _is_member(user) and selectors.mailboxes(user).exists()


def _is_registry_staff(user) -> bool:
    from kvportal.accounts import scope
    from kvportal.accounts.constants import StaffRole

    return scope.is_staff_role(user, StaffRole.ARZTREGISTER)


class KimConfig(AppConfig):
    name = "kvportal.kim"
    label = "kim"
    verbose_name = _("KIM – Kommunikation im Medizinwesen")

    def ready(self) -> None:
        from kvportal.core import registry
        from kvportal.kim import services

        registry.register_nav(
            registry.NavItem(label=_("KIM"), url_name="kim:overview", order=95, visible=_is_member)
        )
        registry.register_nav(
            registry.NavItem(
                label=_("Postfach"), url_name="kim:mailboxes", order=96, visible=_has_mailbox
            )
        )
        registry.register_nav(
            registry.NavItem(
                label=_("SMC-B-Bestellungen"),
                url_name="kim:staff_smcb",
                section="staff",
                order=95,
                visible=_is_registry_staff,
            )
        )
        registry.register_nav(
            registry.NavItem(
                label=_("KIM-Konten"),
                url_name="kim:staff_accounts",
                section="staff",
                order=96,
                visible=_is_registry_staff,
            )
        )
        registry.register_purger("kim_deregistrations", services.finish_deregistrations)
        from kvportal.kim import services_mailbox

        registry.register_purger("kim_mailbox_retention", services_mailbox.purge_expired)
        from kvportal.kim.openapi import PATHS

        registry.register_api_paths(PATHS)
        from kvportal.kim import demo

        registry.register_demo(95, demo.seed)
        from kvportal.kim import staff

        registry.register_staff_counts(staff.staff_counts)
        from kvportal.kim import inbound  # the KV's service mailboxes (issue 16)

        registry.register_recoverer("kim_service", inbound.poll)

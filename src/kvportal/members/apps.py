from django.apps import AppConfig


def _is_arztregister(user) -> bool:
    from kvportal.accounts import scope
    from kvportal.accounts.constants import StaffRole

    return scope.is_staff_role(user, StaffRole.ARZTREGISTER)


class MembersConfig(AppConfig):
    name = "kvportal.members"
    label = "members"
    verbose_name = "Arztregister"

    def ready(self) -> None:
        from kvportal.core.registry import NavItem, register_nav

        # Issue 14: the registry's daily work in the portal's own staff UI, not the raw admin.
        for label, url_name, order in (
            ("Betriebsstätten", "members:practice_list", 21),
            ("Personen", "members:person_list", 22),
        ):
            register_nav(
                NavItem(label, url_name, section="staff", order=order, visible=_is_arztregister)
            )

from django.apps import AppConfig


class SelfserviceConfig(AppConfig):
    name = "kvportal.selfservice"
    label = "selfservice"
    verbose_name = "Konto-Selbstbedienung (Sitzungen, Passwort vergessen)"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        from kvportal.accounts import scope
        from kvportal.accounts.constants import StaffRole
        from kvportal.core.registry import NavItem, register_nav, register_tasks
        from kvportal.selfservice import services, todo

        user_logged_in.connect(services.on_login, dispatch_uid="selfservice_session_login")
        user_logged_out.connect(services.on_logout, dispatch_uid="selfservice_session_logout")
        register_nav(
            NavItem(
                "Zugangsbrief-Anforderungen",
                "selfservice:staff_requests",
                section="staff",
                order=22,
                visible=lambda u: scope.is_staff_role(u, StaffRole.ARZTREGISTER),
            )
        )
        register_nav(
            NavItem(
                "Profil und Sitzungen",
                "selfservice:profile",
                section="member",
                order=79,
                visible=lambda u: u.kind != "staff",
                group="Verwaltung",
            )
        )
        register_tasks(todo.tasks)
        from kvportal.core.registry import register_staff_counts
        from kvportal.selfservice import staff

        register_staff_counts(staff.staff_counts)

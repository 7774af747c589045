from django.apps import AppConfig


class AdmissionConfig(AppConfig):
    name = "kvportal.admission"
    label = "admission"
    verbose_name = "Zulassungsausschuss"

    def ready(self) -> None:
        from kvportal.accounts import scope
        from kvportal.accounts.constants import StaffRole
        from kvportal.admission import demo, selectors, services
        from kvportal.core.registry import (
            NavItem,
            Panel,
            register_demo,
            register_nav,
            register_panel,
            register_purger,
        )

        register_nav(
            NavItem(
                "Zulassung",
                "admission:list",
                "member",
                order=40,
                visible=lambda user: not scope.is_kv_staff(user),
            )
        )
        register_nav(
            NavItem(
                "Zulassungsausschuss",
                "admission:staff_inbox",
                "staff",
                order=40,
                visible=lambda user: scope.is_staff_role(user, StaffRole.ZULASSUNG),
            )
        )
        register_panel(Panel("admission/_panel.html", selectors.panel, order=45))
        register_purger("zulassung_gebuehrenfrist", services.expire_unpaid_fees)
        register_purger("zulassung_entwuerfe", services.purge_stale_drafts)
        register_purger("zulassung_aufbewahrung", services.purge_closed_files)
        register_demo(60, demo.seed)
        # signatures: this app's signable (issue 13); `apps` is set once ready() runs
        if self.apps is not None and self.apps.is_installed("kvportal.ehba"):
            from kvportal.admission import signing

            signing.register()
        from kvportal.admission import todo
        from kvportal.core.registry import register_tasks

        register_tasks(todo.tasks)
        from kvportal.admission import staff
        from kvportal.core.registry import register_staff_counts

        register_staff_counts(staff.staff_counts)

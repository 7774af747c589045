from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _has_billing(user) -> bool:
    from kvportal.accounts import scope
    from kvportal.accounts.constants import Right

    return scope.practices(user, Right.BILLING).exists()


def _is_billing_staff(user) -> bool:
    from kvportal.accounts import scope
    from kvportal.accounts.constants import StaffRole

    return scope.is_staff_role(user, StaffRole.ABRECHNUNG)


class BillingConfig(AppConfig):
    name = "kvportal.billing"
    label = "billing"
    verbose_name = _("Abrechnung")

    def ready(self) -> None:
        assert self.apps is not None  # Django sets it before ready()
        from kvportal.billing import panels
        from kvportal.billing.demo import seed_demo
        from kvportal.billing.openapi import PATHS
        from kvportal.billing.services import purge_expired_submissions, recover_stalled_checks
        from kvportal.core import registry

        registry.register_nav(
            registry.NavItem(
                label=_("Abrechnung"), url_name="billing:overview", order=20, visible=_has_billing
            )
        )
        registry.register_nav(
            registry.NavItem(
                label=_("Testabrechnung"),
                url_name="billing:test_runs",
                order=21,
                visible=_has_billing,
            )
        )
        registry.register_nav(
            registry.NavItem(
                label=_("Abrechnungseingang"),
                url_name="billing:staff_list",
                section="staff",
                order=20,
                visible=_is_billing_staff,
            )
        )
        registry.register_nav(
            registry.NavItem(
                label=_("Abgabefristen"),
                url_name="billing:deadlines",
                section="staff",
                order=21,
                visible=_is_billing_staff,
            )
        )
        registry.register_panel(
            registry.Panel(template_name="billing/_panel.html", context=panels.panel, order=20)
        )
        registry.register_api_paths(PATHS)
        registry.register_demo(40, seed_demo)
        registry.register_purger("billing", purge_expired_submissions)
        from kvportal.billing.services import purge_held_uploads

        registry.register_purger("billing-held-uploads", purge_held_uploads)
        registry.register_recoverer("billing", recover_stalled_checks)
        from kvportal.billing.testruns import purge_expired_test_runs, recover_stalled_test_runs

        registry.register_purger("billing-test-runs", purge_expired_test_runs)
        registry.register_recoverer("billing-test-runs", recover_stalled_test_runs)
        from kvportal.billing import staff

        registry.register_staff_counts(staff.staff_counts)
        from kvportal.billing import todo

        registry.register_tasks(todo.tasks)  # "Ihre Aufgaben" (issue 14)
        if self.apps.is_installed("kvportal.ehba"):  # signatures: this app's signable (issue 13)
            from kvportal.billing import signing

            signing.register()

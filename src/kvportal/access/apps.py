from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "kvportal.access"
    label = "access"
    verbose_name = "Anträge auf Online-Zugang"

    def ready(self) -> None:
        from kvportal.access import hooks

        hooks.register()
        from kvportal.access import staff
        from kvportal.core import registry

        registry.register_staff_counts(staff.staff_counts)
        # signatures: this app's signable (issue 13); `apps` is set once ready() runs
        if self.apps is not None and self.apps.is_installed("kvportal.ehba"):
            from kvportal.access import signing

            signing.register()

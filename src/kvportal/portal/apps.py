from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "kvportal.portal"
    label = "portal"
    verbose_name = "Mitgliederportal"

    def ready(self) -> None:
        from kvportal.core import registry
        from kvportal.portal import views

        registry.register_start_page(views.home)

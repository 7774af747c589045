from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kvportal.core"
    label = "core"
    verbose_name = "Portal"

    def ready(self) -> None:
        from kvportal.celery import app  # noqa: F401  (registers the Celery app)

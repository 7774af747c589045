from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kvportal.core"
    label = "core"
    verbose_name = "Portal"

    def ready(self) -> None:
        from django.core.signals import request_started

        from kvportal.celery import app  # noqa: F401  (registers the Celery app)
        from kvportal.core import registry
        from kvportal.core.tasks import on_request_started, purge_outbox, recover_outbox

        registry.register_recoverer("outbox", recover_outbox)
        registry.register_purger("outbox", purge_outbox)

        # without a broker, stalled background work is picked up lazily by the running portal
        request_started.connect(on_request_started, dispatch_uid="kvportal-recover-stalled")

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "kvportal.audit"
    label = "audit"
    verbose_name = "Zugriffsprotokoll"

    def ready(self) -> None:
        from kvportal.audit.retention import purge_access_log
        from kvportal.core.registry import register_purger

        register_purger("audit", purge_access_log)

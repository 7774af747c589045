from django.apps import AppConfig


class KvdtConfig(AppConfig):
    """KVDT library; Django only provides the `kvportal kvdt` management command."""

    name = "kvportal.kvdt"
    label = "kvdt"
    verbose_name = "KVDT-Prüfung"
    default_auto_field = "django.db.models.BigAutoField"

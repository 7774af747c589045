from django.apps import AppConfig


class MasterdataConfig(AppConfig):
    """Imported KBV master data; read through `kvportal.masterdata.selectors.for_quarter`."""

    name = "kvportal.masterdata"
    label = "masterdata"
    verbose_name = "KBV-Stammdaten"
    default_auto_field = "django.db.models.BigAutoField"

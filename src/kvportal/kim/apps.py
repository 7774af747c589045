from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KimConfig(AppConfig):
    name = "kvportal.kim"
    label = "kim"
    verbose_name = _("KIM – Kommunikation im Medizinwesen")

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OneClickConfig(AppConfig):
    name = "kvportal.oneclick"
    label = "oneclick"
    verbose_name = _("1-Click-Abrechnung und eSE")

    def ready(self) -> None:
        from kvportal.billing import hooks
        from kvportal.core import registry
        from kvportal.kim import inbound
        from kvportal.oneclick import kimchannel

        inbound.register_service_handler(kimchannel.LIEFERUNG, kimchannel.handle)
        hooks.register_check_done(kimchannel.check_done)
        registry.register_recoverer("oneclick_feedback", kimchannel.recover_feedback)

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
        from kvportal.oneclick import demo, ese_services, kimchannel

        inbound.register_service_handler(kimchannel.LIEFERUNG, kimchannel.handle)
        # the eSE first: the Rueckmeldung then says whether the declaration took effect
        hooks.register_check_done(ese_services.on_check_done)
        hooks.register_check_done(kimchannel.check_done)
        ese_services.register_signable()
        registry.register_template_hook("billing_declaration_extras", "oneclick/_ese_action.html")
        registry.register_recoverer("oneclick_feedback", kimchannel.recover_feedback)
        registry.register_demo(96, demo.seed)  # after kim's practice mailboxes (95)

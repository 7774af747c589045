from django.apps import AppConfig


class LegalConfig(AppConfig):
    name = "kvportal.legal"
    label = "legal"
    verbose_name = "Pflichtseiten (Impressum, Datenschutz, Barrierefreiheit)"

    def ready(self) -> None:
        from kvportal.core.registry import register_gate_exempt, register_purger
        from kvportal.legal import services
        from kvportal.legal.pages import PAGES

        # the legal pages stay reachable while a first password change is pending
        for page in PAGES:
            register_gate_exempt(f"legal:{page.slug}")
        register_gate_exempt("legal:feedback")
        register_purger("legal_feedback", services.purge_feedback)

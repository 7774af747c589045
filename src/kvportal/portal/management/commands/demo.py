"""`kvportal demo`: seed the synthetic demo world (idempotent) and print the logins."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings

from kvportal.core import registry
from kvportal.members.models import Betriebsstaette
from kvportal.portal.demo import DEMO_PASSWORD, MVZ_BSNR, build_world

LOGINS = [
    ("krueger.t", "Geschäftsführer des Trägers, MVZ Elbtal Dresden (Abrechnung, alle Dokumente)"),
    ("berger.a", "Ärztliche Leiterin MVZ (alle Dokumente; Abrechnung automatisch)"),
    ("weber.j", "angestellter Arzt MVZ (Abrechnung, eigene Dokumente)"),
    ("schmidt.l", "angestellte Ärztin MVZ (nur eigene Dokumente; soll einen Antrag bestätigen)"),
    ("fischer.p", "angestellter Arzt MVZ (alle Dokumente der BSNR)"),
    ("keller.m", "angestellte Psychotherapeutin MVZ (nur eigene Dokumente)"),
    ("hahn.m", "Partner BAG Chemnitz (alle Rechte)"),
    ("richter.s", "Partnerin BAG Chemnitz (alle Rechte)"),
    ("neumann.f", "Einzelpraxis Leipzig (alle Rechte)"),
    ("vogel.j", "Psychotherapeutin, Einzelpraxis Leipzig (alle Rechte)"),
    ("neu.erstanmeldung", "Praxispersonal, erste Anmeldung mit Passwortänderung"),
    ("kv.register", "KV: Arztregister (TOTP)"),
    ("kv.abrechnung", "KV: Abrechnung (TOTP)"),
    ("kv.zulassung", "KV: Geschäftsstelle Zulassungsausschuss (TOTP)"),
]


class Command(BaseCommand):
    help = "Legt die Demo-Welt an (synthetische Daten) und zeigt die Demo-Zugänge."

    def handle(self, *args: Any, **options: Any) -> None:
        if not Betriebsstaette.objects.filter(bsnr=MVZ_BSNR).exists():
            # notification mails of the seeders are not shown (they would bury the logins)
            quiet = override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
            with quiet, transaction.atomic():
                world = build_world()
                for seed in registry.demo_seeders():
                    seed(world, self.stdout.write)
            self.stdout.write(self.style.SUCCESS("Demo-Daten angelegt."))
        else:
            self.stdout.write("Demo-Daten sind bereits vorhanden.")
        self.stdout.write(f"\nDemo-Zugänge (Passwort für alle: {DEMO_PASSWORD}):")
        for username, role in LOGINS:
            self.stdout.write(f"  {username:<20} {role}")
        self.stdout.write(
            "\nKV-Mitarbeiter brauchen den zweiten Faktor: Schlüssel "
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ in einer Authenticator-App, "
            "oder `./dev kvportal otp_code kv.register` (nur Demo)."
        )
        portal = settings.PORTAL_URL.rstrip("/")
        self.stdout.write(f"Portal: {portal}/   Backoffice: {portal}/backoffice/")

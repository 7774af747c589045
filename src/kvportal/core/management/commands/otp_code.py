"""`kvportal otp_code USER`: current TOTP code of a demo account (development only)."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Zeigt den aktuellen TOTP-Code eines Demo-Kontos (nur mit KVPORTAL_DEBUG=1)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        if not settings.DEBUG:
            raise CommandError("Nur im Entwicklungsmodus (KVPORTAL_DEBUG=1) verfügbar.")
        device = TOTPDevice.objects.filter(user__username=username, confirmed=True).first()
        if device is None:
            raise CommandError(f"Kein zweiter Faktor für „{username}“ eingerichtet.")
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=0)
        self.stdout.write(f"{code:0{device.digits}d}  (gültig noch {30 - int(time.time()) % 30} s)")

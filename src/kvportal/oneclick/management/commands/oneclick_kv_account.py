"""`kvportal oneclick_kv_account`: the KV's billing address as a KIM service mailbox of the KV
with its directory entry (ENC certificate of the KV card); idempotent."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from kvportal.kim.inbound import ServiceConfigError
from kvportal.oneclick import kvaccount


class Command(BaseCommand):
    help = "KIM-Funktionspostfach und Verzeichniseintrag der Abrechnungsadresse der KV anlegen"

    def handle(self, *args, **options):
        try:
            done = kvaccount.ensure_billing_account(actor=None)
        except ServiceConfigError as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        what = "angelegt/aktualisiert" if done.changed else "unverändert"
        self.stdout.write(
            f"{done.account.address}: KIM-Konto und Verzeichniseintrag {what} "
            f"(Telematik-ID {done.entry.telematik_id}, Zertifikat gültig bis "
            f"{done.entry.enc_not_after:%d.%m.%Y})."
        )

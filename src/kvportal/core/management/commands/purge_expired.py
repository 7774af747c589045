"""`kvportal purge_expired [--dry-run]`: run every retention purge now (also hourly via beat).

Seed 000: access log 31 days; § 304 SGB V: documents at most 10 years."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from kvportal.core.registry import run_purgers


class Command(BaseCommand):
    help = "Löscht abgelaufene Daten (Zugriffsprotokoll, Dokumente, …); --dry-run zeigt nur an."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="nur anzeigen, nichts löschen")

    def handle(self, *args, dry_run=False, **options):
        for result in run_purgers(now=timezone.now(), dry_run=dry_run):
            verb = "würden gelöscht" if dry_run else "gelöscht"
            self.stdout.write(f"{result.name}: {result.count} {verb}")
            for item in result.items:
                self.stdout.write(f"  - {item}")

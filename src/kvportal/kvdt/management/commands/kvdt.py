"""`kvportal kvdt check FILE [--quarter QJJJJ] [--json]` and `kvportal kvdt generate ...`.

The logic lives in the Django-free `kvportal.kvdt.cli`; the exit code of `check` is the
check result (0 OK, 1 warnings, 2 faulty, 3 aborted).
"""

from __future__ import annotations

import argparse
import sys

from django.core.management.base import BaseCommand

from kvportal.kvdt.cli import main


class Command(BaseCommand):
    help = "KVDT-Abrechnungsdateien prüfen (check) und synthetisch erzeugen (generate)."
    requires_system_checks: list = []
    exit_code = 0

    def add_arguments(self, parser):
        parser.add_argument("kvdt_args", nargs=argparse.REMAINDER, help="check … | generate …")

    def run_from_argv(self, argv):
        # Bypass Django's option parsing: the sub-commands have their own parser and the
        # process exit code must be the check result.
        sys.exit(main(argv[2:], prog=f"{argv[0]} {argv[1]}"))

    def handle(self, *args, **options):
        argv = list(options.get("kvdt_args") or args)
        self.exit_code = main(argv, stdout=self.stdout, stderr=self.stderr, prog="kvdt")

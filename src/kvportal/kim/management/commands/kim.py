"""`kvportal kim open FILE [--key PEM] [--trust PEM …] [--out FILE]`.

The logic lives in the Django-free `kvportal.kim.cli`; exit codes are documented there.
"""

from __future__ import annotations

import argparse
import sys

from django.core.management.base import BaseCommand

from kvportal.kim.cli import main


class Command(BaseCommand):
    help = "KIM: open, serve, client, purge, filter, checkpassword (kvportal kim BEFEHL --help)"
    requires_system_checks: list = []
    exit_code = 0

    def add_arguments(self, parser):
        parser.add_argument("kim_args", nargs=argparse.REMAINDER, help="open …")

    def run_from_argv(self, argv):
        sys.exit(main(argv[2:], prog=f"{argv[0]} {argv[1]}"))

    def handle(self, *args, **options):
        argv = list(options.get("kim_args") or args)
        self.exit_code = main(argv, stdout=self.stdout, stderr=self.stderr, prog="kim")

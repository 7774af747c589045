"""`kvportal kvdt check FILE [--quarter QJJJJ] [--json]`, `kvportal kvdt generate ...` and
`kvportal kvdt stammdaten import DIR [--quarter Q]` (KBV master files into the database).

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
        if argv[2:3] == ["stammdaten"]:
            sys.exit(stammdaten(argv[3:], sys.stdout, sys.stderr))
        sys.exit(main(argv[2:], prog=f"{argv[0]} {argv[1]}"))

    def handle(self, *args, **options):
        argv = list(options.get("kvdt_args") or args)
        if argv[:1] == ["stammdaten"]:
            self.exit_code = stammdaten(argv[1:], self.stdout, self.stderr)
            return
        self.exit_code = main(argv, stdout=self.stdout, stderr=self.stderr, prog="kvdt")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def stammdaten(argv: list[str], stdout, stderr) -> int:
    """`stammdaten import DIR [--quarter Q]`: 0 imported/unchanged, 64 bad input."""
    from kvportal.core.quarters import Quarter
    from kvportal.kvdt.masterdata import MasterDataError
    from kvportal.masterdata.services import import_directory

    parser = _Parser(prog="kvportal kvdt stammdaten", add_help=False)
    parser.add_argument("action", choices=["import"])
    parser.add_argument("directory")
    parser.add_argument("--quarter")
    try:
        args = parser.parse_args(argv)
        quarter = Quarter.parse(args.quarter) if args.quarter else None
        result = import_directory(None, directory=args.directory, quarter=quarter)
    except _UsageError as exc:
        stderr.write(f"Aufruf: kvportal kvdt stammdaten import VERZEICHNIS [--quarter Q] ({exc})\n")
        return 64
    except (MasterDataError, ValueError) as exc:
        stderr.write(f"Fehler: {exc} Es wurde nichts importiert.\n")
        return 64
    for name in result.imported:
        stdout.write(f"importiert: {name}\n")
    for name in result.unchanged:
        stdout.write(f"unverändert: {name}\n")
    return 0

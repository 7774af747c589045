"""``kvportal card ...``: thin Django wrapper around :mod:`kvportal.cardlib.cli`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kvportal.cardlib import cli


def _default_dir_args(argv: list[str]) -> list[str]:
    """Use settings.EHBA_DIR when set and no --dir was given."""
    directory = settings.EHBA_DIR
    if directory and "--dir" not in argv and not any(a.startswith("--dir=") for a in argv):
        return ["--dir", str(directory), *argv]
    return argv


class Command(BaseCommand):
    help = "Software-eHBA und Test-PKI: Karten ausstellen, PINs verwalten, signieren, anmelden."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        base_parse = parser.parse_args

        def parse_args(args=None, namespace=None):
            # everything belongs to the card CLI (call_command("card", "--dir=…", "status", …))
            ns = base_parse([], namespace)
            ns.cli_args = list(args or [])
            return ns

        parser.parse_args = parse_args  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("cli_args", nargs="*", help="Befehl und Optionen der Karten-CLI")

    def run_from_argv(self, argv: list[str]) -> None:
        # bypass Django's option parsing: everything after "card" belongs to the card CLI;
        # the Django-free agent reads the portal's addresses from the environment
        os.environ.setdefault("KVPORTAL_EHBA_AGENT_URL", str(settings.EHBA_AGENT_URL))
        os.environ.setdefault("KVPORTAL_URL", str(settings.PORTAL_URL))
        code = cli.main(_default_dir_args(argv[2:]), prog=f"{Path(argv[0]).name} card")
        sys.exit(code)

    def handle(self, *args: str, **options: Any) -> None:
        cli_args = list(options.get("cli_args") or args)
        # OutputWrapper forwards write()/flush() to a TextIO (all the card CLI uses), but
        # django-stubs does not declare it an IO[str]
        code = cli.main(
            _default_dir_args(cli_args),
            stdout=self.stdout,  # type: ignore[arg-type]
            stderr=self.stderr,  # type: ignore[arg-type]
            prog="card",
        )
        if code:
            raise CommandError(f"card {' '.join(cli_args[:1])} endete mit Fehlercode {code}.")

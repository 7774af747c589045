"""`kvportal` console command: everything `manage.py` does.

The offline tools need neither the portal's settings nor its database and start without
Django: `kvportal kvdt check|generate` (the KVDT check, exit codes 0–3 are its results),
`kvportal card …` (software eHBA and test PKI) and `kvportal kim open …`. Every other
command needs the portal's configuration; a missing setting ends it with one German line
and exit code 78 (EX_CONFIG), never with a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

#: Exit code of a configuration error (sysexits.h EX_CONFIG); distinct from the KVDT
#: check's results 0–3 and the usage error 64.
EXIT_CONFIG = 78
#: Exit code when the database cannot be reached or has no tables (EX_UNAVAILABLE).
EXIT_DATABASE = 69

#: Django-free tools: command → module with `main(argv, *, prog) -> int`.
OFFLINE_TOOLS = {
    "kvdt": "kvportal.kvdt.cli",
    "card": "kvportal.cardlib.cli",
    "kim": "kvportal.kim.cli",
}
#: Sub-commands of an offline tool that work on the portal's database (run through Django).
NEEDS_PORTAL = {"kvdt": {"stammdaten"}}
#: Django commands that neither sign nor store anything: a throwaway key is enough.
NO_SECRET_COMMANDS = {"help", "--help", "-h", "version", "--version"}


def _offline_main(argv: Sequence[str]) -> int | None:
    if len(argv) < 2 or argv[1] not in OFFLINE_TOOLS:
        return None
    tool = argv[1]
    if argv[2:3] and argv[2] in NEEDS_PORTAL.get(tool, set()):
        return None
    try:
        module = importlib.import_module(OFFLINE_TOOLS[tool])
    except ModuleNotFoundError:
        return None
    args = list(argv[2:])
    if tool == "card" and "--dir" not in args and not any(a.startswith("--dir=") for a in args):
        directory = os.environ.get("KVPORTAL_EHBA_DIR") or (
            os.path.join(os.environ["KVPORTAL_VAR_DIR"], "ehba")
            if os.environ.get("KVPORTAL_VAR_DIR")
            else None
        )
        if directory:
            args = ["--dir", directory, *args]
    return int(module.main(args, prog=f"kvportal {tool}") or 0)


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    code = _offline_main(argv)
    if code is not None:
        sys.exit(code)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kvportal.settings")
    command = argv[1] if len(argv) > 1 else "help"
    if command in NO_SECRET_COMMANDS:
        os.environ.setdefault("KVPORTAL_NO_SECRET_NEEDED", "1")

    from django.core.exceptions import ImproperlyConfigured

    try:
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - loads the settings (may refuse the config)
    except ImproperlyConfigured as exc:
        print(f"kvportal: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)

    from django.core.management import execute_from_command_line
    from django.db import DatabaseError

    try:
        execute_from_command_line(argv)
    except DatabaseError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(
            f"kvportal: Die Datenbank ist nicht erreichbar oder nicht eingerichtet ({first}). "
            "Prüfen Sie DATABASE_URL und führen Sie „kvportal migrate“ aus.",
            file=sys.stderr,
        )
        sys.exit(EXIT_DATABASE)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

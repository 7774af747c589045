"""Command line of the KVDT library: `check` and `generate` (no Django needed).

`python -m kvportal.kvdt check FILE` works without the portal; `kvportal kvdt ...` (the
Django management command) calls the same `main`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from kvportal.core.quarters import Quarter

from .generator import INJECTABLE, generate
from .masterdata import MasterDataError, load_directory
from .protocol import format_protocol
from .validator import validate_file

EXIT_USAGE = 64  # bad command line (not a check result)
EXIT_NOINPUT = 66  # the file to check is missing or unreadable (not a check result)


def _quarter(value: str) -> Quarter:
    try:
        return Quarter.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"„{value}“ ist kein Datum (JJJJ-MM-TT).") from exc


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # German message, exit code 64 instead of 2 (2 = faulty)
        self.print_usage(sys.stderr)
        sys.stderr.write(f"Fehler: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser(prog: str = "kvdt") -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="KVDT-Abrechnungsdateien prüfen und erzeugen.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check = sub.add_parser(
        "check",
        help="Datei prüfen; Exit-Code 0 ok, 1 Warnungen, 2 fehlerhaft, 3 Abbruch",
    )
    check.add_argument("file", help="KVDT-Datei (.con)")
    check.add_argument("--quarter", type=_quarter, help="erwartetes Quartal QJJJJ, z. B. 12026")
    check.add_argument("--bsnr", help="erwartete abrechnende BSNR (erste 0201 in besa)")
    check.add_argument("--today", type=_date, help="Prüfdatum JJJJ-MM-TT (Standard: heute)")
    check.add_argument("--json", action="store_true", help="Ergebnis als JSON ausgeben")
    check.add_argument(
        "--stammdaten",
        metavar="VERZEICHNIS",
        help="Verzeichnis mit KBV-Stammdateien (SDPLZ, SDKT, SDICD, SDEBM, SDOPS)",
    )
    gen = sub.add_parser("generate", help="synthetische KVDT-Datei erzeugen")
    gen.add_argument("--cases", type=int, required=True, help="Zahl der Behandlungsfälle")
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument(
        "--quarter", type=_quarter, help="Quartal QJJJJ (Standard: das Vorquartal von heute)"
    )
    gen.add_argument("--bsnr", default="951234500", help="abrechnende BSNR (Standard 951234500)")
    gen.add_argument(
        "--inject",
        default="",
        help="Regeln, die absichtlich verletzt werden, kommagetrennt: " + ",".join(INJECTABLE),
    )
    gen.add_argument(
        "--pakete",
        default="ADT",
        help="Datenpakete, kommagetrennt: ADT, KADT, SADT oder HDRG allein (Standard: ADT)",
    )
    gen.add_argument("--out", required=True, help="Zieldatei")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    prog: str = "kvdt",
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        args = build_parser(prog).parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command == "check":
        path = Path(args.file)
        if not path.is_file():
            stderr.write(f"Fehler: Die Datei „{args.file}“ gibt es nicht.\n")
            return EXIT_NOINPUT
        masterdata = None
        if args.stammdaten:
            try:
                masterdata = load_directory(args.stammdaten)
            except MasterDataError as exc:
                stderr.write(f"Fehler: {exc}\n")
                return EXIT_USAGE
        try:
            report = validate_file(
                path,
                expected_quarter=args.quarter,
                expected_bsnr=args.bsnr,
                today=args.today,
                masterdata=masterdata,
            )
        except OSError as exc:
            stderr.write(f"Fehler: „{args.file}“ kann nicht gelesen werden ({exc.strerror}).\n")
            return EXIT_NOINPUT
        if args.json:
            stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
        else:
            stdout.write(format_protocol(report, file_name=path.name))
        return report.status
    quarter = args.quarter or Quarter.of(dt.date.today()).previous()
    try:
        written = generate(
            args.cases,
            seed=args.seed,
            quarter=quarter,
            bsnr=args.bsnr,
            inject=args.inject.split(","),
            out=args.out,
            packages=args.pakete.split(","),
        )
    except ValueError as exc:
        stderr.write(f"Fehler: {exc}\n")
        return EXIT_USAGE
    except OSError as exc:
        stderr.write(f"Fehler: {args.out} kann nicht geschrieben werden ({exc.strerror}).\n")
        return EXIT_USAGE
    size = written if isinstance(written, int) else len(written)
    stdout.write(
        f"{args.out}: {args.cases} Fälle, Quartal {quarter}, BSNR {args.bsnr}, {size} Bytes.\n"
    )
    return 0

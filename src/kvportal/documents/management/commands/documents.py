"""`kvportal documents import DIR` and `kvportal documents purge [--dry-run]`.

§ 304 SGB V: purge deletes documents past their deletion date and keeps a tombstone."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from kvportal.accounts.models import User
from kvportal.documents import services
from kvportal.documents.models import Source

MANIFEST_NAMES = ("manifest.csv", "manifest.json")


def find_manifest(directory: Path, name: str | None) -> Path:
    if name:
        path = directory / name
        if not path.is_file():
            raise CommandError(f"Das Manifest {path} gibt es nicht.")
        return path
    for candidate in MANIFEST_NAMES:
        if (directory / candidate).is_file():
            return directory / candidate
    found = sorted(p for p in directory.iterdir() if p.suffix.lower() in (".csv", ".json"))
    if len(found) == 1:
        return found[0]
    raise CommandError(
        f"Im Verzeichnis {directory} ist kein eindeutiges Manifest "
        "(manifest.csv oder manifest.json; sonst --manifest NAME angeben)."
    )


def directory_opener(directory: Path):
    root = directory.resolve()

    def open_file(name: str) -> bytes | None:
        path = (root / name).resolve()
        if not path.is_relative_to(root):
            raise ValueError("Pfad außerhalb des Import-Verzeichnisses")
        if not path.is_file():
            return None
        return path.read_bytes()

    return open_file


class Command(BaseCommand):
    help = "Dokumente importieren (import DIR) oder abgelaufene löschen (purge [--dry-run])."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="Manifest (CSV/JSON) und PDFs aus DIR einstellen")
        imp.add_argument("directory", help="Verzeichnis mit manifest.csv/.json und den PDFs")
        imp.add_argument("--manifest", help="Dateiname des Manifests im Verzeichnis")
        imp.add_argument("--user", help="Benutzername der KV-Mitarbeiterin (für das Protokoll)")
        purge = sub.add_parser("purge", help="Dokumente nach Ablauf der Löschfrist löschen")
        purge.add_argument("--dry-run", action="store_true", help="nur anzeigen")

    def handle(self, *args, action: str, **options):
        if action == "import":
            return self._import(options)
        return self._purge(options)

    def _import(self, options):
        directory = Path(options["directory"])
        if not directory.is_dir():
            raise CommandError(f"{directory} ist kein Verzeichnis.")
        manifest = find_manifest(directory, options.get("manifest"))
        actor = None
        if options.get("user"):
            actor = User.objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"Den Benutzer {options['user']} gibt es nicht.")
        report = services.import_manifest(
            actor=actor,
            manifest=manifest.read_bytes(),
            manifest_name=manifest.name,
            open_file=directory_opener(directory),
            source=Source.IMPORT,
        )
        lines = report.lines()
        self.stdout.write(lines[0])
        for line in lines[1:]:
            self.stderr.write(line)
        if not report.ok:
            raise CommandError("Nicht alle Zeilen wurden übernommen (siehe oben).", returncode=2)

    def _purge(self, options):
        dry_run = options.get("dry_run", False)
        result = services.purge_expired_documents(now=timezone.now(), dry_run=dry_run)
        verb = "würden gelöscht" if dry_run else "gelöscht"
        self.stdout.write(f"{result.name}: {result.count} {verb}")
        for item in result.items:
            self.stdout.write(f"  - {item}")

"""Import of KBV master files (SDPLZ, SDKT, SDICD, SDEBM, SDOPS) into the database: all files
are read and checked first, then written in one transaction (nothing half-imported); a file
already imported unchanged is skipped (idempotent)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction

from kvportal import audit
from kvportal.audit.models import Activity
from kvportal.core.quarters import Quarter
from kvportal.kvdt.masterdata import MasterData, MasterDataError, load_directory

from .models import MasterFile

if TYPE_CHECKING:
    from kvportal.accounts.models import User


@dataclass
class ImportResult:
    imported: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _rows(data: MasterData, quarter: Quarter | None) -> list[tuple[str, Quarter, Any, dict]]:
    rows: list[tuple[str, Quarter, Any, dict]] = []
    plz = [data.plz_file(quarter)] if quarter else data.plz_files
    for f in filter(None, plz):
        payload = {"version": f.version, "postcodes": sorted(p.decode() for p in f.postcodes)}
        rows.append((MasterFile.Kind.PLZ, f.quarter, f.path, payload))
    kt = [data.kt_file(quarter)] if quarter else data.kt_files
    for k in filter(None, kt):
        entries = [
            [e.vknr, e.valid_from and e.valid_from.isoformat(),
             e.valid_to and e.valid_to.isoformat(), list(e.iks)]
            for e in k.entries
        ]  # fmt: skip
        rows.append((MasterFile.Kind.SDKT, k.quarter, k.path, {"entries": entries}))
    icd = [f for f in data.icd_files if quarter is None or f.year == quarter.year]
    for i in icd:
        codes = [[c.code, c.billable, c.terminal, c.sex] for c in i.codes.values()]
        rows.append((MasterFile.Kind.SDICD, Quarter(i.year, 1), i.path, {"codes": codes}))
    ebm = [data.ebm(quarter)] if quarter else data.ebm_files
    for e in filter(None, ebm):
        gnrs = [
            [g.code, g.valid_from, g.valid_to, [[seq, list(fks)] for seq, fks in g.lists]]
            for g in e.gnrs.values()
        ]
        rows.append((MasterFile.Kind.SDEBM, e.quarter, e.path, {"gnrs": gnrs}))
    ops = [data.ops(quarter)] if quarter else data.ops_files
    for o in filter(None, ops):
        ops_codes = [[c.code, c.valid_from, c.valid_to, c.side] for c in o.codes.values()]
        rows.append((MasterFile.Kind.SDOPS, o.quarter, o.path, {"codes": ops_codes}))
    return rows


def import_directory(
    actor: User | None, *, directory: str | os.PathLike, quarter: Quarter | None = None
) -> ImportResult:
    """Import the master files of `directory` (with `quarter`: only those valid in it)."""
    data = load_directory(directory)  # raises MasterDataError (German, names file and line)
    rows = _rows(data, quarter)
    if not rows:
        where = f" für das Quartal {quarter}" if quarter else ""
        raise MasterDataError(f"Im Verzeichnis „{directory}“ liegt keine Stammdatei{where}.")
    result = ImportResult()
    with transaction.atomic():
        for kind, q, path, payload in rows:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            existing = MasterFile.objects.filter(kind=kind, year=q.year, quarter=q.quarter).first()
            if existing is not None and existing.sha256 == digest:
                result.unchanged.append(path.name)
                continue
            MasterFile.objects.update_or_create(
                kind=kind,
                year=q.year,
                quarter=q.quarter,
                defaults={"name": path.name, "sha256": digest, "payload": payload},
            )
            result.imported.append(path.name)
        if result.imported:
            audit.record(
                actor=actor,
                activity=Activity.STAFF_ACTION,
                object_type="masterdata.MasterFile",
                object_repr="KBV-Stammdaten importiert",
                detail={"files": result.imported, "quarter": str(quarter) if quarter else ""},
            )
    return result

"""Import of KBV master files (SDPLZ, SDKT, SDICD, SDEBM, SDOPS, SDAV, SDHDRG, key tables) into
the database: all files are read and checked first, then written in one transaction (nothing
half-imported); a file already imported unchanged is skipped (idempotent)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import astuple, dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction

from kvportal import audit
from kvportal.audit.models import Activity
from kvportal.core.quarters import Quarter
from kvportal.kvdt.masterdata import HGNC_OID, RV_OID, MasterData, MasterDataError, load_directory

from .models import MasterFile

if TYPE_CHECKING:
    from kvportal.accounts.models import User

#: Stored quarter of a key table whose file name names none: valid in every quarter.
_ANY_QUARTER = Quarter(2000, 1)


@dataclass
class ImportResult:
    imported: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _rows(data: MasterData, quarter: Quarter | None) -> list[tuple[str, Quarter, Any, dict]]:
    rows: list[tuple[str, Quarter, Any, dict]] = []
    plz = [data.plz_file(quarter)] if quarter else data.plz_files
    for pf in filter(None, plz):
        payload: dict[str, Any] = {
            "version": pf.version,
            "postcodes": sorted(p.decode() for p in pf.postcodes),
        }
        rows.append((MasterFile.Kind.PLZ, pf.quarter, pf.path, payload))
    kt = [data.kt_file(quarter)] if quarter else data.kt_files
    for kf in filter(None, kt):
        entries = [
            [e.vknr, e.valid_from and e.valid_from.isoformat(),
             e.valid_to and e.valid_to.isoformat(), list(e.iks), e.fee_schedule,
             list(e.excluded_kvs), e.group]
            for e in kf.entries
        ]  # fmt: skip
        rows.append((MasterFile.Kind.SDKT, kf.quarter, kf.path, {"entries": entries}))
    icd = [i for i in data.icd_files if quarter is None or i.year == quarter.year]
    for icf in icd:
        codes = [list(astuple(c)) for c in icf.codes.values()]  # IcdCode fields in order
        rows.append((MasterFile.Kind.SDICD, Quarter(icf.year, 1), icf.path, {"codes": codes}))
    ebm = [data.ebm(quarter)] if quarter else data.ebm_files
    for ef in filter(None, ebm):
        gnrs = [
            [
                g.code,
                g.valid_from,
                g.valid_to,
                [[seq, list(fks)] for seq, fks in g.lists],
                None if g.reason_ops is None else list(g.reason_ops),
                None if g.reason_gnrs is None else list(g.reason_gnrs),
            ]
            for g in ef.gnrs.values()
        ]
        rows.append((MasterFile.Kind.SDEBM, ef.quarter, ef.path, {"gnrs": gnrs}))
    ops = [data.ops(quarter)] if quarter else data.ops_files
    for of in filter(None, ops):
        codes = [[c.code, c.valid_from, c.valid_to, c.side] for c in of.codes.values()]
        rows.append((MasterFile.Kind.SDOPS, of.quarter, of.path, {"codes": codes}))
    av = [data.av_file(quarter)] if quarter else data.av_files
    for af in filter(None, av):
        payload = {"version": af.version, "bsnrs": sorted(b.decode() for b in af.bsnrs)}
        rows.append((MasterFile.Kind.SDAV, af.quarter, af.path, payload))
    hdrg = [data.hdrg_file(quarter)] if quarter else data.hdrg_files
    for hf in filter(None, hdrg):
        payload = {"valid_to": hf.valid_to, "codes": sorted(hf.codes)}
        rows.append((MasterFile.Kind.SDHDRG, hf.quarter, hf.path, payload))
    kinds = {HGNC_OID: MasterFile.Kind.HGNC, RV_OID: MasterFile.Kind.RV}
    for t in data.keytabs:
        if t.oid not in kinds or (quarter is not None and data.keytab(t.oid, quarter) is not t):
            continue  # only key tables a rule uses
        payload = {
            "oid": t.oid,
            "name": t.name,
            "version": t.version,
            "keys": t.keys,
            "gops": [list(g) for g in t.gops],
        }
        # a key table without a quarter in its name applies to every quarter (_ANY_QUARTER)
        rows.append((kinds[t.oid], t.quarter or _ANY_QUARTER, t.path, payload))
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

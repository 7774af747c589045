"""Reads of the imported master data (SDPLZ, SDKT, SDICD, SDEBM, SDOPS); no practice data,
so not scoped."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.db.models import Q

from kvportal.core.quarters import Quarter
from kvportal.kvdt.masterdata import (
    AvFile,
    EbmFile,
    Gnr,
    HdrgFile,
    IcdCode,
    IcdFile,
    KeyTable,
    Kostentraeger,
    KtFile,
    MasterData,
    OpsCode,
    OpsFile,
    PlzFile,
)

from .models import MasterFile


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _kt_extra(rest: list) -> tuple[str | None, tuple[str, ...], str | None]:
    """Gebührenordnung, excluded KVs and Kostenträgergruppe of an SDKT entry (absent in
    files imported earlier)."""
    return (
        rest[0] if rest else None,
        tuple(rest[1]) if len(rest) > 1 else (),
        rest[2] if len(rest) > 2 else None,
    )


def _latest(kind: str, quarter: Quarter) -> MasterFile | None:
    """The newest file of `kind` whose quarter is not after `quarter`."""
    return (
        MasterFile.objects.filter(kind=kind)
        .filter(Q(year__lt=quarter.year) | Q(year=quarter.year, quarter__lte=quarter.quarter))
        .order_by("-year", "-quarter")
        .first()
    )


def for_quarter(quarter: Quarter) -> MasterData | None:
    """The imported master data usable for `quarter`, None if no file is valid in it.

    Only the file of each kind that applies is loaded: the newest SDPLZ/SDKT file up to
    `quarter`, the SDICD file of its year."""
    data = MasterData()
    f = _latest(MasterFile.Kind.PLZ, quarter)
    if f is not None:
        p = f.payload
        postcodes = frozenset(c.encode() for c in p["postcodes"])
        data.plz_files.append(
            PlzFile(Path(f.name), Quarter(f.year, f.quarter), p["version"], postcodes)
        )
    f = _latest(MasterFile.Kind.SDKT, quarter)
    if f is not None:
        rows = f.payload["entries"]
        entries = tuple(
            Kostentraeger(v, _date(a), _date(b), tuple(iks), *_kt_extra(rest))
            for v, a, b, iks, *rest in rows
        )
        data.kt_files.append(KtFile(Path(f.name), Quarter(f.year, f.quarter), entries))
    f = MasterFile.objects.filter(kind=MasterFile.Kind.SDICD, year=quarter.year).first()
    if f is not None:
        codes = {c[0]: IcdCode(*c) for c in f.payload["codes"]}
        data.icd_files.append(IcdFile(Path(f.name), f.year, codes))
    f = _latest(MasterFile.Kind.SDEBM, quarter)
    if f is not None:
        gnrs = {
            code: Gnr(
                code,
                a,
                b,
                tuple((seq, tuple(fks)) for seq, fks in lists),
                *(None if r is None else tuple(r) for r in rest),
            )
            for code, a, b, lists, *rest in f.payload["gnrs"]
        }
        data.ebm_files.append(EbmFile(Path(f.name), Quarter(f.year, f.quarter), gnrs))
    f = _latest(MasterFile.Kind.SDOPS, quarter)
    if f is not None:
        ops_codes = {c[0]: OpsCode(*c) for c in f.payload["codes"]}
        data.ops_files.append(OpsFile(Path(f.name), Quarter(f.year, f.quarter), ops_codes))
    f = _latest(MasterFile.Kind.SDAV, quarter)
    if f is not None:
        p = f.payload
        bsnrs = frozenset(b.encode() for b in p["bsnrs"])
        data.av_files.append(AvFile(Path(f.name), Quarter(f.year, f.quarter), p["version"], bsnrs))
    f = _latest(MasterFile.Kind.SDHDRG, quarter)
    if f is not None:
        p = f.payload
        data.hdrg_files.append(
            HdrgFile(Path(f.name), Quarter(f.year, f.quarter), p["valid_to"], frozenset(p["codes"]))
        )
    for kind in (MasterFile.Kind.HGNC, MasterFile.Kind.RV):
        f = _latest(kind, quarter)
        if f is not None:
            p = f.payload
            gops = tuple(tuple(g) for g in p.get("gops", ()))
            data.keytabs.append(
                KeyTable(
                    Path(f.name), p["oid"], p["name"], p["version"], dict(p["keys"]), None, gops
                )
            )
    return data if data.available(quarter) else None

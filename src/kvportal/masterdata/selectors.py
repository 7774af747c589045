"""Reads of the imported master data (no practice data: not scoped)."""

from __future__ import annotations

import datetime as dt
from pathlib import PurePath

from kvportal.core.quarters import Quarter
from kvportal.kvdt.masterdata import (
    IcdCode,
    IcdFile,
    Kostentraeger,
    KtFile,
    MasterData,
    PlzFile,
)

from .models import MasterFile


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def for_quarter(quarter: Quarter) -> MasterData | None:
    """The imported master data usable for `quarter`, None if no file is valid in it."""
    data = MasterData()
    for f in MasterFile.objects.filter(year__lte=quarter.year).order_by("year", "quarter"):
        q, path, p = Quarter(f.year, f.quarter), PurePath(f.name), f.payload
        if f.kind == MasterFile.Kind.PLZ:
            postcodes = frozenset(c.encode() for c in p["postcodes"])
            data.plz_files.append(PlzFile(path, q, p["version"], postcodes))
        elif f.kind == MasterFile.Kind.SDKT:
            entries = tuple(
                Kostentraeger(v, _date(a), _date(b), tuple(iks)) for v, a, b, iks in p["entries"]
            )
            data.kt_files.append(KtFile(path, q, entries))
        elif f.kind == MasterFile.Kind.SDICD:
            codes = {c[0]: IcdCode(*c) for c in p["codes"]}
            data.icd_files.append(IcdFile(path, f.year, codes))
    usable = (
        data.postcodes(quarter) is not None
        or data.vknrs(quarter) is not None
        or data.icd_codes(quarter) is not None
    )
    return data if usable else None

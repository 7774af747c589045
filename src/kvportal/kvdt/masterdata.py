"""KBV master files (Stammdateien) for the KVDT check, loaded from a directory. No Django.

So far the PLZ master file (KBV Datensatzbeschreibung SDPLZ 1.06: xDT lines, records plz0 with
9111 Gültigkeitsquartal and 9212 version, 2150 with 0150 Postleitzahl, plz9). A directory may
hold the files of several quarters; for a check the newest file valid in the billing quarter
is used (versioned by quarter). Bad files give a German `MasterDataError`, never a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from kvportal.core.quarters import Quarter


class MasterDataError(ValueError):
    """A master file cannot be read; the message is German and names file and line."""


@dataclass
class PlzFile:
    path: Path
    quarter: Quarter
    version: str
    postcodes: frozenset[bytes]


@dataclass
class MasterData:
    """Master files found in a directory; `for_quarter` picks the valid version."""

    plz_files: list[PlzFile] = field(default_factory=list)

    def postcodes(self, quarter: Quarter | None) -> frozenset[bytes] | None:
        """PLZ set valid in `quarter` (newest file with 9111 <= quarter), None if none."""
        valid = [f for f in self.plz_files if quarter is None or f.quarter <= quarter]
        if not valid:
            return None
        return max(valid, key=lambda f: f.quarter).postcodes

    def describe(self) -> list[str]:
        return [
            f"PLZ-Stammdatei {f.path.name} ({f.version}, ab {f.quarter})" for f in self.plz_files
        ]


def _lines(path: Path):
    data = path.read_bytes()
    sep = b"\r\n" if b"\r\n" in data else b"\n"
    for number, line in enumerate(data.split(sep), 1):
        if not line:
            continue
        if len(line) < 7 or not line[:7].isdigit():
            raise MasterDataError(f"{path.name}, Zeile {number}: keine gültige Feldzeile.")
        yield number, line[3:7], line[7:]


def load_plz(path: str | os.PathLike) -> PlzFile:
    """Read one SDPLZ file (plz0, 2150 records with 0150, plz9)."""
    path = Path(path)
    quarter: Quarter | None = None
    version = ""
    postcodes: set[bytes] = set()
    satzart = None
    seen_end = False
    for number, fk, val in _lines(path):
        if fk == b"8000":
            satzart = val
            seen_end = seen_end or val == b"plz9"
            if number == 1 and val != b"plz0":
                raise MasterDataError(f"{path.name}: die Datei beginnt nicht mit plz0.")
        elif satzart == b"plz0" and fk == b"9111":
            try:
                quarter = Quarter.parse(val.decode("ascii"))
            except (ValueError, UnicodeDecodeError):
                raise MasterDataError(
                    f"{path.name}, Zeile {number}: Gültigkeitsquartal (9111) ist kein QJJJJ."
                ) from None
        elif satzart == b"plz0" and fk == b"9212":
            version = val.decode("ascii", "replace")
        elif satzart == b"2150" and fk == b"0150":
            if len(val) != 5 or not val.isdigit():
                raise MasterDataError(
                    f"{path.name}, Zeile {number}: Postleitzahl (0150) muss fünf Ziffern haben."
                )
            postcodes.add(val)
    if quarter is None:
        raise MasterDataError(f"{path.name}: Gültigkeitsquartal (9111) fehlt im Satz plz0.")
    if not seen_end:
        raise MasterDataError(f"{path.name}: die Datei endet nicht mit plz9 (unvollständig?).")
    return PlzFile(path, quarter, version, frozenset(postcodes))


def load_directory(directory: str | os.PathLike) -> MasterData:
    """All master files of a directory (offline use: `kvdt check --stammdaten DIR`)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MasterDataError(f"Das Stammdaten-Verzeichnis „{directory}“ gibt es nicht.")
    data = MasterData()
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.name.upper().startswith("PLZ"):
            data.plz_files.append(load_plz(path))
    return data

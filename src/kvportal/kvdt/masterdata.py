"""KBV master files (Stammdateien) for the KVDT check, loaded from a directory. No Django.

The PLZ master file (KBV Datensatzbeschreibung SDPLZ 1.06: xDT lines, records plz0 with
9111 Gültigkeitsquartal and 9212 version, 2150 with 0150 Postleitzahl, plz9) and the
Kostenträger master file (KBV Schnittstelle SDKT, schema kts: XML `kostentraeger_liste` of
`kostentraeger V=VKNR` with `gueltigkeit V="JJJJ-MM-TT..JJJJ-MM-TT"` and `ik_liste/ik V=IK`).
A directory may hold the files of several quarters; for a check the newest file valid in the
billing quarter is used (versioned by quarter). Bad files give a German `MasterDataError`,
never a traceback.
"""

from __future__ import annotations

import datetime as dt
import os
import re
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


@dataclass(frozen=True)
class Kostentraeger:
    vknr: str
    valid_from: dt.date | None
    valid_to: dt.date | None
    iks: tuple[str, ...]

    def valid_in(self, quarter: Quarter) -> bool:
        """Valid on at least one day of `quarter` (open ends are unbounded)."""
        return (self.valid_from is None or self.valid_from <= quarter.end) and (
            self.valid_to is None or self.valid_to >= quarter.start
        )


@dataclass
class KtFile:
    path: Path
    quarter: Quarter
    entries: tuple[Kostentraeger, ...]


@dataclass(frozen=True)
class IcdCode:
    code: str
    billable: bool  # `abrechenbar V="j"`
    terminal: bool  # no nested `diagnosen_liste`
    sex: str | None  # `geschlechtsbezug` m/w


@dataclass
class IcdFile:
    path: Path
    year: int  # ICD-10-GM is published per year: valid in its four quarters
    codes: dict[str, IcdCode]


@dataclass
class MasterData:
    """Master files found in a directory; the newest file valid in a quarter is used."""

    plz_files: list[PlzFile] = field(default_factory=list)
    kt_files: list[KtFile] = field(default_factory=list)
    icd_files: list[IcdFile] = field(default_factory=list)

    def icd_codes(self, quarter: Quarter) -> dict[str, IcdCode] | None:
        """ICD-10-GM codes valid in `quarter` (SDICD of that year), None without a file."""
        for f in self.icd_files:
            if f.year == quarter.year:
                return f.codes
        return None

    def kt_file(self, quarter: Quarter | None) -> KtFile | None:
        valid = [f for f in self.kt_files if quarter is None or f.quarter <= quarter]
        return max(valid, key=lambda f: f.quarter) if valid else None

    def vknrs(self, quarter: Quarter) -> frozenset[bytes] | None:
        """VKNRs of the Kostenträger valid in `quarter` (SDKT), None without a file."""
        kt = self.kt_file(quarter)
        if kt is None:
            return None
        return frozenset(e.vknr.encode() for e in kt.entries if e.valid_in(quarter))

    def iks(self, quarter: Quarter) -> frozenset[bytes] | None:
        """IKs of the Kostenträger valid in `quarter` (SDKT), None without a file."""
        kt = self.kt_file(quarter)
        if kt is None:
            return None
        return frozenset(ik.encode() for e in kt.entries if e.valid_in(quarter) for ik in e.iks)

    def plz_file(self, quarter: Quarter | None) -> PlzFile | None:
        valid = [f for f in self.plz_files if quarter is None or f.quarter <= quarter]
        return max(valid, key=lambda f: f.quarter) if valid else None

    def postcodes(self, quarter: Quarter | None) -> frozenset[bytes] | None:
        """PLZ set valid in `quarter` (newest file with 9111 <= quarter), None if none."""
        plz = self.plz_file(quarter)
        return None if plz is None else plz.postcodes

    def describe(self) -> list[str]:
        return (
            [f"PLZ-Stammdatei {f.path.name} ({f.version}, ab {f.quarter})" for f in self.plz_files]
            + [
                f"Kostenträger-Stammdatei {f.path.name} ({len(f.entries)} Einträge, ab {f.quarter})"
                for f in self.kt_files
            ]
            + [f"ICD-10-GM-Stammdatei {f.path.name} ({f.year})" for f in self.icd_files]
        )


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


_QUARTER_IN_NAME = re.compile(r"(?:Q([1-4])[_-]?(\d{4})|(\d{4})[_-]?Q([1-4]))", re.I)
_VKNR = re.compile(r"\d{5}")
_IK = re.compile(r"\d{9}")


def _xml_syntax_error() -> type[Exception]:
    from lxml import etree

    return etree.XMLSyntaxError


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _period(path: Path, value: str, where: str) -> tuple[dt.date | None, dt.date | None]:
    """`gueltigkeit V="JJJJ-MM-TT..JJJJ-MM-TT"`; either end may be empty (open)."""
    start, sep, end = value.partition("..")
    try:
        if not sep:
            raise ValueError
        return (
            dt.date.fromisoformat(start) if start else None,
            dt.date.fromisoformat(end) if end else None,
        )
    except ValueError:
        raise MasterDataError(
            f"{path.name}, {where}: Gültigkeit „{value}“ ist kein Zeitraum JJJJ-MM-TT..JJJJ-MM-TT."
        ) from None


def load_sdkt(path: str | os.PathLike, *, quarter: Quarter | None = None) -> KtFile:
    """Read one SDKT file (schema kts). Its quarter comes from `quarter`, else the file name
    (e.g. SDKT_Q4_2025.xml), else the earliest Kostenträger validity."""
    path = Path(path)
    entries: list[Kostentraeger] = []
    current: dict | None = None
    depth_in_ik_liste = False
    try:
        for event, elem in _xml_events(path):
            name = _local(elem.tag)
            if event == "start":
                if name == "kostentraeger":
                    vknr = elem.get("V", "")
                    where = f"Kostenträger Nr. {len(entries) + 1}"
                    if not _VKNR.fullmatch(vknr):
                        raise MasterDataError(
                            f"{path.name}, {where}: VKNR (V) „{vknr}“ muss fünf Ziffern haben."
                        )
                    current = {"vknr": vknr, "from": None, "to": None, "iks": [], "where": where}
                elif current is not None and name == "ik_liste":
                    depth_in_ik_liste = True
                continue
            # end events
            if current is not None:
                if name == "gueltigkeit" and "period" not in current:
                    parent_level = not depth_in_ik_liste
                    if parent_level:
                        current["period"] = _period(path, elem.get("V", ""), current["where"])
                elif name == "ik" and depth_in_ik_liste:
                    ik = elem.get("V", "")
                    if not _IK.fullmatch(ik):
                        raise MasterDataError(
                            f"{path.name}, {current['where']} ({current['vknr']}): IK „{ik}“ "
                            "muss neun Ziffern haben."
                        )
                    current["iks"].append(ik)
                elif name == "ik_liste":
                    depth_in_ik_liste = False
                elif name == "kostentraeger":
                    start, end = current.get("period", (None, None))
                    entries.append(
                        Kostentraeger(current["vknr"], start, end, tuple(current["iks"]))
                    )
                    current = None
                    elem.clear()
    except _xml_syntax_error() as exc:
        line, column = exc.position  # type: ignore[attr-defined]  # lxml XMLSyntaxError
        raise MasterDataError(
            f"{path.name}, Zeile {line}, Spalte {column}: kein gültiges XML."
        ) from None
    if not entries:
        raise MasterDataError(f"{path.name}: die Datei enthält keinen Kostenträger.")
    if quarter is None:
        match = _QUARTER_IN_NAME.search(path.name)
        if match:
            q, y = (match[1], match[2]) if match[1] else (match[4], match[3])
            quarter = Quarter(int(y), int(q))
        else:
            starts = [e.valid_from for e in entries if e.valid_from is not None]
            if not starts:
                raise MasterDataError(
                    f"{path.name}: Gültigkeitsquartal unbekannt (nicht im Dateinamen, keine "
                    "Gültigkeit angegeben)."
                )
            quarter = Quarter.of(min(starts))
    return KtFile(path, quarter, tuple(entries))


_ICD = re.compile(r"[A-Z]\d{2}(\.\d{1,2})?[-*+!]?")
_YEAR_IN_NAME = re.compile(r"(?<!\d)(20\d{2})(?!\d)")


def _xml_events(path: Path):
    from lxml import etree  # lazy: a check without master data does not pay for lxml

    head = path.read_bytes()[:4096]
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise MasterDataError(f"{path.name}: DOCTYPE/ENTITY-Angaben sind nicht erlaubt.")
    return etree.iterparse(
        str(path), events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False
    )


def load_sdicd(path: str | os.PathLike, *, year: int | None = None) -> IcdFile:
    """Read one SDICD file (KBV Schnittstelle SDICD, schema icd: `diagnose` with `icd_code V`,
    `abrechenbar V=j|n`, optional `geschlechtsbezug`, nested `diagnosen_liste` for sub-codes).
    The year (ICD-10-GM version) comes from `year` or the file name (e.g. ICDStamm2027.xml)."""
    path = Path(path)
    if year is None:
        match = _YEAR_IN_NAME.search(path.name)
        if not match:
            raise MasterDataError(
                f"{path.name}: das Jahr der ICD-10-GM-Version steht nicht im Dateinamen."
            )
        year = int(match[1])
    codes: dict[str, IcdCode] = {}
    stack: list[dict] = []
    try:
        for event, elem in _xml_events(path):
            name = _local(elem.tag)
            if event == "start":
                if name == "diagnose":
                    if stack:
                        stack[-1]["terminal"] = False
                    stack.append({"terminal": True, "n": len(codes) + len(stack) + 1})
                continue
            if not stack:
                continue
            top = stack[-1]
            parent = elem.getparent()
            direct = parent is not None and _local(parent.tag) == "diagnose"
            if name == "icd_code" and direct and "code" not in top:
                code = elem.get("V", "")
                if not _ICD.fullmatch(code):
                    raise MasterDataError(
                        f"{path.name}, Zeile {elem.sourceline}: ICD-Code „{code}“ hat nicht das "
                        "Muster der ICD-10-GM."
                    )
                top["code"] = code
            elif name == "abrechenbar" and direct:
                value = elem.get("V", "")
                if value not in ("j", "n"):
                    raise MasterDataError(
                        f"{path.name}, Zeile {elem.sourceline}: abrechenbar muss j oder n sein."
                    )
                top["billable"] = value == "j"
            elif name == "geschlechtsbezug" and direct:
                top["sex"] = elem.get("V")
            elif name == "diagnose":
                stack.pop()
                if "code" not in top or "billable" not in top:
                    raise MasterDataError(
                        f"{path.name}, Zeile {elem.sourceline}: Diagnose ohne icd_code oder "
                        "abrechenbar."
                    )
                codes[top["code"]] = IcdCode(
                    top["code"], top["billable"], top["terminal"], top.get("sex")
                )
    except _xml_syntax_error() as exc:
        line, column = exc.position  # type: ignore[attr-defined]  # lxml XMLSyntaxError
        raise MasterDataError(
            f"{path.name}, Zeile {line}, Spalte {column}: kein gültiges XML."
        ) from None
    if not codes:
        raise MasterDataError(f"{path.name}: die Datei enthält keine Diagnose.")
    return IcdFile(path, year, codes)


def load_directory(directory: str | os.PathLike) -> MasterData:
    """All master files of a directory (offline use: `kvdt check --stammdaten DIR`)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MasterDataError(f"Das Stammdaten-Verzeichnis „{directory}“ gibt es nicht.")
    data = MasterData()
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.name.upper().startswith("PLZ"):
            data.plz_files.append(load_plz(path))
        elif (
            path.is_file()
            and path.name.upper().startswith(("SDKT", "KT"))
            and (path.suffix.lower() == ".xml")
        ):
            data.kt_files.append(load_sdkt(path))
        elif (
            path.is_file()
            and path.name.upper().startswith(("SDICD", "ICD"))
            and (path.suffix.lower() == ".xml")
        ):
            data.icd_files.append(load_sdicd(path))
    return data

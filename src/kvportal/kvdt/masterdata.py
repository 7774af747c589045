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
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from kvportal.core.quarters import Quarter

T = TypeVar("T")


class MasterDataError(ValueError):
    """A master file cannot be read; the message is German and names file and line."""


@dataclass
class PlzFile:
    path: Path
    quarter: Quarter
    version: str
    postcodes: frozenset[bytes]


@dataclass
class AvFile:
    """Arztverzeichnis (SDAV): BSNR/NBSNR of the practices entitled to bill."""

    path: Path
    quarter: Quarter
    version: str
    bsnrs: frozenset[bytes]


@dataclass(frozen=True)
class Kostentraeger:
    vknr: str
    valid_from: dt.date | None
    valid_to: dt.date | None
    iks: tuple[str, ...]
    #: `gebuehrenordnung V` (1 character, S 1.2.276.0.76.5.231), compared with FK 4121 (R210)
    fee_schedule: str | None = None
    #: `unz_kv_geltungsbereich_liste/unz_kv_geltungsbereich V`: KVs where it is not valid (R763)
    excluded_kvs: tuple[str, ...] = ()
    #: `kostentraegergruppe V` (KT-ART-GRU, e.g. 75 = bundesweiter SKT Bundeswehr, R734)
    group: str | None = None

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
    sex_error: str | None = None  # `geschlechtsbezug_fehlerart` k (Kann) / m (Muss)
    #: `untere_altersgrenze` / `obere_altersgrenze` as "<n>T" (U="Tag") or "<n>J" (U="Jahr")
    age_low: str | None = None
    age_high: str | None = None
    age_error: str | None = None  # `altersbezug_fehlerart` k / m
    notation: str | None = None  # `notationskennzeichen` + (primary), * or ! (secondary)
    rare: bool = False  # `krankheit_in_mitteleuropa_sehr_selten V="j"`
    empty: bool = False  # `schlüsselnummer_mit_inhalt_belegt V="n"`: code without content
    reportable: bool = False  # `infektionsschutzgesetz_meldepflicht V="j"`

    @property
    def checked(self) -> bool:
        """Has any property a rule beyond R728 looks at (the check skips the others)."""
        return bool(
            self.sex or self.age_low or self.age_high or self.notation or self.rare or self.empty
        )


@dataclass
class IcdFile:
    path: Path
    year: int  # ICD-10-GM is published per year: valid in its four quarters
    codes: dict[str, IcdCode]


class _Valid:
    """A master entry valid from `valid_from` to `valid_to` (JJJJMMTT, None = open)."""

    valid_from: str | None
    valid_to: str | None

    def valid_on(self, day: bytes) -> bool:
        """Valid on `day` (KVDT date JJJJMMTT)."""
        d = day.decode("ascii", "replace")
        return (self.valid_from is None or self.valid_from <= d) and (
            self.valid_to is None or d <= self.valid_to
        )


@dataclass(frozen=True)
class Gnr(_Valid):
    """One GNR of the EBM master file (SDEBM `gnr`)."""

    code: str
    valid_from: str | None  # JJJJMMTT (`allgemein/gueltigkeit/service_tmr`), None = open
    valid_to: str | None
    #: `bedingung/gnr_zusatzangaben/gnr_zusatzangaben_liste`: (SEQUENZ?, KVDT field ids)
    lists: tuple[tuple[bool, tuple[str, ...]], ...] = ()
    #: `bedingung/begruendungen_liste/ops_liste/kategorie/ops V` (R703), None without ops_liste
    reason_ops: tuple[str, ...] | None = None
    #: `bedingung/begruendungen_liste/gnr_liste/gnr V` (R704), None without gnr_liste
    reason_gnrs: tuple[str, ...] | None = None


@dataclass
class EbmFile:
    path: Path
    quarter: Quarter
    gnrs: dict[str, Gnr]

    def get(self, gnr: str) -> Gnr | None:
        """The GNR; a Zusatznummer (5 digits + letter) falls back to its 5-digit GNR."""
        return self.gnrs.get(gnr) or (self.gnrs.get(gnr[:5]) if len(gnr) == 6 else None)


@dataclass(frozen=True)
class OpsCode(_Valid):
    code: str
    valid_from: str | None  # JJJJMMTT
    valid_to: str | None
    side: bool  # `kzseite V="J"`: a Seitenlokalisation (5041) is required


@dataclass
class OpsFile:
    path: Path
    quarter: Quarter
    codes: dict[str, OpsCode]


@dataclass
class HdrgFile:
    """Hybrid-DRG master file (SDHDRG 2.0.0): the Hybrid-DRG codes (`hybrid_drg V`, R221)."""

    path: Path
    quarter: Quarter  # first quarter of the header's service_tmr (or `tfJJJJqQ` in the name)
    valid_to: str | None  # JJJJMMTT, end of the header's service_tmr (None = open)
    codes: frozenset[str]


#: OIDs of KBV key tables (Schlüsseltabellen) the check uses.
HGNC_OID = "1.2.276.0.76.3.1.1.5.2.117"  # HGNC-Schlüsseltabelle (Anforderungskatalog KP2-621)
RV_OID = "1.2.276.0.76.3.1.1.5.2.22"  # S_NVV_RV_Zertifikat (Ringversuchszertifikate, R749)


@dataclass
class KeyTable:
    """One KBV key table (`keytabs/keytab S SN SV` with `key V DN`); no quarter of its own
    unless the file name carries one (`tfJJJJqQ`)."""

    path: Path
    oid: str
    name: str
    version: str
    keys: dict[str, str]  # V -> DN
    quarter: Quarter | None = None
    #: S_NVV_RV_Zertifikat: (V = Analyt-ID, gop, gueltigkeit) of each key that has a `gop`
    gops: tuple[tuple[str, str, str], ...] = ()


@dataclass
class MasterData:
    """Master files found in a directory; the newest file valid in a quarter is used."""

    plz_files: list[PlzFile] = field(default_factory=list)
    kt_files: list[KtFile] = field(default_factory=list)
    icd_files: list[IcdFile] = field(default_factory=list)
    ebm_files: list[EbmFile] = field(default_factory=list)
    ops_files: list[OpsFile] = field(default_factory=list)
    keytabs: list[KeyTable] = field(default_factory=list)
    av_files: list[AvFile] = field(default_factory=list)
    hdrg_files: list[HdrgFile] = field(default_factory=list)
    #: tables derived per quarter for the check (read-only once built), see `memo`
    _memo: dict = field(default_factory=dict, repr=False, compare=False)

    def memo(self, key: Hashable, build: Callable[[], T]) -> T:
        """`build()` once per key: derived lookup tables of a quarter are computed on the
        first check and reused by every further check with this object (they must not be
        changed by their users)."""
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = build()
            return value

    def hdrg_file(self, quarter: Quarter) -> HdrgFile | None:
        """Hybrid-DRG master file (SDHDRG) valid in `quarter`: the newest one starting up to
        it whose service_tmr has not ended before the quarter."""
        start = quarter.start.strftime("%Y%m%d")
        valid = [
            f
            for f in self.hdrg_files
            if f.quarter <= quarter and (f.valid_to is None or f.valid_to >= start)
        ]
        return max(valid, key=lambda f: f.quarter) if valid else None

    def av_file(self, quarter: Quarter | None) -> AvFile | None:
        """Arztverzeichnis (SDAV) valid in `quarter`: the newest with 9111 <= quarter."""
        valid = [f for f in self.av_files if quarter is None or f.quarter <= quarter]
        return max(valid, key=lambda f: f.quarter) if valid else None

    def keytab(self, oid: str, quarter: Quarter | None) -> KeyTable | None:
        """The key table with `oid` for `quarter`: the newest (quarter, version) up to it."""
        valid = [
            t
            for t in self.keytabs
            if t.oid == oid and (quarter is None or t.quarter is None or t.quarter <= quarter)
        ]
        return max(valid, key=_keytab_order) if valid else None

    def rv_gops(self, quarter: Quarter) -> dict[bytes, frozenset[bytes]] | None:
        """S_NVV_RV_Zertifikat: GNR (`key/@gop`) -> Analyt-IDs (`key/@V`) of the keys whose
        `gueltigkeit` touches `quarter`; None without the table."""
        table = self.keytab(RV_OID, quarter)
        if table is None:
            return None
        start, end = quarter.start.strftime("%Y%m%d"), quarter.end.strftime("%Y%m%d")
        out: dict[bytes, set[bytes]] = {}
        for analyte, gop, period in table.gops:
            lo, hi = _ehd_period(table.path, period, "gueltigkeit")
            if (lo is None or lo <= end) and (hi is None or hi >= start):
                out.setdefault(gop.encode(), set()).add(analyte.encode())
        return {g: frozenset(a) for g, a in out.items()}

    def hgnc_symbols(self, quarter: Quarter | None) -> frozenset[bytes] | None:
        """HGNC gene symbols (`key/@DN` of the HGNC key table), None without the table."""
        table = self.keytab(HGNC_OID, quarter)
        if table is None:
            return None
        return frozenset(dn.encode("iso-8859-15", "replace") for dn in table.keys.values())

    def ebm(self, quarter: Quarter | None) -> EbmFile | None:
        """EBM master file (SDEBM) valid in `quarter`: the newest one up to it."""
        valid = [f for f in self.ebm_files if quarter is None or f.quarter <= quarter]
        return max(valid, key=lambda f: f.quarter) if valid else None

    def ops(self, quarter: Quarter | None) -> OpsFile | None:
        """OPS master file (SDOPS) valid in `quarter`: the newest one up to it."""
        valid = [f for f in self.ops_files if quarter is None or f.quarter <= quarter]
        return max(valid, key=lambda f: f.quarter) if valid else None

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
        """VKNRs of the SDKT file for `quarter`, whatever their validity (R201: "nicht in der
        Stammdatei"; a Kostenträger of the file not valid in the quarter is KVDT-RQL2), None
        without a file."""
        kt = self.kt_file(quarter)
        if kt is None:
            return None
        return frozenset(e.vknr.encode() for e in kt.entries)

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

    def available(self, quarter: Quarter) -> set[str]:
        """Kinds of master file (`messages.MASTER_FILES`) valid in `quarter`."""
        kinds = set()
        if self.postcodes(quarter) is not None:
            kinds.add("plz")
        if self.kt_file(quarter) is not None:
            kinds.add("sdkt")
        if self.icd_codes(quarter) is not None:
            kinds.add("sdicd")
        if self.ebm(quarter) is not None:
            kinds.add("sdebm")
        if self.ops(quarter) is not None:
            kinds.add("sdops")
        if self.keytab(HGNC_OID, quarter) is not None:
            kinds.add("hgnc")
        if self.av_file(quarter) is not None:
            kinds.add("sdav")
        if self.keytab(RV_OID, quarter) is not None:
            kinds.add("rv")
        if self.hdrg_file(quarter) is not None:
            kinds.add("sdhdrg")
        return kinds

    def describe(self) -> list[str]:
        return (
            [f"PLZ-Stammdatei {f.path.name} ({f.version}, ab {f.quarter})" for f in self.plz_files]
            + [
                f"Kostenträger-Stammdatei {f.path.name} ({len(f.entries)} Einträge, ab {f.quarter})"
                for f in self.kt_files
            ]
            + [f"ICD-10-GM-Stammdatei {f.path.name} ({f.year})" for f in self.icd_files]
            + [
                f"EBM-Stammdatei {f.path.name} ({len(f.gnrs)} GNR, ab {f.quarter})"
                for f in self.ebm_files
            ]
            + [
                f"OPS-Stammdatei {f.path.name} ({len(f.codes)} OPS, ab {f.quarter})"
                for f in self.ops_files
            ]
            + [
                f"Arztverzeichnis {f.path.name} ({len(f.bsnrs)} BSNR, ab {f.quarter})"
                for f in self.av_files
            ]
            + [
                f"Schlüsseltabelle {t.name} {t.version} {t.path.name} ({len(t.keys)} Schlüssel)"
                for t in self.keytabs
            ]
            + [
                f"Hybrid-DRG-Stammdatei {f.path.name} ({len(f.codes)} Hybrid-DRG, ab {f.quarter})"
                for f in self.hdrg_files
            ]
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


@dataclass(frozen=True)
class _XdtFormat:
    """One KBV master file in xDT lines: header record (with 9111 Gültigkeitsquartal and
    9212 version), data records whose `fields` hold `digits`-digit keys, closing record."""

    head: bytes
    record: bytes
    fields: tuple[bytes, ...]
    digits: int
    tail: bytes
    bad_key: str  # message for a malformed key; {fk} = its field id


#: SDPLZ 1.06: plz0, 2150 with 0150 (Postleitzahl), plz9.
_SDPLZ = _XdtFormat(
    b"plz0", b"2150", (b"0150",), 5, b"plz9", "Postleitzahl ({fk}) muss fünf Ziffern haben."
)
#: SDAV 1.08: AVS0, 1450 with 0201 BSNR and 0200 NBSNR, AVS9.
_SDAV = _XdtFormat(
    b"AVS0", b"1450", (b"0201", b"0200"), 9, b"AVS9", "(N)BSNR ({fk}) muss neun Ziffern haben."
)


def _load_xdt(path: Path, form: _XdtFormat) -> tuple[Path, Quarter, str, frozenset[bytes]]:
    """Read an xDT master file of `form`: (path, quarter, version, keys)."""
    head, tail = form.head.decode(), form.tail.decode()
    quarter: Quarter | None = None
    version = ""
    keys: set[bytes] = set()
    satzart = None
    seen_end = False
    for number, fk, val in _lines(path):
        if fk == b"8000":
            satzart = val
            seen_end = seen_end or val == form.tail
            if number == 1 and val != form.head:
                raise MasterDataError(f"{path.name}: die Datei beginnt nicht mit {head}.")
        elif satzart == form.head and fk == b"9111":
            try:
                quarter = Quarter.parse(val.decode("ascii"))
            except (ValueError, UnicodeDecodeError):
                raise MasterDataError(
                    f"{path.name}, Zeile {number}: Gültigkeitsquartal (9111) ist kein QJJJJ."
                ) from None
        elif satzart == form.head and fk == b"9212":
            version = val.decode("ascii", "replace")
        elif satzart == form.record and fk in form.fields:
            if len(val) != form.digits or not val.isdigit():
                detail = form.bad_key.format(fk=fk.decode())
                raise MasterDataError(f"{path.name}, Zeile {number}: {detail}")
            keys.add(val)
    if quarter is None:
        raise MasterDataError(f"{path.name}: Gültigkeitsquartal (9111) fehlt im Satz {head}.")
    if not seen_end:
        raise MasterDataError(f"{path.name}: die Datei endet nicht mit {tail} (unvollständig?).")
    return path, quarter, version, frozenset(keys)


def load_plz(path: str | os.PathLike) -> PlzFile:
    """Read one SDPLZ file (plz0, 2150 records with 0150, plz9)."""
    return PlzFile(*_load_xdt(Path(path), _SDPLZ))


def load_sdav(path: str | os.PathLike) -> AvFile:
    """Read one Arztverzeichnis file (KBV Datensatzbeschreibung SDAV 1.08, xDT: `AVS0` with
    9111 Gültigkeitsquartal and 9212 version, `1450` with 0201 BSNR, 0200 NBSNR, 0212 LANR,
    `AVS9`)."""
    return AvFile(*_load_xdt(Path(path), _SDAV))


_QUARTER_IN_NAME = re.compile(r"(?:Q([1-4])[_-]?(\d{4})|(\d{4})[_-]?Q([1-4]))", re.I)
_IK = re.compile(r"\d{9}")
_KV = re.compile(r"\d{2}")


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
    for event, elem in _xml_events(path):
        name = _local(elem.tag)
        if event == "start":
            if name == "kostentraeger":
                vknr, where = _entry_key(path, elem, _KT_KEY, len(entries) + 1)
                current = {
                    "vknr": vknr,
                    "iks": [],
                    "where": where,
                    "go": None,
                    "unz": [],
                    "group": None,
                }
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
            elif name == "gebuehrenordnung":
                current["go"] = elem.get("V") or None
            elif name == "kostentraegergruppe":
                current["group"] = elem.get("V") or None
            elif name == "unz_kv_geltungsbereich":
                kv = elem.get("V", "")
                if not _KV.fullmatch(kv):
                    raise MasterDataError(
                        f"{path.name}, {current['where']} ({current['vknr']}): "
                        f"unz_kv_geltungsbereich „{kv}“ muss zwei Ziffern haben."
                    )
                current["unz"].append(kv)
            elif name == "kostentraeger":
                start, end = current.get("period", (None, None))
                entries.append(
                    Kostentraeger(
                        current["vknr"],
                        start,
                        end,
                        tuple(current["iks"]),
                        current["go"],
                        tuple(current["unz"]),
                        current["group"],
                    )
                )
                current = None
                elem.clear()
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


#: Key attribute (V) of a master entry: (entry, key name, pattern, what it must be).
_KT_KEY = ("Kostenträger", "VKNR", re.compile(r"\d{5}"), "fünf Ziffern haben")
_EBM_KEY = ("GNR", "GNR", re.compile(r"\d{5}[A-Z]?"), "nnnnn oder nnnnnA sein")
_OPS_KEY = ("OPS", "OP-Schlüssel", re.compile(r".{1,8}", re.S), "1 bis 8 Zeichen haben")


def _entry_key(path: Path, elem, key: tuple, number: int) -> tuple[str, str]:
    """The key (V) of the `number`th entry and where it stands; a bad key is an error."""
    entry, name, pattern, must = key
    value = elem.get("V", "")
    where = f"{entry} Nr. {number}"
    if not pattern.fullmatch(value):
        raise MasterDataError(f"{path.name}, {where}: {name} (V) „{value}“ muss {must}.")
    return value, where


def _xml_events(path: Path):
    from lxml import etree  # lazy: a check without master data does not pay for lxml

    head = path.read_bytes()[:4096]
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise MasterDataError(f"{path.name}: DOCTYPE/ENTITY-Angaben sind nicht erlaubt.")
    events = etree.iterparse(
        str(path), events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False
    )
    try:
        yield from events
    except etree.XMLSyntaxError as exc:  # every loader reports broken XML the same way
        line, column = getattr(exc, "position", (0, 0))
        raise MasterDataError(
            f"{path.name}, Zeile {line}, Spalte {column}: kein gültiges XML."
        ) from None


#: Optional SDICD elements (schema icd, group diagnose_optionale_elemente_liste) -> values.
_ICD_FLAGS: dict[str, tuple[str, ...]] = {
    "notationskennzeichen": ("+", "*", "!"),
    "geschlechtsbezug_fehlerart": ("k", "m"),
    "altersbezug_fehlerart": ("k", "m"),
    "krankheit_in_mitteleuropa_sehr_selten": ("j", "n"),
    "schlüsselnummer_mit_inhalt_belegt": ("j", "n"),
    "infektionsschutzgesetz_meldepflicht": ("j", "n"),
}


def _icd_choice(path: Path, elem, name: str, allowed: tuple[str, ...]) -> str:
    value = elem.get("V", "")
    if value not in allowed:
        raise MasterDataError(
            f"{path.name}, Zeile {elem.sourceline}: {name} muss {' oder '.join(allowed)} sein "
            f"(gefunden „{value}“)."
        )
    return value


def load_sdicd(path: str | os.PathLike, *, year: int | None = None) -> IcdFile:
    """Read one SDICD file (KBV Schnittstelle SDICD, schema icd: `diagnose` with `icd_code V`,
    `abrechenbar V=j|n`, the optional elements the ICD rules use (notation, sex and age limits
    with their error kind, "sehr selten", "ohne Inhalt", Meldepflicht), nested `diagnosen_liste`
    for sub-codes).
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
            top["sex"] = _icd_choice(path, elem, name, ("m", "w"))
        elif name in _ICD_FLAGS and direct:
            top[name] = _icd_choice(path, elem, name, _ICD_FLAGS[name])
        elif name in ("untere_altersgrenze", "obere_altersgrenze") and direct:
            value, unit = elem.get("V", ""), elem.get("U", "")
            if not (value.isdigit() and len(value) <= 3) or unit not in ("Tag", "Jahr"):
                raise MasterDataError(
                    f"{path.name}, Zeile {elem.sourceline}: {name} braucht V (1 bis 3 "
                    "Ziffern) und U (Tag oder Jahr)."
                )
            top[name] = f"{int(value)}{unit[0]}"
        elif name == "diagnose":
            stack.pop()
            if "code" not in top or "billable" not in top:
                raise MasterDataError(
                    f"{path.name}, Zeile {elem.sourceline}: Diagnose ohne icd_code oder "
                    "abrechenbar."
                )
            code = top["code"]
            notation = top.get("notationskennzeichen")
            if code[-1] in "*+!":  # the code pattern allows the sign at its end
                code, notation = code[:-1], notation or code[-1]
            codes[code] = IcdCode(
                code,
                top["billable"],
                top["terminal"],
                top.get("sex"),
                sex_error=top.get("geschlechtsbezug_fehlerart"),
                age_low=top.get("untere_altersgrenze"),
                age_high=top.get("obere_altersgrenze"),
                age_error=top.get("altersbezug_fehlerart"),
                notation=notation,
                rare=top.get("krankheit_in_mitteleuropa_sehr_selten") == "j",
                empty=top.get("schlüsselnummer_mit_inhalt_belegt") == "n",
                reportable=top.get("infektionsschutzgesetz_meldepflicht") == "j",
            )
    if not codes:
        raise MasterDataError(f"{path.name}: die Datei enthält keine Diagnose.")
    return IcdFile(path, year, codes)


_TF_IN_NAME = re.compile(r"tf\+?(\d{4})q([1-4])", re.I)
_KVDT_FK = re.compile(r"\d{4}")


def _ehd_period(path: Path, value: str, where: str) -> tuple[str | None, str | None]:
    """eHD `zeitraum_typ`: `JJJJ-MM-TT..JJJJ-MM-TT`, `..JJJJ-MM-TT`, `JJJJ-MM-TT..` or one day
    `JJJJ-MM-TT`; returned as KVDT dates JJJJMMTT (None = open end)."""
    start, sep, end = value.partition("..")
    if not sep:
        end = start
    try:
        return tuple(  # type: ignore[return-value]
            dt.date.fromisoformat(v).strftime("%Y%m%d") if v else None for v in (start, end)
        )
    except ValueError:
        raise MasterDataError(
            f"{path.name}, {where}: Gültigkeit „{value}“ ist kein Zeitraum JJJJ-MM-TT..JJJJ-MM-TT."
        ) from None


def _file_quarter(path: Path, header_start: str | None, kind: str) -> Quarter:
    """Quarter of an eHD master file: `tfJJJJqQ` in the name (eHD naming convention), else
    the start of the header's `service_tmr`."""
    match = _TF_IN_NAME.search(path.name) or _QUARTER_IN_NAME.search(path.name)
    if match and match.re is _TF_IN_NAME:
        return Quarter(int(match[1]), int(match[2]))
    if match:
        q, y = (match[1], match[2]) if match[1] else (match[4], match[3])
        return Quarter(int(y), int(q))
    if header_start:
        return Quarter.of(dt.datetime.strptime(header_start, "%Y%m%d").date())
    raise MasterDataError(
        f"{path.name}: Gültigkeitsquartal der {kind} unbekannt (weder „tfJJJJqQ“ im Dateinamen "
        "noch service_tmr im Header)."
    )


def _stack_events(path: Path):
    """(event, local name, element, stack of local names below the element)."""
    stack: list[str] = []
    for event, elem in _xml_events(path):
        name = _local(elem.tag)
        if event == "start":
            yield event, name, elem, stack
            stack.append(name)
        else:
            stack.pop()
            yield event, name, elem, stack


def load_sdebm(path: str | os.PathLike, *, quarter: Quarter | None = None) -> EbmFile:
    """Read one EBM master file (KBV Datensatzbeschreibung SDEBM, eHD namespace urn:ehd/go/001):
    `body/gnr_liste/gnr V=GNR` with `allgemein/gueltigkeit/service_tmr V=Zeitraum` and
    `bedingung/gnr_zusatzangaben/gnr_zusatzangaben_liste V=AUSWAHL|SEQUENZ` of
    `gnr_zusatzangabe V=FK`. The quarter comes from `quarter`, the name (`tfJJJJqQ`) or the
    header's `service_tmr`."""
    path = Path(path)
    gnrs: dict[str, Gnr] = {}
    header_start: str | None = None
    current: dict | None = None
    for event, name, elem, stack in _stack_events(path):
        parent = stack[-1] if stack else ""
        if event == "start":
            if name == "gnr" and stack[-2:] == ["body", "gnr_liste"]:
                code, where = _entry_key(path, elem, _EBM_KEY, len(gnrs) + 1)
                current = {
                    "code": code,
                    "period": None,
                    "lists": [],
                    "where": where,
                    "ops": None,
                    "gnrs": None,
                }
            elif current is None:
                if name == "service_tmr" and "header" in stack and header_start is None:
                    header_start = _ehd_period(path, elem.get("V", ""), "Header")[0]
            elif name == "service_tmr" and stack[-2:] == ["allgemein", "gueltigkeit"]:
                if current["period"] is None:
                    current["period"] = _ehd_period(
                        path, elem.get("V", ""), f"{current['where']} ({current['code']})"
                    )
            elif name == "gnr_zusatzangaben_liste" and parent == "gnr_zusatzangaben":
                kind = elem.get("V", "")
                if kind not in ("AUSWAHL", "SEQUENZ"):
                    raise MasterDataError(
                        f"{path.name}, GNR {current['code']}: gnr_zusatzangaben_liste V muss "
                        "AUSWAHL oder SEQUENZ sein."
                    )
                current["lists"].append((kind == "SEQUENZ", []))
            elif "begruendungen_liste" in stack and parent == "begruendungen_liste":
                if name == "ops_liste" and current["ops"] is None:
                    current["ops"] = []
                elif name == "gnr_liste" and current["gnrs"] is None:
                    current["gnrs"] = []
            elif name == "ops" and stack[-3:] == [
                "begruendungen_liste",
                "ops_liste",
                "kategorie",
            ]:
                current["ops"].append(elem.get("V", ""))
            elif name == "gnr" and stack[-2:] == ["begruendungen_liste", "gnr_liste"]:
                current["gnrs"].append(elem.get("V", ""))
            elif name == "gnr_zusatzangabe" and parent == "gnr_zusatzangaben_liste":
                fk = elem.get("V", "")
                if not _KVDT_FK.fullmatch(fk):
                    raise MasterDataError(
                        f"{path.name}, GNR {current['code']}: Zusatzangabe „{fk}“ ist keine "
                        "KVDT-Feldkennung."
                    )
                current["lists"][-1][1].append(fk)
            continue
        if name == "gnr" and current is not None and stack[-2:] == ["body", "gnr_liste"]:
            start, end = current["period"] or (None, None)
            lists = tuple((seq, tuple(fks)) for seq, fks in current["lists"] if fks)
            ops, reasons = current["ops"], current["gnrs"]
            gnrs[current["code"]] = Gnr(
                current["code"],
                start,
                end,
                lists,
                None if ops is None else tuple(v for v in ops if v),
                None if reasons is None else tuple(v for v in reasons if v),
            )
            current = None
            elem.clear()
    if not gnrs:
        raise MasterDataError(f"{path.name}: die Datei enthält keine GNR (gnr_liste/gnr).")
    return EbmFile(path, quarter or _file_quarter(path, header_start, "EBM-Stammdatei"), gnrs)


def load_sdops(path: str | os.PathLike, *, quarter: Quarter | None = None) -> OpsFile:
    """Read one OPS master file (KBV Schnittstelle SDOPS, namespace urn:ehd/sdops/001):
    `opscode_liste/opscode V=OPS` with `gueltigkeit V=Zeitraum` and `kzseite V=J|N`."""
    path = Path(path)
    codes: dict[str, OpsCode] = {}
    header_start: str | None = None
    current: dict | None = None
    for event, name, elem, stack in _stack_events(path):
        if event == "start":
            if name == "opscode":
                code, _where = _entry_key(path, elem, _OPS_KEY, len(codes) + 1)
                current = {"code": code, "period": None, "side": None}
            elif current is None:
                if name == "service_tmr" and "header" in stack and header_start is None:
                    header_start = _ehd_period(path, elem.get("V", ""), "Header")[0]
            elif name == "gueltigkeit":
                current["period"] = _ehd_period(path, elem.get("V", ""), current["code"])
            elif name == "kzseite":
                side = elem.get("V", "")
                if side not in ("J", "N"):
                    raise MasterDataError(
                        f"{path.name}, OPS {current['code']}: kzseite muss J oder N sein."
                    )
                current["side"] = side == "J"
            continue
        if name == "opscode" and current is not None:
            if current["side"] is None:
                raise MasterDataError(f"{path.name}, OPS {current['code']}: kzseite fehlt.")
            start, end = current["period"] or (None, None)
            codes[current["code"]] = OpsCode(current["code"], start, end, current["side"])
            current = None
            elem.clear()
    if not codes:
        raise MasterDataError(f"{path.name}: die Datei enthält keinen OP-Schlüssel (opscode).")
    return OpsFile(path, quarter or _file_quarter(path, header_start, "OPS-Stammdatei"), codes)


def load_sdhdrg(path: str | os.PathLike) -> HdrgFile:
    """Read one Hybrid-DRG master file (KBV Schnittstelle SDHDRG 2.0.0, namespace
    urn:ehd/sdhdrg/001): `sdhdrg_stammdaten/leistungsbereich_liste/leistungsbereich/
    hybrid_drg_liste/hybrid_drg V=Hybrid-DRG`; validity from the header's `service_tmr`
    (e.g. 2026-01-01..2026-12-31), the quarter from `tfJJJJqQ` in the name or its start."""
    path = Path(path)
    codes: set[str] = set()
    period: tuple[str | None, str | None] | None = None
    for event, name, elem, stack in _stack_events(path):
        if event != "start":
            if name == "hybrid_drg":
                elem.clear()
            continue
        if name == "service_tmr" and "header" in stack and period is None:
            period = _ehd_period(path, elem.get("V", ""), "Header (service_tmr)")
        elif name == "hybrid_drg":
            code = elem.get("V", "")
            if not re.fullmatch(r"[A-Z0-9]{4}", code):
                raise MasterDataError(
                    f"{path.name}, Zeile {elem.sourceline}: Hybrid-DRG (V) „{code}“ muss "
                    "vier Zeichen (A–Z, 0–9) haben."
                )
            codes.add(code)
    if not codes:
        raise MasterDataError(f"{path.name}: die Datei enthält keine Hybrid-DRG (hybrid_drg).")
    start, end = period or (None, None)
    quarter = _file_quarter(path, start, "Hybrid-DRG-Stammdatei")
    return HdrgFile(path, quarter, end, frozenset(codes))


def _keytab_order(table: KeyTable) -> tuple:
    version = tuple(int(p) if p.isdigit() else 0 for p in table.version.split("."))
    return (table.quarter or Quarter(1900, 1), version)


def load_keytab(path: str | os.PathLike) -> KeyTable:
    """Read a KBV key table (Schlüsseltabelle, namespace urn:ehd/001: `keytabs/keytab` with
    S = OID, SN = name, SV = version, and `key V DN`); the first `keytab` of the file."""
    path = Path(path)
    keys: dict[str, str] = {}
    gops: list[tuple[str, str, str]] = []
    head: dict[str, str] | None = None
    for event, name, elem, _stack in _stack_events(path):
        if event != "start":
            if name == "keytab" and head is not None:
                break
            continue
        if name == "keytab" and head is None:
            head = {a: elem.get(a, "") for a in ("S", "SN", "SV")}
            if not head["S"]:
                raise MasterDataError(f"{path.name}: keytab ohne OID (Attribut S).")
        elif name == "key" and head is not None:
            value = elem.get("V")
            if not value:
                raise MasterDataError(
                    f"{path.name}, Zeile {elem.sourceline}: key ohne Wert (Attribut V)."
                )
            keys[value] = elem.get("DN", "")
            if elem.get("gop"):
                period = elem.get("gueltigkeit", "..")
                _ehd_period(path, period, f"Zeile {elem.sourceline} (gueltigkeit)")
                gops.append((value, elem.get("gop", ""), period))
    if head is None or not keys:
        raise MasterDataError(f"{path.name}: keine Schlüsseltabelle (keytab mit key) gefunden.")
    match = _TF_IN_NAME.search(path.name)
    quarter = Quarter(int(match[1]), int(match[2])) if match else None
    return KeyTable(path, head["S"], head["SN"], head["SV"], keys, quarter, tuple(gops))


def load_directory(directory: str | os.PathLike) -> MasterData:
    """All master files of a directory (offline use: `kvdt check --stammdaten DIR`)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MasterDataError(f"Das Stammdaten-Verzeichnis „{directory}“ gibt es nicht.")
    data = MasterData()
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.name.upper().startswith("PLZ"):
            data.plz_files.append(load_plz(path))
        elif path.is_file() and path.name.upper().startswith("SDAV"):
            data.av_files.append(load_sdav(path))
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
        elif path.is_file() and _is_xml(path, ("SDEBM", "EBM", "850_", "851_", "852_")):
            data.ebm_files.append(load_sdebm(path))
        elif path.is_file() and _is_xml(path, ("SDOPS", "OPS")):
            data.ops_files.append(load_sdops(path))
        elif path.is_file() and _is_xml(path, ("SDHDRG",)):
            data.hdrg_files.append(load_sdhdrg(path))
        elif path.is_file() and _is_xml(path, ("S_", "KEYTAB", "HGNC")):
            data.keytabs.append(load_keytab(path))
    return data


def _is_xml(path: Path, prefixes: tuple[str, ...]) -> bool:
    return path.name.upper().startswith(prefixes) and path.suffix.lower() == ".xml"

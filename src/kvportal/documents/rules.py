# § 304 (1) SGB V: documents are deleted at the latest ten years after the end of the year of
# their quarter; § 37 (2a) SGB X: an electronic notice counts as delivered on the fourth day.
"""Pure rules of the document archive (no Django).

- document types and their labels,
- deletion date (retention per type, at most ten years after the end of the quarter's year),
- delivery date of an electronically provided document,
- parsing and validating an import manifest (CSV or JSON) with German errors per row and field.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from kvportal.core.quarters import Quarter
from kvportal.members.identifiers import check_bsnr, check_lanr

BERLIN = ZoneInfo("Europe/Berlin")

# --------------------------------------------------------------------------- document types

#: Document types (code → German label). Seed 000 names the first four; the rest are the
#: issue's additions plus the chairman's cover letter that goes with the Honorarbescheid.
DOC_TYPES: dict[str, str] = {
    "honorarbescheid": "Honorarbescheid",
    "honorarzusammenstellung": "Honorarzusammenstellung",
    "richtigstellung": "Richtigstellung",
    "punktzahlbegrenzung": "Nachweis zur Punktzahlbegrenzung",
    "rlv_mitteilung": "RLV-Mitteilung",
    "pruefprotokoll": "Prüfprotokoll",
    "beschluss": "Beschluss",
    "begleitbrief": "Begleitbrief",
    "sonstiges": "Sonstiges",
}

#: Types that carry the Honorar amount drawn in the start-page chart.
HONORAR_TYPES = ("honorarbescheid",)

#: Seed 000: with online billing only the Honorarbescheid and the chairman's cover letter
#: are also sent by post; everything else is provided exclusively through the portal.
POSTED_TYPES = ("honorarbescheid", "begleitbrief")


def sent_by_post_by_default(doc_type: str) -> bool:
    return doc_type in POSTED_TYPES


def _normalise_type_key(value: str) -> str:
    text = value.strip().casefold()
    for src, dst in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(src, dst)
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


_TYPE_LOOKUP: dict[str, str] = {}
for _code, _label in DOC_TYPES.items():
    _TYPE_LOOKUP[_normalise_type_key(_code)] = _code
    _TYPE_LOOKUP[_normalise_type_key(_label)] = _code
_TYPE_LOOKUP.update(
    {
        "nachweis_punktzahlbegrenzung": "punktzahlbegrenzung",
        "richtigstellung_der_abrechnung": "richtigstellung",
        "rlv": "rlv_mitteilung",
        "begleitbrief_des_vorstandsvorsitzenden": "begleitbrief",
    }
)


def parse_doc_type(value: str) -> str:
    """Return the type code for a code or German label (case and umlaut spelling ignored)."""
    code = _TYPE_LOOKUP.get(_normalise_type_key(value or ""))
    if code is None:
        allowed = ", ".join(DOC_TYPES.values())
        raise ValueError(f"„{value}“ ist kein bekannter Dokumenttyp (erlaubt: {allowed}).")
    return code


# --------------------------------------------------------------------------- deletion date

#: § 304 (1) SGB V: "spätestens nach zehn Jahren", counted from the end of the year.
MAX_RETENTION_YEARS = 10
DEFAULT_RETENTION_YEARS = 10


def retention_years(doc_type: str, overrides: Mapping[str, int] | None = None) -> int:
    """Years a type is kept after the end of its quarter's year (default 10, at most 10)."""
    years = (overrides or {}).get(doc_type, DEFAULT_RETENTION_YEARS)
    if not isinstance(years, int) or isinstance(years, bool) or years < 1:
        raise ValueError(
            f"Die Aufbewahrungsfrist für „{doc_type}“ muss eine ganze Zahl ab 1 Jahr sein."
        )
    if years > MAX_RETENTION_YEARS:
        raise ValueError(
            f"Die Aufbewahrungsfrist für „{doc_type}“ ist {years} Jahre; "
            f"§ 304 SGB V erlaubt höchstens {MAX_RETENTION_YEARS} Jahre."
        )
    return years


def deletion_date(
    quarter: Quarter, doc_type: str, overrides: Mapping[str, int] | None = None
) -> dt.date:
    """Last day a document is kept: 31 December of (quarter's year + retention years).

    The period starts at the end of the year of the quarter (§ 304 (1) Satz 2 SGB V), so a
    document for 4/2025 and one for 1/2025 share the date 31.12.2035; the purge removes it on
    the first run after that day (see `is_due`).
    """
    from kvportal.core.periods import deletion_date as _deletion_date

    years = retention_years(doc_type, overrides)
    return _deletion_date(dt.date(quarter.year, 12, 31), years=years, end_of_year=True)


def is_due(deletion: dt.date, today: dt.date) -> bool:
    """A document is purged once its deletion date has passed (not on the day itself)."""
    return today > deletion


def local_date(moment: dt.datetime | dt.date) -> dt.date:
    """The calendar date in Germany of an aware datetime (naive datetimes are taken as UTC)."""
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(BERLIN).date()
    return moment


# --------------------------------------------------------------------------- delivery date

#: § 37 (2a) SGB X: "am vierten Tag nach der Absendung der Benachrichtigung".
DELIVERY_DAYS_AFTER_NOTICE = 4


def delivery_date(notice_sent_at: dt.datetime | dt.date) -> dt.date:
    """Date on which a document provided for retrieval counts as delivered (bekannt gegeben).

    The day the e-mail notice was sent (German calendar date) plus four days. The fiction is
    not moved to the next working day (the issue and § 37 (2a) SGB X name a fixed day).
    """
    return local_date(notice_sent_at) + dt.timedelta(days=DELIVERY_DAYS_AFTER_NOTICE)


# --------------------------------------------------------------------------- manifest

FIELD_LABELS: dict[str, str] = {
    "file": "Datei",
    "bsnr": "BSNR",
    "lanr": "LANR",
    "quarter": "Quartal",
    "doc_type": "Typ",
    "title": "Titel",
    "amount": "Betrag",
}

#: Accepted column names (after casefold/strip) per field.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "file": ("file", "datei", "dateiname", "pfad"),
    "bsnr": ("bsnr", "betriebsstaettennummer", "betriebsstättennummer"),
    "lanr": ("lanr", "arztnummer"),
    "quarter": ("quarter", "quartal"),
    "doc_type": ("type", "doc_type", "typ", "art", "dokumenttyp"),
    "title": ("title", "titel", "bezeichnung"),
    "amount": ("amount", "betrag", "honorar"),
}
REQUIRED_FIELDS = ("file", "bsnr", "quarter", "doc_type", "title")
TITLE_MAX_LENGTH = 200
ALLOWED_EXTENSIONS = (".pdf",)
#: Quarters further ahead than this are rejected (RLV-Mitteilungen precede their quarter).
MAX_QUARTERS_AHEAD = 4
AMOUNT_LIMIT = Decimal("1000000000")


@dataclass(frozen=True)
class RowError:
    """One problem of one manifest row; `field` is None for problems of the whole row."""

    row: int
    field: str | None
    message: str
    row_label: str = "Zeile"

    def __str__(self) -> str:
        where = f"{self.row_label} {self.row}"
        if self.field:
            where += f", Feld „{FIELD_LABELS.get(self.field, self.field)}“"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ManifestRow:
    row: int
    file: str
    bsnr: str
    lanr: str | None
    quarter: Quarter
    doc_type: str
    title: str
    amount: Decimal | None = None

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """Identity within one manifest (the file hash joins it in the importer)."""
        return (self.file, self.bsnr, self.quarter.kvdt, self.doc_type, self.lanr or "")


@dataclass
class ManifestResult:
    rows: list[ManifestRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    #: Fatal problems of the manifest itself (unreadable, wrong columns): no row is usable.
    fatal: list[str] = field(default_factory=list)
    #: "Zeile" (CSV line numbers) or "Eintrag" (JSON list positions)
    row_label: str = "Zeile"

    @property
    def ok(self) -> bool:
        return not self.errors and not self.fatal

    def error_rows(self) -> set[int]:
        return {e.row for e in self.errors}


class ManifestError(ValueError):
    """The manifest as a whole cannot be read."""


def decode_manifest(data: bytes) -> str:
    """UTF-8 (with or without BOM); billing systems on Windows often write Windows-1252."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="strict")


def parse_amount(value: object) -> Decimal:
    """Euro amount: `12345.67`, `12.345,67`, `12345,67`, `-12,50 €` or a JSON number."""
    if isinstance(value, bool):
        raise ValueError("„Betrag“ muss eine Zahl in Euro sein.")
    if isinstance(value, int | float | Decimal):
        text = str(value)
    else:
        text = str(value).strip().replace("€", "").replace("EUR", "").replace(" ", "")
        text = text.replace("\u00a0", "")
        if "," in text:
            text = text.replace(".", "").replace(",", ".")
        elif re.fullmatch(r"-?\d{1,3}(\.\d{3})+", text):
            # "12.345" in German notation is twelve thousand, not twelve point three
            text = text.replace(".", "")
    if not re.fullmatch(r"-?\d+(\.\d{1,2})?", text):
        raise ValueError(f"„{value}“ ist kein gültiger Betrag (z. B. 12345,67).")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - guarded by the regex
        raise ValueError(f"„{value}“ ist kein gültiger Betrag (z. B. 12345,67).") from exc
    if abs(amount) >= AMOUNT_LIMIT:
        raise ValueError(f"Der Betrag {value} ist unplausibel groß.")
    return amount


def check_file_name(value: str) -> str:
    """A relative path inside the import directory, no `..`, ending in .pdf."""
    name = value.strip().replace("\\", "/")
    if not name:
        raise ValueError("Der Dateiname fehlt.")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise ValueError(f"„{value}“ ist ein absoluter Pfad; erlaubt sind nur relative Pfade.")
    normalised = posixpath.normpath(name)
    if normalised.startswith("..") or "/../" in f"/{normalised}/":
        raise ValueError(f"„{value}“ verweist außerhalb des Import-Verzeichnisses.")
    if not normalised.lower().endswith(ALLOWED_EXTENSIONS):
        raise ValueError(f"„{value}“ ist keine PDF-Datei (Endung .pdf erwartet).")
    return normalised


def _cell(raw: Mapping[str, object], name: str) -> object:
    value = raw.get(name)
    return "" if value is None else value


def validate_row(
    raw: Mapping[str, object],
    *,
    row: int,
    today: dt.date | None = None,
    retention: Mapping[str, int] | None = None,
    row_label: str = "Zeile",
) -> tuple[ManifestRow | None, list[RowError]]:
    """Validate one manifest row given as {field: value} with the canonical field names."""
    errors: list[RowError] = []

    def err(fld: str | None, message: str) -> None:
        errors.append(RowError(row, fld, message, row_label))

    values: dict[str, object] = {}
    for fld in REQUIRED_FIELDS:
        text = str(_cell(raw, fld)).strip()
        if not text:
            err(fld, "Angabe fehlt.")
        values[fld] = text

    if values["file"]:
        try:
            values["file"] = check_file_name(str(values["file"]))
        except ValueError as exc:
            err("file", str(exc))

    if values["bsnr"]:
        bsnr_check = check_bsnr(str(values["bsnr"]))
        for message in bsnr_check.errors:
            err("bsnr", message)

    lanr_text = str(_cell(raw, "lanr")).strip()
    lanr: str | None = lanr_text or None
    if lanr:
        lanr_check = check_lanr(lanr)
        for message in lanr_check.errors:
            err("lanr", message)

    quarter: Quarter | None = None
    if values["quarter"]:
        try:
            quarter = Quarter.parse(str(values["quarter"]))
        except ValueError as exc:
            err("quarter", str(exc))

    doc_type: str | None = None
    if values["doc_type"]:
        try:
            doc_type = parse_doc_type(str(values["doc_type"]))
        except ValueError as exc:
            err("doc_type", str(exc))

    title = str(values["title"])
    if len(title) > TITLE_MAX_LENGTH:
        err("title", f"Der Titel ist {len(title)} Zeichen lang; erlaubt sind {TITLE_MAX_LENGTH}.")
    if any(ord(ch) < 32 for ch in title):
        err("title", "Der Titel enthält Steuerzeichen.")

    amount: Decimal | None = None
    raw_amount = _cell(raw, "amount")
    if str(raw_amount).strip():
        try:
            amount = parse_amount(raw_amount)
        except ValueError as exc:
            err("amount", str(exc))

    if quarter is not None and doc_type is not None and today is not None:
        try:
            last_day = deletion_date(quarter, doc_type, retention)
        except ValueError as exc:
            err("doc_type", str(exc))
        else:
            if is_due(last_day, today):
                err(
                    "quarter",
                    f"Das Quartal {quarter} ist älter als die Aufbewahrungsfrist "
                    f"(Löschung spätestens am {last_day:%d.%m.%Y}, § 304 SGB V).",
                )
        current = Quarter.of(today)
        limit = current
        for _ in range(MAX_QUARTERS_AHEAD):
            limit = limit.next()
        if quarter > limit:
            err("quarter", f"Das Quartal {quarter} liegt zu weit in der Zukunft.")

    if errors or quarter is None or doc_type is None:
        return None, errors
    return (
        ManifestRow(
            row=row,
            file=str(values["file"]),
            bsnr=str(values["bsnr"]),
            lanr=lanr,
            quarter=quarter,
            doc_type=doc_type,
            title=title,
            amount=amount,
        ),
        [],
    )


def _canonical_columns(names: list[str]) -> tuple[dict[str, str], list[str]]:
    """Map manifest column names to field names; returns (mapping, fatal problems)."""
    lookup = {alias: fld for fld, aliases in FIELD_ALIASES.items() for alias in aliases}
    mapping: dict[str, str] = {}
    problems: list[str] = []
    for name in names:
        key = (name or "").strip().casefold()
        fld = lookup.get(key)
        if fld is None:
            continue  # unknown extra columns are ignored
        if fld in mapping.values():
            problems.append(f"Die Spalte „{FIELD_LABELS[fld]}“ kommt doppelt vor.")
        mapping[name] = fld
    missing = [FIELD_LABELS[f] for f in REQUIRED_FIELDS if f not in mapping.values()]
    if missing:
        problems.append(
            "Im Manifest fehlen die Spalten: " + ", ".join(f"„{m}“" for m in missing) + "."
        )
    return mapping, problems


def _finish(
    result: ManifestResult,
    raws: list[tuple[int, dict[str, object]]],
    *,
    today: dt.date | None,
    retention: Mapping[str, int] | None,
    row_label: str,
) -> ManifestResult:
    seen: dict[tuple[str, ...], int] = {}
    for number, raw in raws:
        parsed, errors = validate_row(
            raw, row=number, today=today, retention=retention, row_label=row_label
        )
        if parsed is not None:
            first = seen.get(parsed.key)
            if first is not None:
                errors = [
                    RowError(
                        number,
                        None,
                        f"Doppelter Eintrag (gleiche Datei, BSNR, LANR, Quartal und Typ "
                        f"wie {row_label} {first}).",
                        row_label,
                    )
                ]
                parsed = None
            else:
                seen[parsed.key] = number
        if parsed is not None:
            result.rows.append(parsed)
        result.errors.extend(errors)
    result.errors.sort(key=lambda e: e.row)
    return result


def parse_csv_manifest(
    text: str,
    *,
    today: dt.date | None = None,
    retention: Mapping[str, int] | None = None,
) -> ManifestResult:
    """CSV with a header row, `;` or `,` separated; row numbers are file line numbers."""
    result = ManifestResult()
    if not text.strip():
        result.fatal.append("Das Manifest ist leer.")
        return result
    first_line = text.splitlines()[0]
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as exc:
        result.fatal.append(f"Das Manifest ist keine lesbare CSV-Datei ({exc}).")
        return result
    mapping, problems = _canonical_columns(header)
    if problems:
        result.fatal.extend(problems)
        return result
    raws: list[tuple[int, dict[str, object]]] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                result.errors.append(
                    RowError(
                        line,
                        None,
                        f"Die Zeile hat {len(cells)} Spalten, die Kopfzeile {len(header)}.",
                    )
                )
                continue
            raws.append(
                (line, {mapping[h]: c for h, c in zip(header, cells, strict=True) if h in mapping})
            )
    except csv.Error as exc:
        result.fatal.append(f"CSV-Fehler in Zeile {reader.line_num}: {exc}.")
        return result
    return _finish(result, raws, today=today, retention=retention, row_label="Zeile")


def parse_json_manifest(
    text: str,
    *,
    today: dt.date | None = None,
    retention: Mapping[str, int] | None = None,
) -> ManifestResult:
    """JSON: a list of objects, or {"documents": [...]}; rows are counted from 1 ("Eintrag")."""
    result = ManifestResult(row_label="Eintrag")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        result.fatal.append(
            f"Das Manifest ist kein gültiges JSON (Zeile {exc.lineno}, Spalte {exc.colno})."
        )
        return result
    if isinstance(data, dict):
        data = data.get("documents", data.get("dokumente"))
    if not isinstance(data, list):
        result.fatal.append(
            'Das JSON-Manifest muss eine Liste von Einträgen oder {"documents": [...]} sein.'
        )
        return result
    lookup = {alias: fld for fld, aliases in FIELD_ALIASES.items() for alias in aliases}
    raws: list[tuple[int, dict[str, object]]] = []
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            result.errors.append(RowError(index, None, "Der Eintrag ist kein Objekt.", "Eintrag"))
            continue
        raw: dict[str, object] = {}
        for key, value in item.items():
            fld = lookup.get(str(key).strip().casefold())
            if fld is not None:
                raw[fld] = value
        raws.append((index, raw))
    return _finish(result, raws, today=today, retention=retention, row_label="Eintrag")


def parse_manifest(
    data: bytes | str,
    *,
    name: str = "",
    today: dt.date | None = None,
    retention: Mapping[str, int] | None = None,
) -> ManifestResult:
    """Parse a manifest; JSON if the name ends in .json or the text starts with [ or {."""
    try:
        text = decode_manifest(data) if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        return ManifestResult(fatal=["Das Manifest ist weder UTF-8 noch Windows-1252 kodiert."])
    stripped = text.lstrip()
    if name.lower().endswith(".json") or stripped.startswith(("[", "{")):
        return parse_json_manifest(text, today=today, retention=retention)
    return parse_csv_manifest(text, today=today, retention=retention)


def document_key(
    *, sha256: str, bsnr: str, quarter: Quarter, doc_type: str, lanr: str | None
) -> str:
    """Idempotency key of a published document: same content for the same addressee."""
    return "|".join((sha256, bsnr, quarter.kvdt, doc_type, lanr or ""))


def last_quarters(current: Quarter, count: int = 8) -> list[Quarter]:
    """The `count` quarters ending with `current`, oldest first."""
    quarters = [current]
    for _ in range(count - 1):
        quarters.append(quarters[-1].previous())
    return list(reversed(quarters))


# --------------------------------------------------------------------------- Widerspruch

#: Documents that are Bescheide (Verwaltungsakte) against which a Widerspruch is possible.
BESCHEID_TYPES = ("honorarbescheid", "richtigstellung")


def widerspruch_deadline(delivered: dt.date, *, holidays: frozenset[dt.date] = frozenset()):
    """Last day for a Widerspruch: one month after the Bekanntgabe (§ 84 Abs. 1 SGG).

    § 64 Abs. 2 SGG: the month ends on the day with the same number as the day of delivery; a
    month without that day ends on its last day. § 64 Abs. 3 SGG: a deadline on a Saturday,
    Sunday or public holiday (`holidays`, the KV's Land) moves to the next working day.
    """
    import calendar

    year, month = delivered.year, delivered.month + 1
    if month == 13:
        year, month = year + 1, 1
    deadline = dt.date(year, month, min(delivered.day, calendar.monthrange(year, month)[1]))
    while deadline.weekday() >= 5 or deadline in holidays:
        deadline += dt.timedelta(days=1)
    return deadline

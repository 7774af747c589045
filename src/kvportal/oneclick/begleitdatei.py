# Begleitdatei V1.0.3 (kv.digital) for 1ClickAbrechnung V2.1: XML in UTF-8, valid against
# KVTA_Einlieferung_Abrechnung_2_0_0.xsd; file names in `anhang` compared case-insensitively.
"""Parse, validate and build the Begleitdatei of a 1-Click delivery. No Django.

`parse(data)` returns a `Begleitdatei` or raises `BegleitdateiError` whose `problems` name, in
German, what is wrong and where (line and element path). `build(...)` writes one that the
published schema accepts. The schemas are the KBV/kv.digital files in `Schema/` (unchanged;
see `Schema/README.md` for source and licence).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from kvportal.core.quarters import Quarter
from kvportal.oneclick.problems import ProblemsError, element_path

NS = "http://www.kv-telematik.de/1-Click/Meldung_Einlieferung/2.0.0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_FILE = "KVTA_Einlieferung_Abrechnung_2_0_0.xsd"
SCHEMA_DIR = Path(__file__).with_name("Schema")
#: BGD0103: the Begleitdatei has a fixed file name
FILENAME = "begleitdatei.xml"

ABRECHNUNG = "ABRECHNUNG"
SAMMELERKLAERUNG = "SAMMELERKLÄRUNG"
ABRECHNUNG_UND_SAMMELERKLAERUNG = "ABRECHNUNG+SAMMELERKLÄRUNG"
#: the document types of the application 1ClickAbrechnung (the schema lists more for others)
ONECLICK_TYPES = (ABRECHNUNG, SAMMELERKLAERUNG, ABRECHNUNG_UND_SAMMELERKLAERUNG)

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

#: German hints per element: what the V attribute must contain
_HINTS = {
    "version": "eine ganze Zahl ab 1",
    "guid": "eine GUID wie 3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    "bsnr": "die 9-stellige Betriebsstättennummer (nur Ziffern)",
    "testdaten": "„true“ (Testabrechnung) oder „false“ (Echtabrechnung)",
    "lieferungs_zeitpunkt": "Datum und Uhrzeit wie 2026-04-05T10:30:00+02:00",
    "dokumenten_typ": "ABRECHNUNG, SAMMELERKLÄRUNG oder ABRECHNUNG+SAMMELERKLÄRUNG",
    "quartal": "das Quartal als JJJJ-Q, z. B. 2026-1",
    "vollstaendig": "„true“ (Lieferung vollständig) oder „false“ (weitere folgen)",
    "anhang": "den Dateinamen eines Anhangs",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a Begleitdatei; `text` is German and names line and element."""

    code: str
    text: str
    line: int | None = None
    path: str = ""


class BegleitdateiError(ProblemsError[Problem]):
    """A Begleitdatei refused by `parse`."""


@dataclass(frozen=True)
class Begleitdatei:
    bsnr: str
    quartal: Quarter
    testdaten: bool
    anhaenge: tuple[str, ...]
    dokumenten_typ: str = ABRECHNUNG
    vollstaendig: bool = True
    lieferungs_zeitpunkt: dt.datetime | None = None
    guid: str = field(default_factory=lambda: str(uuid.uuid4()))
    version: int = 1

    @property
    def with_billing(self) -> bool:
        return self.dokumenten_typ in (ABRECHNUNG, ABRECHNUNG_UND_SAMMELERKLAERUNG)

    @property
    def with_sammelerklaerung(self) -> bool:
        return self.dokumenten_typ in (SAMMELERKLAERUNG, ABRECHNUNG_UND_SAMMELERKLAERUNG)

    def listed(self, filename: str) -> bool:
        """BGD0910: names are compared without regard to case."""
        return filename.casefold() in {a.casefold() for a in self.anhaenge}


@cache
def _schema():
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / SCHEMA_FILE)))


def _where(line: int | None, path: str) -> str:
    parts = []
    if line:
        parts.append(f"Zeile {line}")
    if path:
        parts.append(f"Element {path}")
    return ", ".join(parts)


def _schema_problem(error, doc) -> Problem:
    """An lxml schema error as a German problem with line and readable element path."""
    try:
        found = doc.xpath(error.path)
        path = element_path(found[0]) if found else ""
    except Exception:  # an unusual path must not hide the message
        path = ""
    message = error.message or ""
    local = path.rsplit("/", 1)[-1] if path else ""
    hint = _HINTS.get(local, "")
    where = _where(error.line, path)
    value = re.search(r"(?:The value )?'([^']*)' is not", message)
    kind = error.type_name or ""
    if value and ("PATTERN" in kind or "DATATYPE" in kind or "ENUMERATION" in kind):
        text = f"{where}: Der Wert „{value.group(1)}“ ist nicht zulässig."
        if hint:
            text += f" Erwartet wird {hint}."
        return Problem("value", text, error.line, path)
    if "FACET" in kind or "LENGTH" in kind or "facet" in message:
        text = f"{where}: Der Wert hat nicht die vorgeschriebene Länge."
        if hint:
            text += f" Erwartet wird {hint}."
        return Problem("value", text, error.line, path)
    expected = re.search(r"Expected is \( ?(.+?) ?\)", message)
    names = []
    if expected:
        names = [re.sub(r"^\{[^}]*\}", "", n.strip()) for n in expected.group(1).split(",")]
    if "Missing child element" in message:
        return Problem(
            "missing",
            f"{where}: Es fehlt das Element „{', '.join(names)}“.",
            error.line,
            path,
        )
    if "not expected" in message:
        text = f"{where}: Das Element „{local}“ ist an dieser Stelle nicht vorgesehen."
        if names:
            text += f" Erwartet wird „{', '.join(names)}“."
        return Problem("unexpected", text, error.line, path)
    if "is required but missing" in message:
        attr = re.search(r"attribute '([^']+)'", message)
        return Problem(
            "missing",
            f"{where}: Das Attribut „{attr.group(1) if attr else 'V'}“ fehlt.",
            error.line,
            path,
        )
    if "attribute" in message and "is not allowed" in message:
        return Problem(
            "unexpected", f"{where}: Dieses Attribut ist nicht vorgesehen.", error.line, path
        )
    return Problem(
        "schema",
        f"{where}: Die Begleitdatei entspricht nicht dem KBV-Schema ({message}).",
        error.line,
        path,
    )


def _element(doc, name: str):
    return doc.find(f"{{{NS}}}{name}")


def _value(doc, name: str) -> str:
    el = _element(doc, name)
    return (el.get("V") or "").strip() if el is not None else ""


def _bool(text: str) -> bool:
    return text.strip() in ("true", "1")


def parse(data: bytes) -> Begleitdatei:
    """Parse and validate a Begleitdatei (bytes as received). Raises `BegleitdateiError`."""
    from lxml import etree

    if not data or not data.strip():
        raise BegleitdateiError([Problem("empty", "Die Begleitdatei ist leer.")])
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BegleitdateiError(
            [
                Problem(
                    "encoding",
                    f"Zeile {line}: Die Begleitdatei ist nicht in UTF-8 kodiert (Vorgabe BGD0102).",
                    line,
                )
            ]
        ) from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or None
        raise BegleitdateiError(
            [
                Problem(
                    "syntax",
                    f"{_where(line, '')}: Die Begleitdatei ist kein wohlgeformtes XML ({exc.msg}).",
                    line,
                )
            ]
        ) from None
    declared = root.getroottree().docinfo.encoding or "UTF-8"
    if declared.upper().replace("_", "-") not in ("UTF-8", "UTF8"):
        raise BegleitdateiError(
            [
                Problem(
                    "encoding",
                    f"Zeile 1: Die Begleitdatei gibt den Zeichensatz „{declared}“ an; "
                    "vorgeschrieben ist UTF-8 (Vorgabe BGD0102).",
                    1,
                )
            ]
        )
    if root.tag != f"{{{NS}}}einlieferung":
        local = re.sub(r"^\{[^}]*\}", "", str(root.tag))
        raise BegleitdateiError(
            [
                Problem(
                    "root",
                    f"Zeile {root.sourceline}, Element {local}: Das Wurzelelement muss "
                    f"„einlieferung“ im Namensraum {NS} sein.",
                    root.sourceline,
                    local,
                )
            ]
        )
    schema = _schema()
    if not schema.validate(root):
        raise BegleitdateiError([_schema_problem(e, root) for e in schema.error_log])
    return _read(root)


def _read(root) -> Begleitdatei:
    problems: list[Problem] = []

    def problem(name: str, code: str, text: str) -> None:
        el = _element(root, name)
        line = el.sourceline if el is not None else None
        path = f"einlieferung/{name}"
        problems.append(Problem(code, f"{_where(line, path)}: {text}", line, path))

    version = int(_value(root, "version"))
    if version < 1:
        problem("version", "value", "Die Versionsnummer beginnt mit 1.")
    guid = _value(root, "guid")
    if not _GUID.match(guid):
        problem(
            "guid",
            "value",
            f"„{guid}“ ist keine GUID. Erwartet wird {_HINTS['guid']}.",
        )
    bsnr = _value(root, "bsnr")
    if len(bsnr) != 9:
        problem("bsnr", "value", f"„{bsnr}“ hat nicht 9 Stellen. Erwartet wird {_HINTS['bsnr']}.")
    typ = _value(root, "dokumenten_typ")
    if typ not in ONECLICK_TYPES:
        problem(
            "dokumenten_typ",
            "value",
            f"„{typ}“ ist kein Dokumenttyp der 1-Click-Abrechnung. Erwartet wird "
            f"{_HINTS['dokumenten_typ']}.",
        )
    quartal_text = _value(root, "quartal")
    quartal = None
    try:
        quartal = Quarter.parse(quartal_text)
    except ValueError:
        problem("quartal", "value", f"„{quartal_text}“ ist kein Quartal ({_HINTS['quartal']}).")
    stamp = dt.datetime.fromisoformat(_value(root, "lieferungs_zeitpunkt").replace("Z", "+00:00"))
    anhaenge = tuple((el.get("V") or "").strip() for el in root.findall(f"{{{NS}}}anhang"))
    for el in root.findall(f"{{{NS}}}anhang"):
        name = (el.get("V") or "").strip()
        if not name:
            problems.append(
                Problem(
                    "value",
                    f"{_where(el.sourceline, 'einlieferung/anhang')}: Der Dateiname fehlt.",
                    el.sourceline,
                    "einlieferung/anhang",
                )
            )
        elif name.casefold() in (FILENAME, "begleitdatei"):
            problems.append(
                Problem(
                    "value",
                    f"{_where(el.sourceline, 'einlieferung/anhang')}: Die Begleitdatei selbst "
                    "wird nicht als Anhang aufgeführt.",
                    el.sourceline,
                    "einlieferung/anhang",
                )
            )
    if problems:
        raise BegleitdateiError(problems)
    assert quartal is not None
    return Begleitdatei(
        version=version,
        guid=guid,
        bsnr=bsnr,
        testdaten=_bool(_value(root, "testdaten")),
        lieferungs_zeitpunkt=stamp,
        dokumenten_typ=typ,
        quartal=quartal,
        vollstaendig=_bool(_value(root, "vollstaendig")),
        anhaenge=anhaenge,
    )


def build(begleitdatei: Begleitdatei, *, now: dt.datetime | None = None) -> bytes:
    """The Begleitdatei as UTF-8 XML, schema reference without path (BGD0101); validated."""
    from lxml import etree

    stamp = begleitdatei.lieferungs_zeitpunkt or now or dt.datetime.now(dt.UTC)
    if stamp.tzinfo is None:
        raise ValueError("lieferungs_zeitpunkt braucht eine Zeitzone.")
    root = etree.Element(f"{{{NS}}}einlieferung", nsmap={None: NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{NS} {SCHEMA_FILE}")

    def add(name: str, value: str) -> None:
        etree.SubElement(root, f"{{{NS}}}{name}", V=value)

    add("version", str(begleitdatei.version))
    add("guid", begleitdatei.guid)
    add("bsnr", begleitdatei.bsnr)
    add("testdaten", "true" if begleitdatei.testdaten else "false")
    add("lieferungs_zeitpunkt", stamp.isoformat(timespec="seconds"))
    add("dokumenten_typ", begleitdatei.dokumenten_typ)
    q = begleitdatei.quartal
    add("quartal", f"{q.year}-{q.quarter}")
    add("vollstaendig", "true" if begleitdatei.vollstaendig else "false")
    for name in begleitdatei.anhaenge:
        add("anhang", name)
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    parse(data)  # refuses what the schema or the rules above would refuse
    return data


def unlisted(begleitdatei: Begleitdatei, filenames: Iterable[str]) -> list[str]:
    """Attached files the Begleitdatei does not name (case-insensitive, BGD0910)."""
    return [n for n in filenames if not begleitdatei.listed(n)]


def missing(begleitdatei: Begleitdatei, filenames: Iterable[str]) -> list[str]:
    """Files the Begleitdatei names that are not attached."""
    present = {n.casefold() for n in filenames}
    return [a for a in begleitdatei.anhaenge if a.casefold() not in present]

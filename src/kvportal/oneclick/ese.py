# eSE V1.21 (KBV, Schnittstellenbeschreibung eSE; KVSH V1.1.1, KV Nordrhein V1.2.1): the body
# `ese_data` must be valid against the published eSE_body.xsd; the Erklärung zur Abrechnung is
# given only with bestaetigungen/abrechnung_erklaerung/bool_einfach/true. No Django.
"""Build, parse and validate the electronic Sammelerklärung (eSE) with a KV profile.

The eSE is an `ehd` document (namespace `urn:ehd/001`, ehd_version 1.40) with header and body;
the body `ese_data` is in `urn:ehd/ese/001`. The mirror publishes `eSE_body.xsd` and
`software_ssu_typelib.xsd` (shipped in `Schema/eSE/`), but not `ehd_header_V1.40.xsd` and
`keytabs_V1.40.xsd`, which `ehd_root_V1.40.xsd` and `eSE_root.xsd` include. So the body is
validated with lxml against the published schema and the header is checked here, element by
element, after the two published examples and the KBV description (see docs/oneclick.md).

`build(EseDocument) -> bytes` writes one (ISO-8859-15 like the KBV examples) and checks it;
`parse(data) -> EseDocument` raises `EseError` whose `problems` name, in German, what is wrong
and where.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from kvportal.core.quarters import Quarter
from kvportal.oneclick.problems import ProblemsError, element_path

EHD = "urn:ehd/001"
ESE = "urn:ehd/ese/001"
SCIPHOX = "urn::sciphox-org/sciphox"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_DIR = Path(__file__).with_name("Schema") / "eSE"
EHD_VERSION = "1.40"
INTERFACE_VERSION = "1.21"
OID_DOCUMENT_TYPE = "1.2.276.0.76.5.100"
OID_KV = "1.2.276.0.76.5.233"
OID_LANR = "1.2.276.0.76.4.16"
OID_BSNR = "1.2.276.0.76.4.17"
OID_INTERFACE = "1.2.276.0.76.5.109"
ENCODING = "ISO-8859-15"


@dataclass(frozen=True)
class Profile:
    """What a KV's eSE says about the KV (originator) and which body parts it carries."""

    kv_number: str
    kv_name: str
    street: str = ""
    house_number: str = ""
    postal_code: str = ""
    city: str = ""
    state: str = ""
    telecom: str = ""
    #: the body carries the case statistics (KV Nordrhein: fall_statistik/anzahl_gesamt)
    with_case_count: bool = False


#: the two published profiles (eSE_01: KV Schleswig-Holstein, eSE_38: KV Nordrhein)
PROFILES = {
    "01": Profile(
        "01",
        "KV Schleswig-Holstein",
        street="Bismarckallee",
        house_number="1-6",
        postal_code="23795",
        city="Bad Segeberg",
        state="Schleswig-Holstein",
        telecom="tel:04551-8830",
    ),
    "38": Profile("38", "KV Nordrhein", with_case_count=True),
}


@dataclass(frozen=True)
class Problem:
    code: str
    text: str


class EseError(ProblemsError[Problem]):
    """An eSE refused by `parse` or `build`."""


@dataclass(frozen=True)
class EseDocument:
    profile: Profile
    quarter: Quarter
    lanr: str
    bsnr: str
    given_name: str
    family_name: str
    practice_name: str
    created: dt.date
    title: str = ""
    fachgruppe: str = ""
    postal_code: str = ""
    city: str = ""
    declaration_title: str = "Erklärung zur Abrechnung"
    declaration_texts: tuple[str, ...] = ()
    declared: bool = True
    case_count: int | None = None
    number: int = 1  # header/id EX: running number (version) of the eSE
    extras: dict = field(default_factory=dict, compare=False)


@cache
def _body_schema():
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "eSE_body.xsd")))


def _e(parent, ns: str, name: str, **attrs):
    from lxml import etree

    return etree.SubElement(parent, f"{{{ns}}}{name}", **attrs)


def _quarter_range(q: Quarter) -> str:
    return f"{q.start:%Y-%m-%d}..{q.end:%Y-%m-%d}"


def build(doc: EseDocument) -> bytes:
    """The eSE as XML (ISO-8859-15); refused by `parse` rules → EseError."""
    from lxml import etree

    root = etree.Element(
        f"{{{EHD}}}ehd", nsmap={"ehd": EHD, None: ESE, "sciphox": SCIPHOX, "xsi": XSI}
    )
    root.set("ehd_version", EHD_VERSION)
    header = _e(root, EHD, "header")
    _e(header, EHD, "id", EX=str(doc.number), RT=doc.lanr)
    _e(header, EHD, "version_nbr", V="1")
    _e(
        header,
        EHD,
        "document_type_cd",
        DN="Elektronische Sammelerklärung",
        S=OID_DOCUMENT_TYPE,
        V="ese",
    )
    _e(header, EHD, "service_tmr", V=_quarter_range(doc.quarter))
    _e(header, EHD, "origination_dttm", V=f"{doc.created:%Y-%m-%d}")
    recipient = _e(_e(header, EHD, "intended_recipient"), EHD, "organization")
    _e(recipient, EHD, "organization.nm", V="Arzt")
    kv = _e(_e(header, EHD, "originator"), EHD, "organization")
    _e(kv, EHD, "id", EX=doc.profile.kv_number, RT=OID_KV)
    _e(kv, EHD, "organization.nm", V=doc.profile.kv_name)
    p = doc.profile
    if p.street or p.city:
        addr = _e(kv, EHD, "addr")
        for tag, value in (
            ("STR", p.street),
            ("HNR", p.house_number),
            ("POB", p.postal_code),
            ("CTY", p.city),
            ("STA", p.state),
        ):
            if value:
                _e(addr, EHD, tag, V=value)
    if p.telecom:
        _e(kv, EHD, "telecom", V=p.telecom)
    provider = _e(header, EHD, "provider")
    person = _e(provider, EHD, "person")
    _e(person, EHD, "id", EX=doc.lanr, RT=OID_LANR)
    nm = _e(_e(person, EHD, "person_name"), EHD, "nm")
    if doc.title:
        _e(nm, EHD, "PFX", V=doc.title)
    _e(nm, EHD, "GIV", V=doc.given_name)
    _e(nm, EHD, "FAM", V=doc.family_name)
    if doc.fachgruppe:
        _e(_e(person, EHD, "local_header"), EHD, "fachgruppenbezeichnung", V=doc.fachgruppe)
    org = _e(provider, EHD, "organization")
    _e(org, EHD, "id", EX=doc.bsnr, RT=OID_BSNR)
    _e(org, EHD, "organization.nm", V=doc.practice_name)
    if doc.postal_code or doc.city:
        addr = _e(org, EHD, "addr")
        if doc.postal_code:
            _e(addr, EHD, "POB", V=doc.postal_code)
        if doc.city:
            _e(addr, EHD, "CTY", V=doc.city)
    interface = _e(header, EHD, "interface")
    _e(interface, EHD, "id", EX="ese", RT=OID_INTERFACE)
    _e(interface, EHD, "interface.nm", V="Elektronische Sammelerklärung (ese)")
    _e(interface, EHD, "version", V=INTERFACE_VERSION)

    data = _e(_e(root, EHD, "body"), ESE, "ese_data")
    if doc.case_count is not None and doc.profile.with_case_count:
        _e(_e(data, ESE, "fall_statistik"), ESE, "anzahl_gesamt", V=str(doc.case_count))
    erklaerung = _e(_e(data, ESE, "bestaetigungen"), ESE, "abrechnung_erklaerung")
    _e(erklaerung, ESE, "titel", V=doc.declaration_title)
    if doc.declaration_texts:
        texts = _e(erklaerung, ESE, "text_liste")
        for text in doc.declaration_texts:
            _e(texts, ESE, "text", V=text)
    _e(_e(erklaerung, ESE, "bool_einfach"), ESE, "true" if doc.declared else "false")
    out = etree.tostring(root, xml_declaration=True, encoding=ENCODING, pretty_print=True)
    parse(out)
    return out


# --- parse and check ----------------------------------------------------------------------------


def _where(element) -> str:
    line = getattr(element, "sourceline", None)
    where = f"Element {element_path(element)}"
    return f"Zeile {line}, {where}" if line else where


def _nine_digits(element, name: str, oid: str, problems: list[Problem]) -> str:
    """The `EX` of an id element (LANR, BSNR: 9 digits under root `oid`), "" if missing; a
    problem coded by the lower-case `name` where it is not such a number."""
    if element is None:
        return ""
    value = element.get("EX") or ""
    if not re.fullmatch(r"\d{9}", value) or element.get("RT") != oid:
        problems.append(
            Problem(
                name.lower(),
                f"Die {name} muss 9 Ziffern haben (RT {oid}) ({_where(element)}).",
            )
        )
    return value


def _find(root, path: str):
    return root.find(path, {"ehd": EHD, "ese": ESE})


def parse(data: bytes, *, profiles: dict[str, Profile] | None = None) -> EseDocument:
    """Check an eSE and read it back; EseError with German problems (line and element)."""
    from lxml import etree

    profiles = PROFILES if profiles is None else profiles
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise EseError(
            [Problem("xml", f"Die eSE ist kein wohlgeformtes XML (Zeile {exc.lineno}): {exc.msg}")]
        ) from exc
    problems: list[Problem] = []
    if root.tag != f"{{{EHD}}}ehd":
        raise EseError(
            [Problem("root", f"Das Wurzelelement muss ehd:ehd (Namensraum {EHD}) sein.")]
        )
    if not re.fullmatch(r"\d?\d\.\d\d", root.get("ehd_version") or ""):
        problems.append(
            Problem("ehd_version", "Das Attribut ehd_version fehlt oder hat nicht die Form 1.40.")
        )

    def need(path: str, what: str):
        el = _find(root, path)
        if el is None:
            problems.append(Problem("missing", f"Es fehlt {what} ({path.replace('ehd:', '')})."))
        return el

    doc_type = need("ehd:header/ehd:document_type_cd", "die Dokumentart")
    if doc_type is not None and (doc_type.get("V"), doc_type.get("S")) != (
        "ese",
        OID_DOCUMENT_TYPE,
    ):
        problems.append(
            Problem(
                "document_type",
                f"Die Dokumentart muss V=„ese“ S=„{OID_DOCUMENT_TYPE}“ sein ({_where(doc_type)}).",
            )
        )
    quarter = None
    tmr = need("ehd:header/ehd:service_tmr", "der Leistungszeitraum (Quartal)")
    if tmr is not None:
        m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)\.\.(\d{4})-(\d\d)-(\d\d)", tmr.get("V") or "")
        if m:
            try:
                start = dt.date(int(m[1]), int(m[2]), int(m[3]))
                end = dt.date(int(m[4]), int(m[5]), int(m[6]))
                q = Quarter.of(start)
                if (q.start, q.end) == (start, end):
                    quarter = q
            except ValueError:
                pass
        if quarter is None:
            problems.append(
                Problem(
                    "service_tmr",
                    "Der Leistungszeitraum muss genau ein Quartal sein, z. B. "
                    f"„2026-04-01..2026-06-30“ ({_where(tmr)}).",
                )
            )
    created = None
    when = need("ehd:header/ehd:origination_dttm", "das Erstellungsdatum")
    if when is not None:
        try:
            created = dt.date.fromisoformat((when.get("V") or "")[:10])
        except ValueError:
            problems.append(
                Problem("origination", f"Das Erstellungsdatum ist kein Datum ({_where(when)}).")
            )
    kv_id = need("ehd:header/ehd:originator/ehd:organization/ehd:id", "die Kennung der KV")
    profile = None
    if kv_id is not None:
        profile = profiles.get(kv_id.get("EX") or "")
        if profile is None or kv_id.get("RT") != OID_KV:
            known = ", ".join(f"{k} ({p.kv_name})" for k, p in profiles.items())
            problems.append(
                Problem(
                    "kv",
                    f"Die KV-Nummer „{kv_id.get('EX')}“ (RT {OID_KV}) wird hier nicht angenommen; "
                    f"erwartet: {known} ({_where(kv_id)}).",
                )
            )
    lanr = _nine_digits(
        need("ehd:header/ehd:provider/ehd:person/ehd:id", "die LANR des Erklärenden"),
        "LANR",
        OID_LANR,
        problems,
    )
    bsnr = _nine_digits(
        need("ehd:header/ehd:provider/ehd:organization/ehd:id", "die BSNR der Praxis"),
        "BSNR",
        OID_BSNR,
        problems,
    )
    interface = need("ehd:header/ehd:interface/ehd:id", "die Schnittstellenkennung")
    if interface is not None and interface.get("EX") != "ese":
        problems.append(
            Problem("interface", f"Die Schnittstelle muss „ese“ sein ({_where(interface)}).")
        )
    body = need("ehd:body/ese:ese_data", "der Inhalt ese_data")
    declared = False
    title = "Erklärung zur Abrechnung"
    texts: tuple[str, ...] = ()
    case_count = None
    if body is not None:
        schema = _body_schema()
        standalone = etree.fromstring(etree.tostring(body))
        if not schema.validate(standalone):
            offset = (body.sourceline or 1) - 1
            for error in list(schema.error_log)[:20]:
                problems.append(
                    Problem(
                        "schema",
                        f"Zeile {error.line + offset}: {error.message} (eSE_body.xsd, Element "
                        f"ese_data).",
                    )
                )
        # decision: the signed eSE is the declaration (the KBV examples carry no
        # abrechnung_erklaerung); an explicit bool_einfach/false refuses it
        erkl = _find(body, "ese:bestaetigungen/ese:abrechnung_erklaerung")
        declared = True
        if erkl is not None:
            if _find(erkl, "ese:bool_einfach/ese:false") is not None:
                declared = False
                problems.append(
                    Problem(
                        "not_declared",
                        "Die Erklärung zur Abrechnung ist ausdrücklich nicht bestätigt "
                        f"(bool_einfach/false, {_where(erkl)}).",
                    )
                )
            title_el = _find(erkl, "ese:titel")
            title = title_el.get("V", "") if title_el is not None else ""
            texts = tuple(
                t.get("V", "") for t in erkl.findall(f"{{{ESE}}}text_liste/{{{ESE}}}text")
            )
        count = _find(body, "ese:fall_statistik/ese:anzahl_gesamt")
        if count is not None:
            with contextlib.suppress(ValueError):
                case_count = int(float(count.get("V") or ""))
    if problems:
        raise EseError(problems)
    person = _find(root, "ehd:header/ehd:provider/ehd:person/ehd:person_name/ehd:nm")

    def part(tag: str) -> str:
        found = person.findall(f"{{{EHD}}}{tag}") if person is not None else []
        return " ".join(v for v in (el.get("V", "") for el in found) if v)

    org_nm = _find(root, "ehd:header/ehd:provider/ehd:organization/ehd:organization.nm")
    number = _find(root, "ehd:header/ehd:id")
    if number is None:
        number = root  # no EX attribute: number 1
    assert profile is not None and quarter is not None and created is not None
    return EseDocument(
        profile=profile,
        quarter=quarter,
        lanr=lanr,
        bsnr=bsnr,
        given_name=part("GIV"),
        family_name=part("FAM"),
        title=part("PFX"),
        practice_name=org_nm.get("V", "") if org_nm is not None else "",
        created=created,
        declaration_title=title,
        declaration_texts=texts,
        declared=declared,
        case_count=case_count,
        number=int(number.get("EX")) if (number.get("EX") or "").isdigit() else 1,
    )


def filename(doc: EseDocument) -> str:
    """File name after the KBV examples: ese_1.21_<BSNR>_tf+<JJJJ>q<Q>_nr+<n>.xml."""
    q = doc.quarter
    return f"ese_{INTERFACE_VERSION}_{doc.bsnr}_tf+{q.year}q{q.quarter}_nr+{doc.number}.xml"


def is_ese_name(name: str) -> bool:
    return bool(re.fullmatch(r"ese_[^/\\]*\.xml", name, flags=re.IGNORECASE))

"""Builders for synthetic KBV master files in their published formats (test data only).

SDEBM: KBV Datensatzbeschreibung EBM-Stammdatei (eHD, namespace urn:ehd/go/001,
`body/gnr_liste/gnr` with `allgemein/gueltigkeit/service_tmr` and
`bedingung/gnr_zusatzangaben/gnr_zusatzangaben_liste/gnr_zusatzangabe`).
SDICD: KBV Schnittstelle SDICD 2.4 (schema icd, namespace urn:ehd/icd/001, `diagnose` with
`icd_code`, `bezeichnung`, `abrechenbar` and the optional elements in schema order).
SDKT: KBV Schnittstelle SDKT 1.05 (schema kts, `kostentraeger V=VKNR` with `gueltigkeit`,
`ik_liste/ik`, `gebuehrenordnung`, `unz_kv_geltungsbereich_liste/unz_kv_geltungsbereich`).
SDHDRG: KBV Schnittstelle SDHDRG 2.0.0 (eHD, `hybrid_drg V` under `sdhdrg_stammdaten`).
SDOPS: KBV Schnittstelle SDOPS (eHD, namespace urn:ehd/sdops/001, `opscode_liste/opscode`
with `gueltigkeit` and `kzseite`).
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import quoteattr

from kvportal.core.quarters import Quarter


def _header(doc_type: str, quarter: Quarter) -> str:
    return (
        "<ehd:header>"
        f'<ehd:document_type_cd V="{doc_type}" S="1.2.276.0.76.5.100"/>'
        f'<ehd:service_tmr V="{quarter.start.isoformat()}..{quarter.end.isoformat()}"/>'
        "</ehd:header>"
    )


def gnr(
    code: str,
    period: str = "2008-01-01..",
    lists: Iterable[tuple[str, Iterable[str]]] = (),
    *,
    ops: Iterable[str] | None = None,
    reasons: Iterable[str] = ("02300",),
) -> str:
    """One `gnr`; `lists` = (AUSWAHL|SEQUENZ, field ids) per gnr_zusatzangaben_liste. An
    Anzahlbedingung with an Aussetzungsgrund is added too: its gnr_zusatzangabe must not
    count as a required Zusatzangabe. `ops` / `reasons`: the OPS (`ops_liste/kategorie/ops`)
    and GNR (`gnr_liste/gnr`) of the `begruendungen_liste`."""
    ops_xml = (
        ""
        if ops is None
        else "<ops_liste><kategorie>"
        + "".join(f"<ops V={quoteattr(o)}/>" for o in ops)
        + "</kategorie></ops_liste>"
    )
    reasons_xml = "".join(f'<gnr V="{r}" DN="Begründung"/>' for r in reasons)
    zusatz = "".join(
        f'<gnr_zusatzangaben_liste V="{kind}">'
        + "".join(f'<gnr_zusatzangabe V="{fk}" S="1.2.276.0.76.5.229"/>' for fk in fks)
        + "</gnr_zusatzangaben_liste>"
        for kind, fks in lists
    )
    return (
        f'<gnr V="{code}" USE="74" VT="2026-10-01">'
        f'<allgemein><gueltigkeit><service_tmr V="{period}"/></gueltigkeit>'
        f'<legende><kurztext V="Synthetische Leistung {code}"/></legende></allgemein>'
        "<bedingung>"
        + (f"<gnr_zusatzangaben>{zusatz}</gnr_zusatzangaben>" if zusatz else "")
        + '<anzahlbedingung_liste><bezugsraum V="1" U="Q"><anzahl V="1"/>'
        '<aussetzungsgrund_liste><gnr_zusatzangabe V="5009" S="1.2.276.0.76.5.229"/>'
        "</aussetzungsgrund_liste></bezugsraum></anzahlbedingung_liste>"
        + f"<begruendungen_liste>{ops_xml}<gnr_liste>{reasons_xml}</gnr_liste>"
        + "</begruendungen_liste>"
        "</bedingung></gnr>"
    )


def sdebm(quarter: Quarter, gnrs: Iterable[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="ISO-8859-15"?>'
        '<ehd:ehd ehd_version="1.40" xmlns:ehd="urn:ehd/001" xmlns="urn:ehd/go/001">'
        + _header("850", quarter)
        + "<ehd:body><gnr_liste>"
        + "".join(gnrs)
        + "</gnr_liste></ehd:body></ehd:ehd>"
    ).encode("iso-8859-15")


def opscode(code: str, side: bool = False, period: str = "2005-01-01..") -> str:
    return (
        f'<opscode V={quoteattr(code)} DN="Synthetischer OP-Schlüssel">'
        f'<gueltigkeit V="{period}"/><kzseite V="{"J" if side else "N"}"/></opscode>'
    )


def sdops(quarter: Quarter, codes: Iterable[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="ISO-8859-15"?>'
        '<ehd:ehd ehd_version="1.40" xmlns:ehd="urn:ehd/001" xmlns="urn:ehd/sdops/001">'
        + _header("sdops", quarter)
        + "<ehd:body><opscode_liste>"
        + "".join(codes)
        + "</opscode_liste></ehd:body></ehd:ehd>"
    ).encode("iso-8859-15")


def diagnose(
    code: str,
    *,
    billable: bool = True,
    notation: str | None = None,
    sex: str | None = None,
    sex_error: str | None = None,
    age_low: tuple[int, str] | None = None,
    age_high: tuple[int, str] | None = None,
    age_error: str | None = None,
    rare: bool | None = None,
    empty: bool | None = None,
    reportable: bool | None = None,
) -> str:
    """One SDICD `diagnose`; ages as (value, "Tag"|"Jahr"); elements in schema order."""

    def yn(name: str, flag: bool | None) -> str:
        return "" if flag is None else f'<{name} V="{"j" if flag else "n"}"/>'

    def age(name: str, limit: tuple[int, str] | None) -> str:
        return "" if limit is None else f'<{name} V="{limit[0]}" U="{limit[1]}"/>'

    return (
        f'<diagnose><icd_code V="{code}"/><bezeichnung V="Synthetische Diagnose {code}"/>'
        f'<abrechenbar V="{"j" if billable else "n"}"/>'
        + (f'<notationskennzeichen V="{notation}"/>' if notation else "")
        + (f'<geschlechtsbezug V="{sex}"/>' if sex else "")
        + (f'<geschlechtsbezug_fehlerart V="{sex_error}"/>' if sex_error else "")
        + age("untere_altersgrenze", age_low)
        + age("obere_altersgrenze", age_high)
        + (f'<altersbezug_fehlerart V="{age_error}"/>' if age_error else "")
        + yn("krankheit_in_mitteleuropa_sehr_selten", rare)
        + yn("schlüsselnummer_mit_inhalt_belegt", None if empty is None else not empty)
        + yn("infektionsschutzgesetz_meldepflicht", reportable)
        + "</diagnose>"
    )


def sdicd(diagnoses: Iterable[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="ISO-8859-15"?>'
        '<icd_stammdaten xmlns="urn:ehd/icd/001"><kapitel_liste><kapitel>'
        '<nummer V="01"/><von_icd_code V="A00"/><bis_icd_code V="Z99"/>'
        '<bezeichnung V="Synthetisch"/><gruppen_liste><gruppe>'
        '<von_icd_code V="A00"/><bis_icd_code V="Z99"/><bezeichnung V="Synthetisch"/>'
        f"<diagnosen_liste>{''.join(diagnoses)}</diagnosen_liste>"
        "</gruppe></gruppen_liste></kapitel></kapitel_liste></icd_stammdaten>"
    ).encode("iso-8859-15")


def kostentraeger(
    vknr: str,
    iks: Iterable[str],
    *,
    period: str = "2020-01-01..",
    fee_schedule: str | None = None,
    excluded_kvs: Iterable[str] = (),
    group: str | None = None,
) -> str:
    excluded = "".join(f'<unz_kv_geltungsbereich V="{kv}"/>' for kv in excluded_kvs)
    return (
        f'<kostentraeger V="{vknr}"><gueltigkeit V="{period}"/>'
        '<bezeichnung><name V="Synthetische Kasse"/></bezeichnung>'
        + (f'<kostentraegergruppe V="{group}"/>' if group else "")
        + "<ik_liste>"
        + "".join(f'<ik V="{ik}"/>' for ik in iks)
        + "</ik_liste>"
        + (f'<gebuehrenordnung V="{fee_schedule}"/>' if fee_schedule else "")
        + (
            f"<unz_kv_geltungsbereich_liste>{excluded}</unz_kv_geltungsbereich_liste>"
            if excluded
            else ""
        )
        + "</kostentraeger>"
    )


def sdkt(entries: Iterable[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="ISO-8859-15"?><kostentraeger_liste xmlns="urn:ehd/kts/001">'
        + "".join(entries)
        + "</kostentraeger_liste>"
    ).encode("iso-8859-15")


def keytab(oid: str, name: str, version: str, keys: Iterable[tuple[str, ...]]) -> bytes:
    """A KBV key table (Schlüsseltabelle: `keytabs/keytab S SN SV` with `key V DN S SV`);
    a key (V, DN, gop, gueltigkeit) also gets the attributes of S_NVV_RV_Zertifikat."""

    def key(v: str, dn: str, *rv: str) -> str:
        extra = f" gop={quoteattr(rv[0])} gueltigkeit={quoteattr(rv[1])}" if rv else ""
        return f'<key V={quoteattr(v)} DN={quoteattr(dn)}{extra} S="{oid}" SV="{version}"/>'

    body = "".join(key(*k) for k in keys)
    return (
        '<?xml version="1.0" encoding="ISO-8859-15"?><keytabs xmlns="urn:ehd/001">'
        f'<keytab S="{oid}" SN="{name}" SV="{version}">{body}</keytab></keytabs>'
    ).encode("iso-8859-15")


def _xdt(fk: str, value: str) -> bytes:
    content = value.encode("iso-8859-15")
    return b"%03d%s%s\r\n" % (len(content) + 9, fk.encode(), content)


def sdav(quarter: Quarter, practices: Iterable[tuple[str, Iterable[str]]]) -> bytes:
    """Arztverzeichnis SDAV 1.08 (xDT, ISO 8859-1, CR LF): AVS0, one 1450 per BSNR with its
    NBSNRs, AVS9."""
    out = [_xdt("8000", "AVS0"), _xdt("9103", quarter.start.strftime("%Y%m%d"))]
    out += [_xdt("9106", "2"), _xdt("9111", quarter.kvdt), _xdt("9212", "1.08")]
    n = 0
    for bsnr, nbsnrs in practices:
        n += 1
        out += [_xdt("8000", "1450"), _xdt("0201", bsnr)]
        out += [_xdt("0200", nb) for nb in nbsnrs]
        out.append(_xdt("0212", "123456601"))
    out += [_xdt("8000", "AVS9"), _xdt("9208", str(n))]
    return b"".join(out)


def sdhdrg(period: str, codes: Iterable[str]) -> bytes:
    """A Hybrid-DRG master file (KBV Schnittstelle SDHDRG 2.0.0: eHD header with `service_tmr`,
    body `sdhdrg_stammdaten/leistungsbereich_liste/leistungsbereich/hybrid_drg_liste/
    hybrid_drg V` with `name` and `bewertung`)."""
    drgs = "".join(
        f'<hybrid_drg V="{c}"><name V="Synthetische Hybrid-DRG {c}"/><bewertung>'
        '<mit_postoperativ V="1000.00" U="2" S="1.2.276.0.76.5.236"/>'
        '<ohne_postoperativ V="970.00" U="2" S="1.2.276.0.76.5.236"/></bewertung></hybrid_drg>'
        for c in codes
    )
    return (
        '<?xml version="1.0" encoding="ISO-8859-15"?><ehd ehd_version="1.40" xmlns="urn:ehd/001">'
        '<header><document_type_cd V="SDHDRG" S="1.2.276.0.76.5.100"/>'
        f'<service_tmr V="{period}"/></header><body>'
        '<sdhdrg_stammdaten xmlns="urn:ehd/sdhdrg/001"><leistungsbereich_liste>'
        '<leistungsbereich V="Synthetischer Leistungsbereich">'
        f"<hybrid_drg_liste>{drgs}</hybrid_drg_liste></leistungsbereich>"
        "</leistungsbereich_liste></sdhdrg_stammdaten></body></ehd>"
    ).encode("iso-8859-15")

"""Builders for synthetic KBV master files in their published formats (test data only).

SDEBM: KBV Datensatzbeschreibung EBM-Stammdatei (eHD, namespace urn:ehd/go/001,
`body/gnr_liste/gnr` with `allgemein/gueltigkeit/service_tmr` and
`bedingung/gnr_zusatzangaben/gnr_zusatzangaben_liste/gnr_zusatzangabe`).
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
    code: str, period: str = "2008-01-01..", lists: Iterable[tuple[str, Iterable[str]]] = ()
) -> str:
    """One `gnr`; `lists` = (AUSWAHL|SEQUENZ, field ids) per gnr_zusatzangaben_liste. An
    Anzahlbedingung with an Aussetzungsgrund is added too: its gnr_zusatzangabe must not
    count as a required Zusatzangabe."""
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
        '<begruendungen_liste><gnr_liste><gnr V="02300" DN="Kleiner Eingriff"/></gnr_liste>'
        "</begruendungen_liste>"
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

# EBM Kapitel 86, GOP 86900/86901 (eArztbrief): billable only for letters sent/received over KIM
# with the eHBA's QES; 86900 and 86901 together at most 23,40 € per doctor (LANR) and quarter.
"""Pure checks of the eArztbrief cost flat rates in a billing file. No Django.

Input: per LANR the letters the portal counted for the quarter (sent per receiving practice,
received, each with a valid QES) and per LANR how often 86900/86901 are billed in the file.
Output: warnings (German texts). The rule is per doctor: the reference (KV Bremen, KV
Westfalen-Lippe; shared/reference/kvdt.md § 4) states the Höchstwert „je Arzt und Quartal“.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

GOP_VERSAND = "86900"  # Versenden eines elektronischen Briefes je Empfänger-Praxis
GOP_EMPFANG = "86901"  # Empfangen eines elektronischen Briefes
#: Kostenpauschalen in cent (majority of the sources; KV Hessen swaps them, see docs)
CENTS = {GOP_VERSAND: 28, GOP_EMPFANG: 27}
#: common Höchstwert of 86900 + 86901 per doctor and quarter, in cent
CAP_CENTS = 2340


@dataclass(frozen=True)
class LetterCounts:
    """Letters with a valid QES the portal counted for one doctor in one quarter."""

    sent: int = 0  # per receiving practice (one letter to two practices counts twice)
    received: int = 0


@dataclass(frozen=True)
class GopWarning:
    code: str  # "over_sent" | "over_received" | "over_cap"
    lanr: str
    gop: str  # "86900", "86901" or "86900+86901"
    billed: int  # count billed (over_cap: cents billed)
    allowed: int  # count counted (over_cap: the cap in cents)
    text: str


def _euro(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d} €"


def check_earztbrief(
    *,
    counted: Mapping[str, LetterCounts],
    billed: Mapping[str, Mapping[str, int]],
) -> list[GopWarning]:
    """Warnings for one BSNR's file of one quarter.

    `counted`: LANR → letters counted by the portal's KIM; `billed`: LANR → {GOP: count} as
    found in the file (other GOPs are ignored). A LANR without counted letters has zero."""
    warnings: list[GopWarning] = []
    for lanr in sorted(billed):
        gops = billed[lanr]
        n_sent = int(gops.get(GOP_VERSAND, 0))
        n_received = int(gops.get(GOP_EMPFANG, 0))
        if not (n_sent or n_received):
            continue
        have = counted.get(lanr, LetterCounts())
        if n_sent > have.sent:
            warnings.append(
                GopWarning(
                    "over_sent",
                    lanr,
                    GOP_VERSAND,
                    n_sent,
                    have.sent,
                    f"LANR {lanr}: GOP {GOP_VERSAND} ist {n_sent}-mal abgerechnet, über das "
                    f"KIM des Portals wurden in diesem Quartal aber nur {have.sent} "
                    "qualifiziert signierte eArztbriefe versandt (je Empfänger-Praxis).",
                )
            )
        if n_received > have.received:
            warnings.append(
                GopWarning(
                    "over_received",
                    lanr,
                    GOP_EMPFANG,
                    n_received,
                    have.received,
                    f"LANR {lanr}: GOP {GOP_EMPFANG} ist {n_received}-mal abgerechnet, über "
                    f"das KIM des Portals wurden in diesem Quartal aber nur {have.received} "
                    "qualifiziert signierte eArztbriefe empfangen.",
                )
            )
        cents = n_sent * CENTS[GOP_VERSAND] + n_received * CENTS[GOP_EMPFANG]
        if cents > CAP_CENTS:
            warnings.append(
                GopWarning(
                    "over_cap",
                    lanr,
                    f"{GOP_VERSAND}+{GOP_EMPFANG}",
                    cents,
                    CAP_CENTS,
                    f"LANR {lanr}: GOP {GOP_VERSAND} und {GOP_EMPFANG} ergeben zusammen "
                    f"{_euro(cents)}; der Höchstwert je Arzt und Quartal beträgt "
                    f"{_euro(CAP_CENTS)}.",
                )
            )
    return warnings


def billed_gops(fields: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """LANR → {GOP: count} of 86900/86901 in a KVDT file's fields (FK 5001 GNR, the LANR of the
    service in the following FK 5099, up to the next 5001 or record). A GNR without 5099 counts
    under the LANR "" (the validator reports the missing field)."""
    out: dict[str, dict[str, int]] = {}
    pending: str | None = None

    def book(lanr: str) -> None:
        nonlocal pending
        if pending is not None:
            per = out.setdefault(lanr, {})
            per[pending] = per.get(pending, 0) + 1
        pending = None

    for fk, value in fields:
        if fk in ("8000", "5001"):
            book("")
        if fk == "5001":
            gnr = value.strip()
            pending = gnr if gnr in (GOP_VERSAND, GOP_EMPFANG) else None
        elif fk == "5099":
            book(value.strip())
    book("")
    return out


def split_addresses(value: str) -> list[str]:
    """KIM addresses separated by commas, semicolons, spaces or lines; lower case, once each."""
    for sep in (";", "\n", "\r", "\t", " "):
        value = value.replace(sep, ",")
    return list(dict.fromkeys(p.strip().lower() for p in value.split(",") if p.strip()))

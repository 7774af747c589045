"""Demo documents for the demo practices (synthetic PDFs, no real data)."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from kvportal.accounts.constants import StaffRole
from kvportal.core.quarters import Quarter
from kvportal.documents import services
from kvportal.documents.models import Source
from kvportal.documents.pdfgen import minimal_pdf
from kvportal.documents.rules import DOC_TYPES, last_quarters


def _pdf(practice, quarter, doc_type, extra=""):
    return minimal_pdf(
        [
            "Kassenaerztliche Vereinigung - Demo-Dokument (synthetisch)",
            f"{DOC_TYPES[doc_type]} Quartal {quarter}",
            f"BSNR {practice.bsnr} - {practice.name}",
            extra,
        ]
    )


def seed_demo_documents(world: dict, out) -> None:
    staff = world.get("staff", {}).get(StaffRole.ABRECHNUNG)
    current = Quarter.of(timezone.localdate())
    quarters = last_quarters(current.previous(), 8)
    count = 0
    for key in ("mvz", "bag", "einzel", "psych"):
        practice = world.get(key)
        if practice is None:
            continue
        base = Decimal(38000 + 9000 * len(key))
        for index, quarter in enumerate(quarters):
            amount = base + Decimal(1750 * ((index * 7) % 5)) - Decimal(900 * (index % 3))
            for doc_type, title, value in (
                ("honorarbescheid", f"Honorarbescheid {quarter}", amount),
                ("honorarzusammenstellung", f"Honorarzusammenstellung {quarter}", None),
            ):
                services.publish_document(
                    actor=staff,
                    betriebsstaette=practice,
                    quarter=quarter,
                    doc_type=doc_type,
                    title=title,
                    content=_pdf(practice, quarter, doc_type),
                    amount=value,
                    also_by_post=None,
                    source=Source.IMPORT,
                    notify=False,
                )
                count += 1
    # doctor-related documents in the MVZ: each employed doctor gets his own
    mvz = world.get("mvz")
    persons = world.get("persons", {})
    for key in ("leiterin", "weber", "schmidt", "fischer", "keller"):
        person = persons.get(key)
        if mvz is None or person is None or not person.lanr:
            continue
        for quarter in quarters[-2:]:
            services.publish_document(
                actor=staff,
                betriebsstaette=mvz,
                quarter=quarter,
                doc_type="richtigstellung",
                title=f"Richtigstellung {quarter} – {person.full_name}",
                content=_pdf(mvz, quarter, "richtigstellung", f"LANR {person.lanr}"),
                lanr=person.lanr,
                source=Source.IMPORT,
                notify=False,
            )
            count += 1
    out(f"Dokumente: {count} Demo-Dokumente angelegt.")

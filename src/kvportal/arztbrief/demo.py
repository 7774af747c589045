# Demo only: synthetic letters signed with the test PKI's software eHBA (EHBA_TEST_PKI).
"""The eArztbrief part of `kvportal demo`: Dr. Hahn (BAG) reports two letters sent over the
client module (QES proof, no content) to the Einzelpraxis, and Neumann reports one received,
so the start page and the staff view show figures. Idempotent; built from the running clock."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

from django.conf import settings

DEMO_PIN_QES = "654321"  # ehba.services.demo.DEMO_PINS["PIN.QES"]


def _proof(card, text: str) -> tuple[str, str]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    from kvportal.cardlib import signing
    from kvportal.documents.pdfgen import minimal_pdf

    pdf = signing.sign_pdf(card, minimal_pdf([text]), pin=DEMO_PIN_QES, reason="eArztbrief")
    sig = next(iter(PdfFileReader(BytesIO(pdf), strict=False).embedded_signatures))
    a, b, c, d = sig.byte_range
    contents = bytes(sig.sig_object.raw_get("/Contents")).hex()
    return contents, hashlib.sha256(pdf[a : a + b] + pdf[c : c + d]).hexdigest()


def seed(world: dict, out: Callable[[str], None]) -> None:
    from kvportal.arztbrief.models import Nachweis
    from kvportal.arztbrief.services_proof import ProofRefused, record_proof
    from kvportal.cardlib import softcard
    from kvportal.kim.models import KimAccount

    users = world.get("users", {})
    hahn, neumann = users.get("hahn"), users.get("neumann")
    if not settings.EHBA_TEST_PKI or hahn is None or neumann is None:
        return
    lanr = hahn.person.lanr if hahn.person_id else ""
    cards = [c for c in softcard.SoftCard.list(Path(settings.EHBA_DIR)) if c.lanr == lanr]
    boxes = {
        key: KimAccount.objects.filter(betriebsstaette=world[key], kind="practice").first()
        for key in ("bag", "einzel")
    }
    if not lanr or not cards or None in boxes.values():
        return
    if not Nachweis.objects.filter(lanr=lanr).exists():
        try:
            for n, title in enumerate(("Demo-Befundbericht", "Demo-Entlassbrief"), start=1):
                contents, digest = _proof(cards[-1], f"{title} {n} (synthetisch)")
                for actor, richtung in ((hahn, "versand"), (neumann, "empfang")):
                    if richtung == "empfang" and n == 2:
                        continue  # one letter not yet reported by the receiver
                    record_proof(
                        actor=actor,
                        richtung=richtung,
                        sender=boxes["bag"].address,
                        recipients=[boxes["einzel"].address],
                        signature=contents,
                        digest=digest,
                    )
        except ProofRefused as exc:
            out(f"eArztbrief-Demo übersprungen: {exc.message}")
            return
    out(
        f"eArztbrief-Demo: 2 versandte Briefe (LANR {lanr}, Clientmodul-Nachweise) an "
        f"{boxes['einzel'].address}, 1 davon als empfangen gemeldet; Zahlen auf der Startseite "
        "und unter /arztbrief/kv/."
    )

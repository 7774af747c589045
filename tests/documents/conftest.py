"""An MVZ with a Träger (all documents), two employed doctors (own documents only), a doctor
without document rights, and a second practice."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kvportal.accounts.constants import Right
from kvportal.core.quarters import Quarter
from kvportal.documents import services
from kvportal.documents.pdfgen import minimal_pdf
from kvportal.members.constants import Role
from tests.factories import (
    BetriebsstaetteFactory,
    PersonFactory,
    TaetigkeitFactory,
    UserFactory,
    doctor_account,
    grant,
)

Q1 = Quarter(2026, 1)
Q2 = Quarter(2026, 2)


def pdf(text: str) -> bytes:
    return minimal_pdf([text])


@dataclass
class World:
    mvz: object
    other: object
    traeger: object
    doc_a: object
    doc_b: object
    no_docs: object
    outsider: object
    bsnr_doc: object
    a_doc: object
    b_doc: object
    other_doc: object


@pytest.fixture
def world(db) -> World:
    mvz = BetriebsstaetteFactory(mvz=True)
    other = BetriebsstaetteFactory()
    gf = PersonFactory(lanr=None, title="", first_name="Thomas", last_name="Träger")
    TaetigkeitFactory(person=gf, betriebsstaette=mvz, role=Role.TRAEGER)
    traeger = UserFactory(person=gf, notify_by_email=True)
    grant(traeger, mvz, Right.BILLING, Right.DOCS_BSNR)
    doc_a = doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_LANR)
    doc_b = doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_LANR)
    no_docs = doctor_account(mvz, Role.ANGESTELLT, Right.BILLING)
    outsider = doctor_account(other, Role.VERTRAGSARZT, Right.DOCS_BSNR, Right.DOCS_LANR)

    def publish(practice, title, lanr=None, quarter=Q1, doc_type="honorarbescheid", **kw):
        return services.publish_document(
            actor=None,
            betriebsstaette=practice,
            quarter=quarter,
            doc_type=doc_type,
            title=title,
            content=pdf(title),
            lanr=lanr,
            notify=False,
            **kw,
        )

    return World(
        mvz=mvz,
        other=other,
        traeger=traeger,
        doc_a=doc_a,
        doc_b=doc_b,
        no_docs=no_docs,
        outsider=outsider,
        bsnr_doc=publish(mvz, "Honorarbescheid MVZ", amount=50000),
        a_doc=publish(mvz, "Richtigstellung Arzt A", doc_a.person.lanr, doc_type="richtigstellung"),
        b_doc=publish(mvz, "Richtigstellung Arzt B", doc_b.person.lanr, doc_type="richtigstellung"),
        other_doc=publish(other, "Honorarbescheid andere Praxis"),
    )

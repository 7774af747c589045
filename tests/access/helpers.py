"""Shared set-up for the access tests: an MVZ in the Arztregister and a filled application."""

from __future__ import annotations

import re

from django.core import mail

from kvportal.access import services
from kvportal.members.constants import Role as MemberRole
from kvportal.members.identifiers import make_lanr
from tests.factories import BetriebsstaetteFactory, PersonFactory, TaetigkeitFactory

CODE_RE = re.compile(r"Bestätigungscode: (\d{6})")
LINK_RE = re.compile(r"/zugang/bestaetigen/([A-Za-z0-9_\-]+)/")
DRAFT_RE = re.compile(r"/zugang/entwurf/([A-Za-z0-9_\-]+)/")


def mvz_world():
    practice = BetriebsstaetteFactory(mvz=True)
    leiter = PersonFactory(first_name="Lea", last_name="Leitner")
    arzt = PersonFactory(first_name="Anton", last_name="Angestellt")
    TaetigkeitFactory(person=leiter, betriebsstaette=practice, role=MemberRole.AERZTLICHER_LEITER)
    TaetigkeitFactory(person=arzt, betriebsstaette=practice, role=MemberRole.ANGESTELLT)
    return practice, leiter, arzt


def persons_for(leiter, arzt, **overrides):
    rows = [
        {
            "role": "traeger",
            "last_name": "Gross",
            "first_name": "Gerd",
            "email": "gf@traeger.example",
            "lanr": "",
            "listed": False,
        },
        {
            "role": "leiter",
            "last_name": leiter.last_name,
            "first_name": leiter.first_name,
            "email": "leitung@mvz.example",
            "lanr": leiter.lanr,
            "listed": True,
            "right_docs_bsnr": True,
        },
        {
            "role": "arzt",
            "last_name": arzt.last_name,
            "first_name": arzt.first_name,
            "email": "arzt@mvz.example",
            "lanr": arzt.lanr,
            "listed": True,
            "right_docs_lanr": True,
        },
    ]
    for index, values in overrides.items():
        rows[int(index)].update(values)
    return rows


def draft(practice, leiter, arzt, *, actor=None, persons=None, acknowledged=True, nonce=""):
    app, _token = services.create_application(
        actor=actor, variant="mvz", contact_email="kontakt@mvz.example", nonce=nonce
    )
    return services.save_draft(
        actor=actor,
        application=app,
        practice_name=practice.name,
        bsnr=practice.bsnr,
        traeger_name="MVZ Träger GmbH",
        variant="mvz",
        persons=persons if persons is not None else persons_for(leiter, arzt),
        acknowledged=acknowledged,
    )


def codes_by_email() -> dict[str, tuple[str, str]]:
    """Latest (token, code) of each recipient of a confirmation request."""
    result = {}
    for message in mail.outbox:
        code = CODE_RE.search(message.body)
        link = LINK_RE.search(message.body)
        if code and link:
            result[message.to[0]] = (link.group(1), code.group(1))
    return result


def new_lanr(six: str) -> str:
    return make_lanr(six, "01")

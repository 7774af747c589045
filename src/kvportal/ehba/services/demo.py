# Demo only: software cards of the test PKI (requires the demo/test switch EHBA_TEST_PKI).
"""The eHBA part of ``kvportal demo``."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from kvportal.cardlib.origins import normalise_origin
from kvportal.ehba.models import ChallengePurpose
from kvportal.ehba.services.challenges import issue_challenge
from kvportal.ehba.services.registration import active_registration, register_card
from kvportal.ehba.services.trust import testpki_dir

DEMO_PINS = {"PIN.CH": "123456", "PIN.QES": "654321"}


def seed_demo(world: dict, out: Callable[[str], None]) -> None:
    """Test PKI + software eHBA for the demo doctors of the BAG (Hahn, Richter) and the MVZ's
    Ärztliche Leiterin (Berger); Hahn's card is registered (card login works at once)."""
    from kvportal.cardlib import softcard, testpki, tokens

    if not settings.EHBA_TEST_PKI:
        out("eHBA-Demo übersprungen: Test-PKI nicht eingeschaltet (KVPORTAL_EHBA_TEST_PKI=1).")
        return
    directory = Path(settings.EHBA_DIR)
    test_pki = testpki.TestPKI.load_or_create(testpki_dir())
    issued = []
    for key in ("hahn", "richter", "leiterin"):
        person = world.get("persons", {}).get(key)
        user = world.get("users", {}).get(key)
        if person is None or user is None:
            continue
        existing = [c for c in softcard.SoftCard.list(directory) if c.lanr == (person.lanr or "")]
        if existing:
            card = existing[-1]
        else:
            card, _secrets = softcard.SoftCard.issue(
                test_pki,
                lanr=person.lanr or "",
                given_name=person.first_name,
                surname=person.last_name,
                profession=person.profession,
                telematik_id=person.telematik_id or None,
                directory=directory,
                transport_pins={softcard.PinType.CH: "000001", softcard.PinType.QES: "000002"},
            )
            card.change_pin(softcard.PinType.CH, "000001", DEMO_PINS["PIN.CH"])
            card.change_pin(softcard.PinType.QES, "000002", DEMO_PINS["PIN.QES"])
        issued.append((user, card))
    if not issued:
        return
    user, card = issued[0]
    if active_registration(user) is None:
        audience = normalise_origin(settings.PORTAL_URL)
        session_key = f"demo-{secrets.token_hex(8)}"
        challenge = issue_challenge(
            actor=user,
            session_key=session_key,
            purpose=ChallengePurpose.REGISTER,
            audience=audience,
        )
        token = tokens.sign_login_challenge(card, DEMO_PINS["PIN.CH"], challenge, audience)
        register_card(actor=user, session_key=session_key, audience=audience, token=token)
    out(f"eHBA-Demo (Software-Karten, Test-PKI in {directory}):")
    for user, card in issued:
        out(f"  {user.username}: Karte {card.card_id}, Telematik-ID {card.telematik_id}")
    out(
        f"  PIN.CH {DEMO_PINS['PIN.CH']}, PIN.QES {DEMO_PINS['PIN.QES']}; Agent starten: "
        f"kvportal card agent --card <LANR> --test-pin "
        f"{DEMO_PINS['PIN.CH']},{DEMO_PINS['PIN.QES']}"
    )

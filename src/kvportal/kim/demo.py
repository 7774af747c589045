"""The KIM part of `kvportal demo`: SMC-B for the BAG and the Einzelpraxis (activated), their
practice mailboxes with one message, an open SMC-B order of the MVZ for the Arztregister.
Synthetic data only; built from the running clock; idempotent."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from kvportal.core.storage import private_storage
from kvportal.kim import agent_endpoints, services, services_mailbox
from kvportal.kim.models import AccountState, KimAccount, OrderState, SmcbCard, SmcbOrder

DEMO_PIN = "246813"


def _card(actor, registrar, practice) -> SmcbCard:
    card = SmcbCard.objects.filter(betriebsstaette=practice, activated_at__isnull=False).first()
    if card is not None:
        return card
    order = SmcbOrder.objects.filter(betriebsstaette=practice).exclude(
        state=OrderState.REFUSED
    ).first() or services.order_smcb(
        actor=actor,
        betriebsstaette=practice,
        practice_name=practice.name[:64],
        street=practice.street,
        postal_code=practice.postal_code,
        city=practice.city,
        contact_email=practice.email or "praxis@demo.example",
    )
    if order.state == OrderState.REQUESTED:
        services.confirm_order(actor=registrar, order=order)
    issued = services.issue_card(actor=registrar, order=order)
    return services.activate_card(
        actor=actor, card=issued.card, transport_pin=issued.pin, new_pin=DEMO_PIN
    )


def _account(actor, registrar, practice, card, local) -> KimAccount:
    account = KimAccount.objects.filter(betriebsstaette=practice, kind="practice").first()
    if account is None:
        account = services.request_practice_account(
            actor=actor,
            betriebsstaette=practice,
            local_part=local,
            description="Demo-Postfach",
        )
    if account.state == AccountState.REQUESTED:
        services.register_account(actor=registrar, account=account)
        account.refresh_from_db()
    return account


def seed(world: dict, out: Callable[[str], None]) -> None:
    registrar = world.get("staff", {}).get("Arztregister")
    users = world.get("users", {})
    if registrar is None or "hahn" not in users or "neumann" not in users:
        return
    bag, einzel = world["bag"], world["einzel"]
    bag_card = _card(users["hahn"], registrar, bag)
    einzel_card = _card(users["neumann"], registrar, einzel)
    bag_box = _account(users["hahn"], registrar, bag, bag_card, "gemeinschaftspraxis-hahn-richter")
    einzel_box = _account(users["neumann"], registrar, einzel, einzel_card, "praxis-neumann")
    if not bag_box.messages.exists():
        card = agent_endpoints.Card(private_storage.open(einzel_card.card_file).read(), DEMO_PIN)
        built = agent_endpoints.handle_compose(
            card,
            {
                "from": einzel_box.address,
                "to": [bag_box.address],
                "subject": "Demo: Mitbehandlung (synthetisch)",
                "text": "Liebe Kollegen,\nanbei der Demo-Befund.\nViele Grüße\nF. Neumann\n",
                "attachments": [
                    {
                        "name": "demo-befund.txt",
                        "content_type": "text/plain",
                        "data": base64.b64encode(b"Synthetischer Demo-Befund").decode(),
                    }
                ],
                "certificates": {bag_box.address: [(bag_box.smcb or bag_card).cert_enc]},
            },
        )
        services_mailbox.send(
            actor=users["neumann"], account=einzel_box, raw=base64.b64decode(built["mail"])
        )
    mvz = world.get("mvz")
    if (
        mvz is not None
        and "traeger" in users
        and not SmcbOrder.objects.filter(betriebsstaette=mvz).exists()
    ):
        services.order_smcb(
            actor=users["traeger"],
            betriebsstaette=mvz,
            practice_name=mvz.name[:64],
            street=mvz.street,
            postal_code=mvz.postal_code,
            city=mvz.city,
            contact_email=mvz.email or "mvz@demo.example",
        )
    folder = Path(settings.VAR_DIR) / "kim-demo"
    folder.mkdir(parents=True, exist_ok=True)
    out("KIM-Demo:")
    for box, smcb_card in ((bag_box, bag_card), (einzel_box, einzel_card)):
        path = folder / f"smcb-{smcb_card.betriebsstaette.bsnr}.json"
        path.write_bytes(private_storage.open(smcb_card.card_file).read())
        out(f"  {box.address}: SMC-B {smcb_card.iccsn}, Kartendatei {path}, PIN.SMC {DEMO_PIN}")
    out(
        "  Web-Postfach: python -m kvportal.kim.agent_endpoints --card <Kartendatei> "
        f"--origin {settings.PORTAL_URL.rstrip('/')}"
    )
    out("  SMC-B-Bestellung des MVZ wartet auf das Arztregister (/kim/kv/smcb/).")

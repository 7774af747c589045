"""Demo: one submitted application waiting in the Arztregister queue (idempotent)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kvportal.access import rules, services
from kvportal.access.models import AccessApplication
from kvportal.members.identifiers import make_lanr

DEMO_CONTACT = "praxis@gemeinschaftspraxis-schlossteich.example"


def seed_demo(world: dict[str, Any], out: Callable[[str], object]) -> None:
    bag = world["bag"]
    if AccessApplication.objects.filter(bsnr=bag.bsnr, contact_email=DEMO_CONTACT).exists():
        out("Zugangsantrag (Demo) besteht bereits.")
        return
    hahn, richter = world["persons"]["hahn"], world["persons"]["richter"]
    app, _token = services.create_application(
        actor=None, variant=rules.Variant.BAG, contact_email=DEMO_CONTACT
    )
    both = {"right_billing": True, "right_docs_bsnr": True, "right_docs_lanr": True}
    services.save_draft(
        actor=None,
        application=app,
        practice_name=bag.name,
        bsnr=bag.bsnr,
        traeger_name="",
        variant=rules.Variant.BAG,
        acknowledged=True,
        persons=[
            {
                "role": "partner",
                "last_name": hahn.last_name,
                "first_name": hahn.first_name,
                "email": "hahn@schlossteich.example",
                "lanr": hahn.lanr,
                "listed": False,
            },
            {
                "role": "partner",
                "last_name": richter.last_name,
                "first_name": richter.first_name,
                "email": "richter@schlossteich.example",
                "lanr": richter.lanr,
                "listed": False,
            },
            {
                "role": "arzt",
                "last_name": "Sommer",
                "first_name": "Eva",
                "email": "sommer@schlossteich.example",
                "lanr": make_lanr("300299", "01"),
                "listed": True,
                **{k: k != "right_docs_bsnr" for k in both},
            },
        ],
    )
    app = services.submit(actor=None, application=app)
    for conf in app.confirmations.all():
        prepared = services.prepare_confirmation_request(confirmation_id=conf.pk)
        if prepared:
            _conf, _link, code = prepared
            services.confirm_with_code(actor=None, confirmation=conf, code=code)
    app.refresh_from_db()
    out(
        f"Zugangsantrag {app.reference} ({app.status_label}) liegt in der Warteschlange "
        "des Arztregisters."
    )

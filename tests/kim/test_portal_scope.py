"""Every KIM URL with an id is 404 for a member of another practice, for Praxispersonal
without the right and for KV staff (out-of-scope objects do not exist), GET and POST;
the holder gets the page (tests/security/test_cross_app_matrix.py points here)."""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from django.urls import reverse

from kvportal.accounts.constants import AccountKind, Right, StaffRole
from kvportal.kim import services_mailbox
from kvportal.kim.models import SmcbCard, StoredMessage
from kvportal.members.constants import Role
from tests.conftest import otp_verify
from tests.factories import BetriebsstaetteFactory, UserFactory, doctor_account, grant, kv_staff
from tests.kim.test_portal_support import *  # noqa: F403 (fixtures)
from tests.kim.test_portal_support import practice_account

pytestmark = pytest.mark.django_db

#: URL name -> which object fills the path (see `_urls`)
KIM_OBJECT_URLS = [
    "kim:smcb_order",
    "kim:smcb_activate",
    "kim:smcb_unblock",
    "kim:smcb_card_file",
    "kim:account_request",
    "kim:account",
    "kim:mailbox",
    "kim:subject_search",
    "kim:compose",
    "kim:certificates",
    "kim:send",
    "kim:message",
    "kim:message_raw",
    "kim:message_delete",
]


POST_ONLY = {"kim:smcb_unblock", "kim:send", "kim:message_delete"}


@pytest.fixture
def world(doctor, practice, registrar):
    from kvportal.core.storage import private_storage
    from kvportal.kim import agent_endpoints
    from tests.kim.test_portal_support import NEW_PIN

    account, _ = practice_account(doctor, practice, registrar)
    other_practice = BetriebsstaetteFactory(name="Praxis Zwei")
    other_doc = doctor_account(other_practice, Role.VERTRAGSARZT, Right.BILLING)
    other, _ = practice_account(other_doc, other_practice, registrar, local="praxis-zwei")
    card = agent_endpoints.Card(private_storage.open(other.smcb.card_file).read(), NEW_PIN)
    built = agent_endpoints.handle_compose(
        card,
        {
            "from": other.address,
            "to": [account.address],
            "text": "x",
            "certificates": {account.address: [account.smcb.cert_enc]},
        },
    )
    services_mailbox.send(actor=other_doc, account=other, raw=base64.b64decode(built["mail"]))
    message = StoredMessage.objects.get(account=account)
    return {"account": account, "message": message, "card": account.smcb, "doctor": doctor}


def _urls(world) -> dict[str, str]:
    account, message, card = world["account"], world["message"], world["card"]
    bsnr = account.betriebsstaette.bsnr
    return {
        "kim:smcb_order": reverse("kim:smcb_order", args=[bsnr]),
        "kim:smcb_activate": reverse("kim:smcb_activate", args=[card.pk]),
        "kim:smcb_unblock": reverse("kim:smcb_unblock", args=[card.pk]),
        "kim:smcb_card_file": reverse("kim:smcb_card_file", args=[card.pk]),
        "kim:account_request": reverse("kim:account_request", args=[bsnr]),
        "kim:account": reverse("kim:account", args=[account.pk]),
        "kim:mailbox": reverse("kim:mailbox", args=[account.pk]),
        "kim:subject_search": reverse("kim:subject_search", args=[account.pk]),
        "kim:compose": reverse("kim:compose", args=[account.pk]),
        "kim:certificates": reverse("kim:certificates", args=[account.pk]) + "?an=x@y.example",
        "kim:send": reverse("kim:send", args=[account.pk]),
        "kim:message": reverse("kim:message", args=[account.pk, message.pk]),
        "kim:message_raw": reverse("kim:message_raw", args=[account.pk, message.pk]),
        "kim:message_delete": reverse("kim:message_delete", args=[account.pk, message.pk]),
    }


def _outsiders(world):
    stranger = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    personal = UserFactory(kind=AccountKind.PRAXISPERSONAL)
    grant(personal, world["account"].betriebsstaette, Right.DOCS_BSNR)
    clients = {}
    for key, user in (("stranger", stranger), ("praxispersonal", personal)):
        c = Client(raise_request_exception=False)
        c.force_login(user)
        clients[key] = c
    for role in StaffRole.values:
        staff = kv_staff(role, username=f"kv.scope.{role.lower()}")
        c = Client(raise_request_exception=False)
        c.force_login(staff)
        otp_verify(c, staff)
        clients[role] = c
    return clients


def test_every_kim_object_url_is_404_out_of_scope(world):
    urls = _urls(world)
    assert set(urls) == set(KIM_OBJECT_URLS)
    failures = []
    for who, client in _outsiders(world).items():
        for name, url in urls.items():
            for method in ("get", "post"):
                status = getattr(client, method)(url).status_code
                if method == "get" and name in POST_ONLY and status == 405:
                    continue  # the method is refused before any lookup: reveals nothing
                if status != 404:
                    failures.append(f"{who} {method.upper()} {url} ({name}): {status}")
    assert not failures, "\n".join(failures)
    assert StoredMessage.objects.filter(pk=world["message"].pk, folder="inbox").exists()


def test_holder_gets_the_pages(world):
    c = Client(raise_request_exception=False)
    c.force_login(world["doctor"])
    urls = _urls(world)
    for name in (
        "kim:smcb_card_file",
        "kim:account",
        "kim:mailbox",
        "kim:compose",
        "kim:message",
        "kim:message_raw",
        "kim:smcb_order",
        "kim:account_request",
    ):
        assert c.get(urls[name]).status_code == 200, name
    # activation pages exist only while the card is not activated
    assert SmcbCard.objects.get(pk=world["card"].pk).activated_at
    assert c.get(urls["kim:smcb_activate"]).status_code == 404

"""Shared helpers of the KIM portal tests (no tests here): a practice with an activated SMC-B,
registered accounts, staff of the Arztregister. Synthetic data only."""

from __future__ import annotations

import pytest

from kvportal.accounts.constants import Right, StaffRole
from kvportal.kim import services
from kvportal.kim.models import KimAccount, SmcbCard
from kvportal.members.constants import Role
from tests.factories import BetriebsstaetteFactory, doctor_account, kv_staff

NEW_PIN = "482913"

#: the fixtures; test modules take them with `from tests.kim.test_portal_support import *`
__all__ = ["_kim_settings", "_tsp_dir", "doctor", "practice", "registrar"]


@pytest.fixture(scope="session")
def _tsp_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("kim-tsp")


@pytest.fixture(autouse=True)
def _kim_settings(settings, _tsp_dir):
    settings.KIM_TSP_DIR = _tsp_dir
    settings.KIM_DOMAIN = "kv-sachsen.kim.example"


@pytest.fixture
def registrar(db):
    return kv_staff(StaffRole.ARZTREGISTER, username="arztregister")


@pytest.fixture
def practice(db):
    return BetriebsstaetteFactory(name="Praxis Müller", city="Leipzig")


@pytest.fixture
def doctor(practice):
    return doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR)


def order_for(user, practice):
    prefill = services.order_prefill(practice)
    return services.order_smcb(
        actor=user,
        betriebsstaette=practice,
        practice_name=prefill["practice_name"],
        street=prefill["street"],
        postal_code=prefill["postal_code"],
        city=prefill["city"],
        contact_email="praxis@praxis.example",
    )


def active_card(user, practice, registrar) -> SmcbCard:
    order = order_for(user, practice)
    services.confirm_order(actor=registrar, order=order)
    issued = services.issue_card(actor=registrar, order=order)
    return services.activate_card(
        actor=user, card=issued.card, transport_pin=issued.pin, new_pin=NEW_PIN
    )


def practice_account(user, practice, registrar, local="praxis-mueller") -> tuple[KimAccount, str]:
    active_card(user, practice, registrar)
    account = services.request_practice_account(
        actor=user, betriebsstaette=practice, local_part=local
    )
    creds = services.register_account(actor=registrar, account=account)
    return creds.account, creds.password

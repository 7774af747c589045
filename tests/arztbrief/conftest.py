"""Two practices with SMC-B and KIM practice mailboxes; the author has a software eHBA."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kvportal.accounts.constants import Right, StaffRole
from kvportal.core.storage import private_storage
from kvportal.kim import agent_endpoints
from kvportal.members.constants import Role
from tests.ehba.conftest import card_dir, foreign_pki, new_card, pki  # noqa: F401 (fixtures)
from tests.factories import BetriebsstaetteFactory, doctor_account, kv_staff
from tests.oneclick.kimhelpers import PIN as PIN_SMC
from tests.oneclick.kimhelpers import activated_practice_account


@dataclass
class Side:
    practice: object
    doctor: object
    account: object
    card: object  # kim SmcbCard

    def agent_card(self) -> agent_endpoints.Card:
        return agent_endpoints.Card(private_storage.open(self.card.card_file).read(), PIN_SMC)


def make_side(registrar, *, name: str, local: str, first: str, last: str) -> Side:
    practice = BetriebsstaetteFactory(name=name)
    doctor = doctor_account(
        practice, Role.VERTRAGSARZT, Right.BILLING, first_name=first, last_name=last
    )
    account, card = activated_practice_account(doctor, practice, registrar, local)
    return Side(practice, doctor, account, card)


@pytest.fixture
def kim_world(settings, tmp_path, pki):  # noqa: F811
    settings.KIM_TSP_DIR = tmp_path / "tsp"
    settings.KIM_DOMAIN = "kv-sachsen.kim.example"
    settings.EHBA_TEST_PKI_DIR = str(pki.directory)
    registrar = kv_staff(StaffRole.ARZTREGISTER, username="kv.register.ab")
    author = make_side(
        registrar, name="Praxis Müller", local="praxis-mueller", first="Anna", last="Müller"
    )
    colleague = make_side(
        registrar, name="Praxis Schulz", local="praxis-schulz", first="Bernd", last="Schulz"
    )
    return author, colleague

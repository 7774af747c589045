"""eSE tests in the portal: a practice with a signature-entitled doctor (registered eHBA), an
activated SMC-B and a KIM account; the clock frozen inside the submission window of the quarter
just ended before any data is built. Synthetic data only."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from kvportal.accounts.constants import Right, StaffRole
from kvportal.billing import rules as billing_rules
from kvportal.billing import services as billing
from kvportal.core.quarters import Quarter
from kvportal.ehba.models import CardRegistration
from kvportal.kvdt import generate
from kvportal.members.constants import Role
from tests.factories import BetriebsstaetteFactory, doctor_account, kv_staff
from tests.oneclick import kimhelpers as kh

BERLIN = ZoneInfo("Europe/Berlin")
TID = "1-1-ARZT-ESE-TEST"


@pytest.fixture
def clock():
    quarter = Quarter.of(timezone.localdate()).previous()
    starts = billing_rules.default_window(quarter).starts
    when = dt.datetime.combine(starts + dt.timedelta(days=3), dt.time(10), tzinfo=BERLIN)
    with time_machine.travel(when, tick=True):
        yield quarter


@pytest.fixture
def world(clock, db, settings, tmp_path):
    settings.KIM_TSP_DIR = tmp_path / "tsp"
    settings.KIM_STORE_DIR = str(tmp_path / "store")
    settings.KIM_DOMAIN = "kv-sachsen.kim.example"
    settings.KIM_SERVICE_BILLING_ADDRESS = kh.KV
    settings.KIM_SERVICE_CARD = ""
    settings.KIM_SERVICE_TEST_PKI = True
    settings.ONECLICK_ESE_PROFILE = "38"
    registrar = kv_staff(StaffRole.ARZTREGISTER, username="arztregister.ese")
    practice = BetriebsstaetteFactory(name="Praxis Müller", city="Leipzig")
    doctor = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR)
    CardRegistration.objects.create(
        user=doctor,
        person=doctor.person,
        name="eHBA",
        telematik_id=TID,
        profession="arzt",
        holder_name=f"{doctor.person.first_name} {doctor.person.last_name}",
        certificate_fingerprint="x",
    )
    account, card = kh.activated_practice_account(doctor, practice, registrar, "praxis-mueller")
    smcb = kh.pem_card(card)
    return {
        "quarter": clock,
        "practice": practice,
        "doctor": doctor,
        "account": account,
        "card": smcb,
        "ehba": kh.ehba_card(smcb, telematik_id=TID, name="Dr. Test eHBA TEST-ONLY"),
    }


def con_file(world) -> tuple[str, bytes]:
    practice = world["practice"]
    name = f"Z01{practice.bsnr}_{timezone.localtime():%d.%m.%Y_%H.%M}.con"
    return name, generate(4, seed=3, quarter=world["quarter"], bsnr=practice.bsnr)


def accepted_submission(world, capture):
    name, content = con_file(world)
    with capture(execute=True):
        sub = billing.receive_submission(
            actor=world["doctor"],
            betriebsstaette=world["practice"],
            quarter=world["quarter"],
            upload=io.BytesIO(content),
            filename=name,
        )
    sub.refresh_from_db()
    assert sub.state == "accepted"
    return sub

"""eSE tests in the portal: a practice with a signature-entitled doctor (registered eHBA), an
activated SMC-B and a KIM account; the clock frozen inside the submission window of the quarter
just ended before any data is built. Synthetic data only."""

from __future__ import annotations

import io

import pytest
from django.utils import timezone

from kvportal.billing import services as billing
from kvportal.ehba.models import CardRegistration
from kvportal.kvdt import generate
from tests.oneclick import kimhelpers as kh
from tests.oneclick.conftest import clock  # noqa: F401 (fixture)

TID = "1-1-ARZT-ESE-TEST"


@pytest.fixture
def world(clock, db, settings, tmp_path):  # noqa: F811
    base = kh.kim_practice(settings, tmp_path, "arztregister.ese")
    settings.ONECLICK_ESE_PROFILE = "38"
    doctor = base["doctor"]
    CardRegistration.objects.create(
        user=doctor,
        person=doctor.person,
        name="eHBA",
        telematik_id=TID,
        profession="arzt",
        holder_name=f"{doctor.person.first_name} {doctor.person.last_name}",
        certificate_fingerprint="x",
    )
    ehba = kh.ehba_card(base["card"], telematik_id=TID, name="Dr. Test eHBA TEST-ONLY")
    return {**base, "quarter": clock, "ehba": ehba}


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

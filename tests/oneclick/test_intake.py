"""1-Click intake: a delivery is an upload (same right, checks, deadlines, receipt); every
refusal is typed, German and logged. Dates are built from the clock the test runs under."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from kvportal.accounts.constants import AccountKind, Right
from kvportal.audit.models import AccessLogEntry
from kvportal.billing import models as billing_models
from kvportal.billing import rules as billing_rules
from kvportal.billing.models import Submission
from kvportal.core.quarters import Quarter
from kvportal.ehba.models import CardRegistration
from kvportal.kvdt import generate
from kvportal.members.constants import Role
from kvportal.oneclick import begleitdatei as bd
from kvportal.oneclick.intake import Received, Refusal, Sender, receive
from tests.factories import BetriebsstaetteFactory, UserFactory, doctor_account, grant

BERLIN = ZoneInfo("Europe/Berlin")
TID = "1-20014711"


@pytest.fixture
def quarter():
    return Quarter.of(timezone.localdate()).previous()


@pytest.fixture
def on_time(quarter):
    """Inside the regular submission window of the quarter just ended."""
    starts = billing_rules.default_window(quarter).starts
    return dt.datetime.combine(starts + dt.timedelta(days=3), dt.time(10), tzinfo=BERLIN)


@pytest.fixture
def practice(db):
    return BetriebsstaetteFactory()


@pytest.fixture
def doctor(practice):
    user = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING)
    CardRegistration.objects.create(
        user=user,
        person=user.person,
        name="eHBA",
        telematik_id=TID,
        profession="arzt",
        holder_name="Test",
        certificate_fingerprint="x",
    )
    return user


def con_name(bsnr: str, when: dt.datetime, *, encrypted: bool = False) -> str:
    return f"Z01{bsnr}_{when:%d.%m.%Y_%H.%M}.con" + (".xkm" if encrypted else "")


def delivery(practice, quarter, when, *, testdaten=False, names=None, typ=bd.ABRECHNUNG):
    name = con_name(practice.bsnr, when)
    content = generate(4, seed=3, quarter=quarter, bsnr=practice.bsnr)
    begleit = bd.Begleitdatei(
        bsnr=practice.bsnr,
        quartal=quarter,
        testdaten=testdaten,
        anhaenge=tuple(names or [name]),
        dokumenten_typ=typ,
        lieferungs_zeitpunkt=when,
    )
    return begleit, {name: content}


def refusals(code: str) -> int:
    return AccessLogEntry.objects.filter(
        detail__event="oneclick.refused", detail__code=code
    ).count()


def test_delivery_becomes_a_submission(doctor, practice, quarter, on_time):
    begleit, files = delivery(practice, quarter, on_time)
    result = receive(
        begleitdatei=begleit, attachments=files, sender=Sender(telematik_id=TID), now=on_time
    )
    assert isinstance(result, Received) and not result.is_test
    sub = Submission.objects.get()
    assert result.submission == sub
    assert sub.betriebsstaette == practice and sub.quarter == quarter.slug
    assert sub.submitted_by == doctor and sub.original_name == next(iter(files))
    assert sub.received_at == on_time


def test_begleitdatei_as_bytes_and_lanr_identify_the_sender(doctor, practice, quarter, on_time):
    begleit, files = delivery(practice, quarter, on_time)
    result = receive(
        begleitdatei=bd.build(begleit),
        attachments=files,
        sender=Sender(lanr=doctor.person.lanr, bsnr=practice.bsnr),
        now=on_time,
    )
    assert isinstance(result, Received)
    assert result.submission.submitted_by == doctor


def test_testdaten_become_a_test_run(doctor, practice, quarter, on_time):
    begleit, files = delivery(practice, quarter, on_time, testdaten=True)
    result = receive(begleitdatei=begleit, attachments=files, sender=Sender(telematik_id=TID))
    assert isinstance(result, Received) and result.is_test
    assert billing_models.TestRun.objects.get() == result.test_run
    assert not Submission.objects.exists()


def test_encrypted_only_is_stored_for_the_kv(doctor, practice, quarter, on_time):
    name = con_name(practice.bsnr, on_time, encrypted=True)
    begleit = bd.Begleitdatei(
        bsnr=practice.bsnr,
        quartal=quarter,
        testdaten=False,
        anhaenge=(name,),
        lieferungs_zeitpunkt=on_time,
    )
    result = receive(
        begleitdatei=begleit,
        attachments={name: b"\x00xkm"},
        sender=Sender(telematik_id=TID),
        now=on_time,
    )
    assert isinstance(result, Received)
    assert result.submission.kind == billing_rules.FileKind.ENCRYPTED.value


def test_plain_con_preferred_over_xkm(doctor, practice, quarter, on_time):
    begleit, files = delivery(practice, quarter, on_time)
    xkm = con_name(practice.bsnr, on_time, encrypted=True)
    begleit = bd.Begleitdatei(
        bsnr=practice.bsnr,
        quartal=quarter,
        testdaten=False,
        anhaenge=(xkm, *files),
        lieferungs_zeitpunkt=on_time,
    )
    result = receive(
        begleitdatei=begleit,
        attachments={xkm: b"\x00", **files},
        sender=Sender(telematik_id=TID),
        now=on_time,
    )
    assert result.submission.kind == billing_rules.FileKind.PLAIN.value


def test_unknown_sender(practice, quarter, on_time):
    begleit, files = delivery(practice, quarter, on_time)
    result = receive(
        begleitdatei=begleit,
        attachments=files,
        sender=Sender(telematik_id="1-unknown", lanr="999999999"),
        now=on_time,
    )
    assert isinstance(result, Refusal) and result.code == "unknown_sender"
    assert "nicht bekannt" in result.texts[0]
    assert refusals("unknown_sender") == 1
    assert not Submission.objects.exists()


def test_no_billing_right_is_refused_by_billing(practice, quarter, on_time):
    user = doctor_account(practice, Role.ANGESTELLT, Right.DOCS_LANR)
    begleit, files = delivery(practice, quarter, on_time)
    result = receive(
        begleitdatei=begleit, attachments=files, sender=Sender(lanr=user.person.lanr), now=on_time
    )
    assert isinstance(result, Refusal) and result.code == "billing"
    assert practice.bsnr in " ".join(result.texts)
    assert result.detail["billing_codes"] == ["no_right"]
    assert refusals("billing") == 1


def test_staff_account_cannot_be_a_sender(practice, quarter, on_time):
    staff = UserFactory(kind=AccountKind.PRAXISPERSONAL)
    grant(staff, practice, Right.BILLING)
    begleit, files = delivery(practice, quarter, on_time)
    result = receive(begleitdatei=begleit, attachments=files, sender=Sender(lanr="123456789"))
    assert isinstance(result, Refusal) and result.code == "unknown_sender"


def test_bsnr_of_smcb_must_match_begleitdatei(doctor, practice, quarter, on_time):
    begleit, files = delivery(practice, quarter, on_time)
    result = receive(
        begleitdatei=begleit,
        attachments=files,
        sender=Sender(telematik_id=TID, bsnr="999999900"),
        now=on_time,
    )
    assert isinstance(result, Refusal) and result.code == "no_right"
    assert "999999900" in result.texts[0] and practice.bsnr in result.texts[0]


def test_wrong_begleitdatei(doctor, practice, quarter, on_time):
    begleit, files = delivery(practice, quarter, on_time)
    broken = bd.build(begleit).replace(b"<vollstaendig", b"<vollstaendich")
    result = receive(begleitdatei=broken, attachments=files, sender=Sender(telematik_id=TID))
    assert isinstance(result, Refusal) and result.code == "begleitdatei"
    assert any("vollstaendich" in t and "Zeile" in t for t in result.texts)
    assert refusals("begleitdatei") == 1


@pytest.mark.parametrize("damage", ["missing", "unlisted", "empty", "no_billing_file"])
def test_damaged_attachments(doctor, practice, quarter, on_time, damage):
    begleit, files = delivery(practice, quarter, on_time)
    name = next(iter(files))
    if damage == "missing":
        files = {}
    elif damage == "unlisted":
        files = {**files, "extra.pdf": b"%PDF"}
    elif damage == "empty":
        files = {name: b""}
    else:
        begleit = bd.Begleitdatei(
            bsnr=practice.bsnr,
            quartal=quarter,
            testdaten=False,
            anhaenge=("brief.pdf",),
            lieferungs_zeitpunkt=on_time,
        )
        files = {"brief.pdf": b"%PDF"}
    result = receive(
        begleitdatei=begleit, attachments=files, sender=Sender(telematik_id=TID), now=on_time
    )
    assert isinstance(result, Refusal) and result.code == "attachment", result
    assert result.texts
    assert refusals("attachment") == 1
    assert not Submission.objects.exists()


def test_deadline_applies_as_for_uploads(doctor, practice, quarter, on_time):
    too_early = dt.datetime.combine(
        billing_rules.default_window(quarter).early_from - dt.timedelta(days=1),
        dt.time(10),
        tzinfo=BERLIN,
    )
    begleit, files = delivery(practice, quarter, too_early)
    result = receive(
        begleitdatei=begleit, attachments=files, sender=Sender(telematik_id=TID), now=too_early
    )
    assert isinstance(result, Refusal) and result.code == "billing"
    assert result.detail["billing_codes"] == ["too_early"]


def test_checked_like_an_upload_and_duplicate_refused(
    doctor, practice, quarter, on_time, django_capture_on_commit_callbacks
):
    begleit, files = delivery(practice, quarter, on_time)
    with django_capture_on_commit_callbacks(execute=True):
        first = receive(
            begleitdatei=begleit, attachments=files, sender=Sender(telematik_id=TID), now=on_time
        )
    assert isinstance(first, Received)
    first.submission.refresh_from_db()
    # billing's check ran and wrote its protocol, as for a web upload
    assert first.submission.state == billing_models.SubmissionState.ACCEPTED
    again = receive(
        begleitdatei=begleit,
        attachments=files,
        sender=Sender(telematik_id=TID),
        now=on_time + dt.timedelta(minutes=5),
    )
    assert isinstance(again, Refusal) and again.detail["billing_codes"] == ["duplicate"]


def test_sammelerklaerung_without_ese_attachment_is_refused(doctor, practice, quarter, on_time):
    begleit = bd.Begleitdatei(
        bsnr=practice.bsnr,
        quartal=quarter,
        testdaten=False,
        anhaenge=("erklaerung.pdf",),
        dokumenten_typ=bd.SAMMELERKLAERUNG,
        lieferungs_zeitpunkt=on_time,
    )
    result = receive(
        begleitdatei=begleit,
        attachments={"erklaerung.pdf": b"%PDF"},
        sender=Sender(telematik_id=TID),
        now=on_time,
    )
    assert isinstance(result, Refusal) and result.code == "attachment"
    assert "keine Sammelerklärung (Anhang ese_….xml" in result.texts[0]


def test_billing_with_a_damaged_ese_is_refused_whole(doctor, practice, quarter, on_time):
    begleit, files = delivery(practice, quarter, on_time)
    name = next(iter(files))
    begleit = bd.Begleitdatei(
        bsnr=practice.bsnr,
        quartal=quarter,
        testdaten=False,
        anhaenge=(name, "ese_1.21_x.xml"),
        dokumenten_typ=bd.ABRECHNUNG_UND_SAMMELERKLAERUNG,
        lieferungs_zeitpunkt=on_time,
    )
    result = receive(
        begleitdatei=begleit,
        attachments={**files, "ese_1.21_x.xml": b"<x/>"},
        sender=Sender(telematik_id=TID),
        now=on_time,
    )
    assert isinstance(result, Refusal) and result.code == "ese"
    assert "Sammelerklärung (eSE) ist fehlerhaft" in result.texts[0]
    assert not Submission.objects.exists()


def test_test_run_needs_the_plain_con(doctor, practice, quarter, on_time):
    name = con_name(practice.bsnr, on_time, encrypted=True)
    begleit = bd.Begleitdatei(
        bsnr=practice.bsnr,
        quartal=quarter,
        testdaten=True,
        anhaenge=(name,),
        lieferungs_zeitpunkt=on_time,
    )
    result = receive(
        begleitdatei=begleit, attachments={name: b"\x00"}, sender=Sender(telematik_id=TID)
    )
    assert isinstance(result, Refusal) and result.code == "billing"
    assert result.detail["billing_codes"] == ["test_run_plain_only"]
    assert not billing_models.TestRun.objects.exists()

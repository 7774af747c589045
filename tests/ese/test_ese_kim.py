"""The eSE over KIM (issue 16): sent by practice software in a 1-Click delivery (Begleitdatei
SAMMELERKLÄRUNG or ABRECHNUNG+SAMMELERKLÄRUNG, attachment ese_….xml), accepted only when
schema-valid, signed with the eHBA of the entitled doctor it names, and tied to the accepted
submission (or to the file it came with, effective on acceptance). Answers over KIM."""

from __future__ import annotations

import email
import email.policy

from django.utils import timezone

from kvportal.audit.models import AccessLogEntry
from kvportal.billing.models import Declaration, Submission
from kvportal.kim import inbound
from kvportal.kim.models import StoredMessage
from kvportal.oneclick import begleitdatei as bd
from kvportal.oneclick import ese, ese_services
from kvportal.oneclick.models import DeliveryState, KimDelivery, Sammelerklaerung
from tests.ese.conftest import accepted_submission, con_file
from tests.oneclick import kimhelpers as kh


def ese_xml(world, **kw) -> tuple[str, bytes]:
    doc = ese_services.document_for(actor=world["doctor"], submission=_FakeSubmission(world))
    if kw:
        doc = type(doc)(**{**doc.__dict__, **kw})
    return ese.filename(doc), ese.build(doc)


class _FakeSubmission:
    """What `document_for` reads: practice, quarter, report (no database row needed)."""

    def __init__(self, world):
        self.betriebsstaette = world["practice"]
        self.quarter_obj = world["quarter"]
        self.report = {}


def send(world, capture, files: dict[str, bytes], typ: str, *, card=None) -> None:
    names = tuple(files)
    begleit = bd.Begleitdatei(
        bsnr=world["practice"].bsnr,
        quartal=world["quarter"],
        testdaten=False,
        anhaenge=names,
        dokumenten_typ=typ,
        lieferungs_zeitpunkt=timezone.localtime(),
    )
    raw = kh.seal_delivery(
        card=card or world["ehba"],
        sender=world["account"].address,
        files={bd.FILENAME: bd.build(begleit), **files},
    )
    kh.drop(raw)
    with capture(execute=True):
        assert inbound.poll() == 1


def answer_texts(world) -> list[str]:
    out = []
    for message in StoredMessage.objects.filter(account=world["account"]).order_by("pk"):
        opened = kh.open_answer(message, world["card"])
        assert opened.decrypted, opened.details
        msg = email.message_from_bytes(opened.message, policy=email.policy.default)
        out.append(msg.get_body(preferencelist=("plain",)).get_content())
    return out


def test_ese_alone_for_the_accepted_submission(world, django_capture_on_commit_callbacks):
    sub = accepted_submission(world, django_capture_on_commit_callbacks)
    name, data = ese_xml(world)
    send(world, django_capture_on_commit_callbacks, {name: data}, bd.SAMMELERKLAERUNG)
    declaration = Declaration.objects.get()
    assert declaration.method == "kim" and declaration.given_by == world["doctor"]
    obj = Sammelerklaerung.objects.get()
    assert obj.submission == sub and obj.declaration == declaration and obj.channel == "kim"
    assert declaration.evidence["ese_sha256"] == obj.xml_sha256
    delivery = KimDelivery.objects.get()
    assert delivery.state == DeliveryState.ANSWERED and delivery.sammelerklaerung == obj
    (receipt,) = answer_texts(world)
    assert "Erklärung zur Abrechnung ist damit abgegeben" in receipt


def test_ese_with_the_billing_takes_effect_on_acceptance(world, django_capture_on_commit_callbacks):
    con_name, content = con_file(world)
    name, data = ese_xml(world)
    send(
        world,
        django_capture_on_commit_callbacks,
        {con_name: content, name: data},
        bd.ABRECHNUNG_UND_SAMMELERKLAERUNG,
    )
    sub = Submission.objects.get()
    assert sub.state == "accepted" and sub.channel == "kim"
    declaration = Declaration.objects.get()
    assert declaration.method == "kim"
    receipt, feedback = answer_texts(world)
    assert "wird wirksam, sobald die Abrechnung angenommen ist" in receipt
    assert "Die Sammelerklärung ist damit abgegeben." in feedback


def _refused(world, code: str) -> str:
    delivery = KimDelivery.objects.get()
    assert delivery.state == DeliveryState.REFUSED and delivery.refusal_code == code
    assert AccessLogEntry.objects.filter(detail__event="oneclick.refused", detail__code=code)
    assert not Declaration.objects.exists()
    (text,) = answer_texts(world)
    return text


def test_ese_signed_with_the_smcb_only_is_refused(world, django_capture_on_commit_callbacks):
    accepted_submission(world, django_capture_on_commit_callbacks)
    name, data = ese_xml(world)
    send(
        world,
        django_capture_on_commit_callbacks,
        {name: data},
        bd.SAMMELERKLAERUNG,
        card=world["card"],
    )
    assert "Die Sammelerklärung ist persönlich" in _refused(world, "ese")


def test_ese_without_accepted_submission_is_refused(world, django_capture_on_commit_callbacks):
    name, data = ese_xml(world)
    send(world, django_capture_on_commit_callbacks, {name: data}, bd.SAMMELERKLAERUNG)
    assert "noch keine vor" in _refused(world, "ese")


def test_schema_invalid_ese_is_refused_with_the_schema_message(
    world, django_capture_on_commit_callbacks
):
    accepted_submission(world, django_capture_on_commit_callbacks)
    name, data = ese_xml(world)
    data = data.replace(b"<bool_einfach>", b"<bool_einfach><vielleicht/>")
    send(world, django_capture_on_commit_callbacks, {name: data}, bd.SAMMELERKLAERUNG)
    text = _refused(world, "ese")
    assert "eSE) ist fehlerhaft" in text and "eSE_body.xsd" in text


def test_ese_of_another_doctor_is_refused(world, django_capture_on_commit_callbacks):
    accepted_submission(world, django_capture_on_commit_callbacks)
    name, data = ese_xml(world, lanr="999999901")
    send(world, django_capture_on_commit_callbacks, {name: data}, bd.SAMMELERKLAERUNG)
    assert "LANR 999999901" in _refused(world, "ese")


def test_ese_for_another_kv_profile_is_refused(world, settings, django_capture_on_commit_callbacks):
    accepted_submission(world, django_capture_on_commit_callbacks)
    name, data = ese_xml(world, profile=ese.PROFILES["01"])
    send(world, django_capture_on_commit_callbacks, {name: data}, bd.SAMMELERKLAERUNG)
    assert "KV Schleswig-Holstein" in _refused(world, "ese")


def test_second_declaration_is_refused(world, django_capture_on_commit_callbacks):
    sub = accepted_submission(world, django_capture_on_commit_callbacks)
    from kvportal.billing import services as billing

    billing.give_declaration(
        actor=world["doctor"], betriebsstaette=sub.betriebsstaette, quarter=sub.quarter_obj
    )
    name, data = ese_xml(world)
    send(world, django_capture_on_commit_callbacks, {name: data}, bd.SAMMELERKLAERUNG)
    delivery = KimDelivery.objects.get()
    assert delivery.state == DeliveryState.REFUSED and delivery.refusal_code == "ese"
    (text,) = answer_texts(world)
    assert "bereits" in text

"""1-Click-Abrechnung over KIM (issue 16): a delivery to the KV's billing address is taken like
an upload, answered at once with `1ClickAbrechnung;Eingangsbestaetigung;V2.0` and after the
check with `…;Rueckmeldung;V2.0` (encrypted for the sender, signed with the KV key); every
refusal is answered in German and logged; the raw mail is kept. The clock is frozen inside the
submission window of the quarter just ended before any data (certificates too) is built."""

from __future__ import annotations

import email
import email.policy

from django.utils import timezone

from kvportal.accounts.constants import Right
from kvportal.audit.models import AccessLogEntry
from kvportal.billing.models import Channel, Submission
from kvportal.billing.models import TestRun as BillingTestRun
from kvportal.core.storage import private_storage
from kvportal.kim import inbound
from kvportal.kim.models import StoredMessage
from kvportal.kvdt import generate
from kvportal.members.constants import Role
from kvportal.oneclick import begleitdatei as bd
from kvportal.oneclick.models import DeliveryState, KimDelivery
from tests.factories import BetriebsstaetteFactory, doctor_account
from tests.oneclick import kimhelpers as kh

EINGANG = "1ClickAbrechnung;Eingangsbestaetigung;V2.0"
RUECKMELDUNG = "1ClickAbrechnung;Rueckmeldung;V2.0"


def con(world, *, testdaten=False, names=None, bsnr=None):
    practice, quarter = world["practice"], world["quarter"]
    now = timezone.localtime()
    name = f"Z01{practice.bsnr}_{now:%d.%m.%Y_%H.%M}.con"
    begleit = bd.Begleitdatei(
        bsnr=bsnr or practice.bsnr,
        quartal=quarter,
        testdaten=testdaten,
        anhaenge=tuple(names or [name]),
        lieferungs_zeitpunkt=now,
    )
    content = generate(4, seed=3, quarter=quarter, bsnr=practice.bsnr)
    return {bd.FILENAME: bd.build(begleit), name: content}


def deliver(world, files, django_capture_on_commit_callbacks, **kw) -> str:
    card = kw.pop("card", world["card"])
    raw = kh.seal_delivery(card=card, sender=world["account"].address, files=files, **kw)
    key = kh.drop(raw)
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound.poll() == 1
    return key


def answers(world) -> list[StoredMessage]:
    return list(
        StoredMessage.objects.filter(account=world["account"]).order_by("received_at", "pk")
    )


def opened(world, message):
    result = kh.open_answer(message, world["card"])
    assert result.decrypted and result.integrity in ("gültig", "nicht prüfbar"), result.details
    return email.message_from_bytes(result.message, policy=email.policy.default)


def body(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def test_delivery_is_an_upload_answered_with_receipt_and_protocol(
    world, django_capture_on_commit_callbacks
):
    deliver(world, con(world), django_capture_on_commit_callbacks)
    sub = Submission.objects.get()
    assert sub.channel == Channel.KIM and sub.get_channel_display() == "KIM"
    assert sub.submitted_by == world["doctor"]  # the SMC-B names the practice, its requester acts
    assert sub.betriebsstaette == world["practice"] and sub.is_done
    delivery = KimDelivery.objects.get()
    assert delivery.state == DeliveryState.ANSWERED and delivery.submission == sub
    assert delivery.sender_telematik_id == f"1-2{world['practice'].bsnr}"

    receipt, feedback = answers(world)
    assert [receipt.dienstkennung, feedback.dienstkennung] == [EINGANG, RUECKMELDUNG]
    assert receipt.sender == kh.KV
    first = opened(world, receipt)  # encrypted for the practice, KV signature valid
    assert first["X-KIM-Dienstkennung"] == EINGANG
    assert f"Eingangsnummer {sub.pk}" in body(first) and sub.sha256 in body(first)
    pdfs = [p.get_filename() for p in first.iter_attachments()]
    assert pdfs == [f"Empfangsbestaetigung_{sub.betriebsstaette.bsnr}_{sub.quarter}_{sub.pk}.pdf"]
    second = opened(world, feedback)
    assert "Prüfprotokoll" in body(second) and sub.get_state_display() in body(second)
    attached = {p.get_filename(): p.get_content() for p in second.iter_attachments()}
    (protocol,) = attached.values()
    assert protocol.startswith(b"%PDF")
    # the raw mail is kept for staff
    assert private_storage.exists(delivery.raw_path)


def test_testabrechnung_over_kim(world, django_capture_on_commit_callbacks):
    deliver(world, con(world, testdaten=True), django_capture_on_commit_callbacks)
    assert not Submission.objects.exists()
    run = BillingTestRun.objects.get()
    assert run.state == "done"
    receipt, feedback = answers(world)
    assert "Testabrechnung" in body(opened(world, receipt))
    text = body(opened(world, feedback))
    assert "nicht eingereicht" in text and "Prüfergebnis" in text


def test_processing_twice_takes_and_answers_once(world, django_capture_on_commit_callbacks):
    key = deliver(world, con(world), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        inbound.process_message(address=kh.KV, key=key)  # a task that runs again
        assert inbound.poll() == 0  # marked as seen
    assert Submission.objects.count() == 1 and KimDelivery.objects.count() == 1
    assert len(answers(world)) == 2


def _refusal_text(world, code):
    delivery = KimDelivery.objects.get()
    assert delivery.state == DeliveryState.REFUSED and delivery.refusal_code == code
    assert AccessLogEntry.objects.filter(
        detail__event="oneclick.refused", detail__code=code
    ).exists()
    assert private_storage.exists(delivery.raw_path)
    (answer,) = answers(world)
    assert answer.dienstkennung == EINGANG
    text = body(opened(world, answer))
    assert "nicht angenommen" in text and "Es wurde nichts eingereicht" in text
    assert not Submission.objects.exists() and not BillingTestRun.objects.exists()
    return text


def test_wrong_begleitdatei_is_refused_with_its_problem(world, django_capture_on_commit_callbacks):
    files = con(world)
    files[bd.FILENAME] = files[bd.FILENAME].replace(b"<bsnr V=", b"<betriebsstaette V=")
    deliver(world, files, django_capture_on_commit_callbacks)
    text = _refusal_text(world, "begleitdatei")
    assert "Begleitdatei ist fehlerhaft" in text and "Zeile" in text


def test_missing_begleitdatei_is_refused(world, django_capture_on_commit_callbacks):
    files = con(world)
    del files[bd.FILENAME]
    deliver(world, files, django_capture_on_commit_callbacks)
    assert "begleitdatei.xml" in _refusal_text(world, "begleitdatei")


def test_missing_attachment_is_refused(world, django_capture_on_commit_callbacks):
    files = con(world)
    name = next(n for n in files if n.endswith(".con"))
    del files[name]
    deliver(world, files, django_capture_on_commit_callbacks)
    assert f"„{name}“ ist in der Begleitdatei genannt, fehlt aber" in _refusal_text(
        world, "attachment"
    )


def test_bsnr_other_than_the_smcb_is_refused(world, django_capture_on_commit_callbacks):
    other = BetriebsstaetteFactory()
    deliver(world, con(world, bsnr=other.bsnr), django_capture_on_commit_callbacks)
    text = _refusal_text(world, "no_right")
    assert other.bsnr in text and world["practice"].bsnr in text


def test_sender_without_billing_right_is_unknown(world, django_capture_on_commit_callbacks):
    from kvportal.accounts.models import PortalRight

    PortalRight.objects.filter(right=Right.BILLING).delete()
    deliver(world, con(world), django_capture_on_commit_callbacks)
    assert "nicht bekannt" in _refusal_text(world, "unknown_sender")


def test_signer_from_a_foreign_ca_is_refused(world, django_capture_on_commit_callbacks):
    from tests.kim.conftest import make_cert

    ca = make_cert("Fremde CA TEST-ONLY", ca=True)
    signer = make_cert("Praxis Fremd OSIG TEST-ONLY", issuer=ca)
    own = world["card"]
    forged = type(own)(osig_key=signer.key, osig_cert=signer.cert, enc=own.enc, chain=[ca.cert])
    deliver(world, con(world), django_capture_on_commit_callbacks, card=forged)
    assert "Absender ist nicht sicher feststellbar" in _refusal_text(world, "unknown_sender")


def test_damaged_mail_is_answered_and_kept(world, django_capture_on_commit_callbacks):
    raw = kh.seal_delivery(card=world["card"], sender=world["account"].address, files=con(world))
    head, _, b64 = raw.partition(b"\r\n\r\n")
    lines = b64.split(b"\r\n")
    mid = len(lines) // 2  # inside the AES-GCM ciphertext: the tag no longer matches
    lines[mid] = lines[mid][:10] + (b"A" if lines[mid][10:11] != b"A" else b"B") + lines[mid][11:]
    kh.drop(head + b"\r\n\r\n" + b"\r\n".join(lines))
    with django_capture_on_commit_callbacks(execute=True):
        inbound.poll()
    assert "beschädigt" in _refusal_text(world, "attachment")


def test_unknown_dienstkennung_is_kept_and_logged(world, django_capture_on_commit_callbacks):
    deliver(
        world,
        {"notiz.txt": b"hallo"},
        django_capture_on_commit_callbacks,
        dienstkennung="KIM-Mail;Default;V1.0",
    )
    assert not KimDelivery.objects.exists() and not answers(world)
    entry = AccessLogEntry.objects.get(detail__event="kim.service.unhandled")
    assert private_storage.exists(entry.detail["raw"])


def test_feedback_is_recovered_when_the_answer_failed(world, django_capture_on_commit_callbacks):
    from kvportal.kim.models import DirectoryEntry

    entry = DirectoryEntry.objects.get(betriebsstaette=world["practice"])
    cert = entry.enc_certificate
    DirectoryEntry.objects.filter(pk=entry.pk).update(enc_certificate="")
    deliver(world, con(world), django_capture_on_commit_callbacks)
    assert not answers(world)
    assert AccessLogEntry.objects.filter(detail__event="kim.service.answer_failed").exists()
    DirectoryEntry.objects.filter(pk=entry.pk).update(enc_certificate=cert)
    from kvportal.oneclick import kimchannel

    assert kimchannel.recover_feedback(now=timezone.now()) == 2
    assert [m.dienstkennung for m in answers(world)] == [EINGANG, RUECKMELDUNG]
    assert kimchannel.recover_feedback(now=timezone.now()) == 0


def test_smcb_of_another_practice_is_refused(world, django_capture_on_commit_callbacks):
    other = BetriebsstaetteFactory(name="Praxis Schulz", city="Dresden")
    schulz = doctor_account(other, Role.VERTRAGSARZT, Right.BILLING)
    _account, card = kh.activated_practice_account(schulz, other, world["registrar"], "schulz")
    deliver(world, con(world), django_capture_on_commit_callbacks, card=kh.pem_card(card))
    text = _refusal_text(world, "unknown_sender")
    assert other.bsnr in text and world["account"].address in text


def test_unconfigured_kv_card_keeps_the_mail_unseen(
    world, settings, django_capture_on_commit_callbacks
):
    raw = kh.seal_delivery(card=world["card"], sender=world["account"].address, files=con(world))
    kh.drop(raw)
    settings.KIM_SERVICE_TEST_PKI = False
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound.poll() == 1
    assert not KimDelivery.objects.exists() and inbound.pending(kh.KV)
    settings.KIM_SERVICE_TEST_PKI = True
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound.poll() == 1
    assert KimDelivery.objects.get().state == DeliveryState.ANSWERED
    assert not inbound.pending(kh.KV)

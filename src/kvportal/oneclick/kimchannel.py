# 1ClickAbrechnung V2.0 over KIM / seed 001: a delivery to the KV's billing address is an upload
# (same right, checks, deadlines, receipt); it is answered at once (Eingangsbestaetigung) and
# after the check (Rueckmeldung); every refusal is answered in German, logged, and the raw mail
# is kept.
"""The KIM channel of 1-Click-Abrechnung: handler of the KV's service mailbox."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from kvportal.kim import inbound as kim_inbound
from kvportal.oneclick import begleitdatei as bd
from kvportal.oneclick import intake
from kvportal.oneclick.models import DeliveryState, KimDelivery

log = logging.getLogger(__name__)

LIEFERUNG = "1ClickAbrechnung;Lieferung;V2.0"
EINGANGSBESTAETIGUNG = "1ClickAbrechnung;Eingangsbestaetigung;V2.0"
RUECKMELDUNG = "1ClickAbrechnung;Rueckmeldung;V2.0"


def _inbound_of(delivery: KimDelivery) -> kim_inbound.Inbound:
    """Enough of the original mail to answer it later (address, Message-ID)."""
    return kim_inbound.Inbound(
        account=delivery.account,
        key=delivery.store_key,
        raw_path=delivery.raw_path,
        sender_address=delivery.sender_address,
        dienstkennung=delivery.dienstkennung,
        message_id=delivery.message_id,
    )


def _attachments(inbound: kim_inbound.Inbound) -> tuple[bytes | None, dict[str, bytes]]:
    found = inbound.attachments()
    begleit = None
    rest = {}
    for name, content in found.items():
        if name.casefold() == bd.FILENAME and begleit is None:
            begleit = content
        else:
            rest[name] = content
    return begleit, rest


def _account_mismatch(inbound: kim_inbound.Inbound) -> str:
    """A practice's SMC-B must send from that practice's KIM account (answers go there)."""
    from kvportal.kim.models import AccountKind, KimAccount

    if not inbound.signer_bsnr:
        return ""
    account = KimAccount.objects.filter(address__iexact=inbound.sender_address).first()
    if (
        account is None
        or account.kind != AccountKind.PRACTICE
        or account.bsnr == inbound.signer_bsnr
    ):
        return ""
    return (
        f"Die Nachricht ist mit der SMC-B der Betriebsstätte {inbound.signer_bsnr} signiert, "
        f"aber vom KIM-Postfach {inbound.sender_address} der Betriebsstätte {account.bsnr} "
        "gesendet. Bitte senden Sie aus dem Postfach der eigenen Praxis."
    )


def take_over(inbound: kim_inbound.Inbound) -> intake.Received | intake.Refusal:
    """Check what KIM can tell (decryption, signature, sender), then hand to the intake."""
    base = {
        "sender_telematik_id": inbound.signer_telematik_id,
        "kim_address": inbound.sender_address,
        "kim_key": inbound.key,
    }
    if not inbound.opened:
        return intake._refuse(
            None,
            "attachment",
            [f"Die Lieferung ist beschädigt und wurde nicht verarbeitet: {inbound.problem}"],
            detail=base,
        )
    if not inbound.trusted:
        return intake._refuse(
            None,
            "unknown_sender",
            [
                "Der Absender ist nicht sicher feststellbar und die Lieferung wurde nicht "
                f"verarbeitet: {inbound.problem}"
            ],
            bsnr=inbound.signer_bsnr,
            detail=base,
        )
    mismatch = _account_mismatch(inbound)
    if mismatch:
        return intake._refuse(
            None, "unknown_sender", [mismatch], bsnr=inbound.signer_bsnr, detail=base
        )
    begleit, rest = _attachments(inbound)
    if begleit is None:
        return intake._refuse(
            None,
            "begleitdatei",
            [
                f"Der Lieferung fehlt die Begleitdatei „{bd.FILENAME}“ (1-Click-Abrechnung "
                "verlangt sie als Anhang mit genau diesem Namen)."
            ],
            bsnr=inbound.signer_bsnr,
            detail=base,
        )
    sender = intake.Sender(
        telematik_id="" if inbound.signer_is_practice else inbound.signer_telematik_id,
        bsnr=inbound.signer_bsnr,
        kim_address=inbound.sender_address,
    )
    return intake.receive(actor=None, begleitdatei=begleit, attachments=rest, sender=sender)


def handle(inbound: kim_inbound.Inbound) -> None:
    """Registered handler for `1ClickAbrechnung;Lieferung;V2.0` (idempotent by mail)."""
    defaults = {
        "dienstkennung": inbound.dienstkennung[:200],
        "sender_address": inbound.sender_address[:254],
        "sender_telematik_id": inbound.signer_telematik_id[:128],
        "bsnr": inbound.signer_bsnr,
        "raw_path": inbound.raw_path,
        "message_id": inbound.message_id[:300],
    }
    KimDelivery.objects.get_or_create(
        account=inbound.account, store_key=inbound.key, defaults=defaults
    )
    with transaction.atomic():  # the row lock makes a second run of the task wait, then skip
        delivery = KimDelivery.objects.select_for_update().get(
            account=inbound.account, store_key=inbound.key
        )
        if delivery.state == DeliveryState.RECEIVED:
            result = take_over(inbound)
            if isinstance(result, intake.Refusal):
                delivery.state = DeliveryState.REFUSED
                delivery.refusal_code = result.code
                delivery.texts = list(result.texts)
            elif result.submission is None and result.test_run is None:  # eSE alone
                delivery.state = DeliveryState.ANSWERED  # the receipt is the whole answer
                delivery.sammelerklaerung = result.ese
                delivery.submission = result.ese.submission
                delivery.bsnr = result.ese.submission.betriebsstaette.bsnr
            else:
                delivery.state = DeliveryState.TAKEN
                delivery.submission = result.submission
                delivery.test_run = result.test_run
                delivery.sammelerklaerung = result.ese
                delivery.texts = list(result.notes)
                practice = (result.submission or result.test_run).betriebsstaette
                delivery.bsnr = practice.bsnr
            delivery.save()
    send_receipt(delivery.pk)
    send_feedback(delivery.pk)


# --- answers -----------------------------------------------------------------------------------


def _receipt(delivery: KimDelivery) -> tuple[str, str, list]:
    if delivery.state == DeliveryState.REFUSED:
        lines = [
            "Ihre 1-Click-Abrechnung wurde von der KV nicht angenommen.",
            "",
            *delivery.texts,
            "",
            "Es wurde nichts eingereicht. Bitte korrigieren Sie die Lieferung und senden Sie "
            "sie erneut oder laden Sie die Abrechnung im Portal hoch.",
        ]
        return "1-Click-Abrechnung: Lieferung abgelehnt", "\n".join(lines), []
    if delivery.state == DeliveryState.ANSWERED and delivery.sammelerklaerung_id:
        obj = delivery.sammelerklaerung
        sub = obj.submission
        lines = [
            f"Ihre elektronische Sammelerklärung „{obj.filename}“ für die Betriebsstätte "
            f"{sub.betriebsstaette.bsnr}, Quartal {sub.quarter_obj}, ist eingegangen.",
            "Die Erklärung zur Abrechnung ist damit abgegeben; sie bezieht sich auf die "
            f"angenommene Abrechnung „{sub.original_name}“ (Eingangsnummer {sub.pk}).",
        ]
        return "1-Click-Abrechnung: Sammelerklärung eingegangen", "\n".join(lines), []
    if delivery.test_run_id:
        run = delivery.test_run
        lines = [
            f"Ihre Testabrechnung „{run.original_name}“ für die Betriebsstätte "
            f"{run.betriebsstaette.bsnr}, Quartal {run.quarter_obj}, ist am "
            f"{timezone.localtime(run.created_at):%d.%m.%Y um %H:%M} Uhr eingegangen.",
            "Sie wird wie eine Abrechnung geprüft, aber nicht eingereicht. Das Prüfprotokoll "
            "erhalten Sie mit der Rückmeldung.",
        ]
        return "1-Click-Testabrechnung: Eingangsbestätigung", "\n".join(lines), []
    sub = delivery.submission
    lines = [
        f"Ihre Abrechnung „{sub.original_name}“ für die Betriebsstätte "
        f"{sub.betriebsstaette.bsnr}, Quartal {sub.quarter_obj}, ist am "
        f"{timezone.localtime(sub.received_at):%d.%m.%Y um %H:%M} Uhr über KIM eingegangen.",
        f"Eingangsnummer {sub.pk}, Größe {sub.size} Byte, SHA-256 {sub.sha256}.",
        "Die Empfangsbestätigung liegt als PDF bei. Das Ergebnis der Prüfung erhalten Sie "
        "mit der Rückmeldung.",
        *delivery.texts,
    ]
    if delivery.sammelerklaerung_id:
        lines.append(
            f"Die mitgesendete Sammelerklärung „{delivery.sammelerklaerung.filename}“ ist "
            "eingegangen; sie wird wirksam, sobald die Abrechnung angenommen ist."
        )
    from kvportal.billing.views import receipt_pdf_response

    pdf = receipt_pdf_response(sub).content
    name = f"Empfangsbestaetigung_{sub.betriebsstaette.bsnr}_{sub.quarter}_{sub.pk}.pdf"
    return (
        "1-Click-Abrechnung: Eingangsbestätigung",
        "\n".join(lines),
        [(name, "application/pdf", pdf)],
    )


def _delivery(delivery_id: int) -> KimDelivery:
    return KimDelivery.objects.select_related("submission", "test_run", "sammelerklaerung").get(
        pk=delivery_id
    )


def _answer(
    delivery: KimDelivery, step: str, dienstkennung: str, message: tuple[str, str, list]
) -> bool:
    """The answer `message` (subject, text, attachments) to the delivery's mail, once per
    `step` (the key of kim's outbox)."""
    subject, text, files = message
    return kim_inbound.answer(
        _inbound_of(delivery),
        key=f"oneclick:{delivery.pk}:{step}",
        dienstkennung=dienstkennung,
        subject=subject,
        text=text,
        attachments=files,
        bsnr=delivery.bsnr,
    )


def send_receipt(delivery_id: int) -> bool:
    """The `Eingangsbestaetigung` (once): receipt or the refusal texts."""
    delivery = _delivery(delivery_id)
    if delivery.receipt_sent_at is not None or delivery.state == DeliveryState.RECEIVED:
        return False
    sent = _answer(delivery, "receipt", EINGANGSBESTAETIGUNG, _receipt(delivery))
    if sent:
        KimDelivery.objects.filter(pk=delivery.pk).update(receipt_sent_at=timezone.now())
    return sent


def _check_done(delivery: KimDelivery) -> bool:
    if delivery.submission_id:
        return delivery.submission.is_done
    if delivery.test_run_id:
        return delivery.test_run.state == "done"
    return False


def _feedback(delivery: KimDelivery) -> tuple[str, str, list]:
    from kvportal.billing import messages
    from kvportal.billing.models import CHECK_STATUS_LABELS

    if delivery.test_run_id:
        run = delivery.test_run
        report = run.report or {}
        lines = [
            f"Prüfprotokoll Ihrer Testabrechnung „{run.original_name}“ "
            f"(BSNR {run.betriebsstaette.bsnr}, Quartal {run.quarter_obj}):",
            f"Prüfergebnis: {CHECK_STATUS_LABELS.get(run.check_status, run.check_status)}",
            f"Meldungen: {report.get('message_count', len(report.get('messages') or []))}",
        ]
        lines += _message_lines(report)
        lines.append("Die Testabrechnung wurde nicht eingereicht.")
        return "1-Click-Testabrechnung: Rückmeldung", "\n".join(lines), []
    sub = delivery.submission
    report = sub.report or {}
    lines = [
        f"Prüfprotokoll Ihrer Abrechnung „{sub.original_name}“ (BSNR "
        f"{sub.betriebsstaette.bsnr}, Quartal {sub.quarter_obj}, Eingangsnummer {sub.pk}):",
        f"Ergebnis: {sub.get_state_display()}",
    ]
    if sub.check_status is not None:
        lines.append(f"Prüfergebnis: {sub.check_status_label}")
    lines += [f"– {t}" for t in messages.texts(sub.problems or [])]
    lines += _message_lines(report)
    if delivery.sammelerklaerung_id:
        delivery.sammelerklaerung.refresh_from_db()
        lines.append(
            "Die Sammelerklärung ist damit abgegeben."
            if delivery.sammelerklaerung.declaration_id
            else "Die Sammelerklärung ist nicht wirksam geworden (die Abrechnung wurde nicht "
            "angenommen); bitte geben Sie sie mit der korrigierten Abrechnung erneut ab."
        )
    files = []
    if report or sub.problems:
        from kvportal.billing.views import protocol_pdf_response

        files.append(
            (
                f"Pruefprotokoll_{sub.betriebsstaette.bsnr}_{sub.quarter}_{sub.pk}.pdf",
                "application/pdf",
                protocol_pdf_response(sub).content,
            )
        )
    return "1-Click-Abrechnung: Rückmeldung", "\n".join(lines), files


def _message_lines(report: dict) -> list[str]:
    out = []
    for msg in (report.get("messages") or [])[:50]:
        text = msg.get("text") if isinstance(msg, dict) else str(msg)
        if text:
            out.append(f"– {text}")
    return out


def send_feedback(delivery_id: int) -> bool:
    """The `Rueckmeldung` with the protocol (once), when billing's check is done."""
    delivery = _delivery(delivery_id)
    if (
        delivery.state != DeliveryState.TAKEN
        or delivery.receipt_sent_at is None
        or delivery.feedback_sent_at is not None
        or not _check_done(delivery)
    ):
        return False
    sent = _answer(delivery, "feedback", RUECKMELDUNG, _feedback(delivery))
    if sent:
        KimDelivery.objects.filter(pk=delivery.pk).update(
            feedback_sent_at=timezone.now(), state=DeliveryState.ANSWERED
        )
    return sent


def check_done(kind: str, pk: int) -> None:
    """billing.hooks listener: answer the deliveries whose check has just finished."""
    field = {"submission": "submission_id", "test_run": "test_run_id"}.get(kind)
    if field is None:
        return
    for delivery_id in KimDelivery.objects.filter(
        **{field: pk}, feedback_sent_at__isnull=True
    ).values_list("pk", flat=True):
        send_feedback(delivery_id)


def recover_feedback(*, now: dt.datetime) -> int:
    """Recoverer: receipts and protocols a crash or a missing certificate left unsent."""
    count = 0
    open_ = KimDelivery.objects.exclude(state=DeliveryState.RECEIVED).filter(
        received_at__gte=now - dt.timedelta(days=30)
    )
    for delivery_id in open_.filter(receipt_sent_at__isnull=True).values_list("pk", flat=True):
        count += send_receipt(delivery_id)
    for delivery_id in open_.filter(
        state=DeliveryState.TAKEN, feedback_sent_at__isnull=True
    ).values_list("pk", flat=True):
        count += send_feedback(delivery_id)
    return count

# Initial KIM passwords, PINs and PUKs appear only in the rendered letter; nothing here stores them.
"""Letters of the KIM part: KIM credential letter (like seed 001's) and the SMC-B PIN letter."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from kvportal.core.pdf import render_pdf
from kvportal.kim.models import AccountKind
from kvportal.kim.services import IssuedCredentials, IssuedSmcb


def _kv() -> dict:
    return {
        "name": settings.KV_NAME,
        "address_lines": settings.KV_ARZTREGISTER_ADDRESS,
        "portal_url": settings.PORTAL_URL,
        "kim_host": settings.KIM_MAIL_HOST or f"mail.{settings.KIM_DOMAIN}",
    }


def credentials_pdf(issued: IssuedCredentials) -> bytes:
    account = issued.account
    practice = account.betriebsstaette if account.kind == AccountKind.PRACTICE else None
    if practice is not None:
        recipient = practice.name
        address_lines = practice.address_lines
    elif account.kind == AccountKind.SERVICE:  # the KV's own mailbox: its department
        recipient = f"{settings.KV_NAME} – {account.department or account.address}"
        address_lines = list(settings.KV_ARZTREGISTER_ADDRESS)
    else:
        recipient = account.person.full_name if account.person is not None else account.address
        address_lines = []
    letter = {
        "recipient_name": recipient,
        "address_lines": address_lines,
        "address": account.address,
        "reference_id": account.reference_id,
        "password": issued.password,
        "kind": account.get_kind_display(),
        "bsnr": practice.bsnr if practice else "",
        "data_time_to_live": account.data_time_to_live,
        "max_mail_size_mib": account.max_mail_size // (1024 * 1024),
        "issued_at": timezone.localtime(),
    }
    return render_pdf("kim/pdf/credentials.html", {"kv": _kv(), "letter": letter})


def pin_letter_pdf(issued: IssuedSmcb) -> bytes:
    card = issued.card
    practice = card.betriebsstaette
    letter = {
        "recipient_name": practice.name,
        "address_lines": practice.address_lines,
        "bsnr": practice.bsnr,
        "telematik_id": card.telematik_id,
        "iccsn": card.iccsn,
        "pin": issued.pin,
        "puk": issued.puk,
        "not_after": card.not_after,
        "issued_at": timezone.localtime(),
    }
    return render_pdf("kim/pdf/pin_letter.html", {"kv": _kv(), "letter": letter})

# Initial passwords appear only in the rendered letter; nothing here stores them.
"""The Praxispersonal credential letter, printed by the holder (same letter as the KV's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from kvportal.accounts.passwords import password_conventions
from kvportal.core.pdf import render_pdf

if TYPE_CHECKING:
    from kvportal.accounts.models import User


def praxispersonal_letter_pdf(*, holder: User, target: User, password: str) -> bytes:
    from kvportal.access.pdf import kv_context
    from kvportal.selfservice.services import holder_practices

    right = target.portal_rights.filter(betriebsstaette__in=holder_practices(holder)).first()
    if right is None:
        raise PermissionDenied("Dieses Konto gehört nicht zu Ihrer Praxis.")
    practice = right.betriebsstaette
    rights = [
        str(r.get_right_display()) for r in target.portal_rights.filter(betriebsstaette=practice)
    ]
    name = " ".join(p for p in (target.first_name, target.last_name) if p)
    letter = {
        "recipient_name": name,
        "salutation_name": name or target.username,
        "address_lines": [practice.name, *practice.address_lines],
        "practice_name": practice.name,
        "bsnr": practice.bsnr,
        "username": target.username,
        "password": password,
        "issued_at": timezone.localtime(),
        "valid_until": timezone.localtime(target.initial_password_expires_at)
        if target.initial_password_expires_at
        else None,
        "valid_days": settings.INITIAL_PASSWORD_VALIDITY_DAYS,
        "rights": rights,
        "reference": f"PP-{target.pk}-{timezone.localdate():%Y%m%d}",
    }
    return render_pdf(
        "access/pdf/credential_letter.html",
        {"kv": kv_context(), "password_rules": password_conventions(), "letter": letter},
        pdf_a=False,
    )

# Initial passwords appear only in the rendered letter; nothing here stores them.
"""PDF contexts and rendering: the application (paper layout + Zusatzblatt) and the letters."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from kvportal.access import rules
from kvportal.access.models import AccessApplication, Confirmation
from kvportal.access.services import IssuedLetter
from kvportal.accounts.constants import Right
from kvportal.accounts.passwords import password_conventions
from kvportal.core.pdf import render_pdf
from kvportal.members.models import Betriebsstaette


def kv_context() -> dict:
    return {
        "name": settings.KV_NAME,
        "address_lines": settings.KV_ARZTREGISTER_ADDRESS,
        "portal_url": settings.PORTAL_URL,
    }


def application_context(app: AccessApplication) -> dict:
    confirmations: dict[str, Confirmation] = {}
    conf: Confirmation | None
    for conf in app.confirmations.filter(
        confirmed_at__isnull=False, fingerprint=app.fingerprint
    ).order_by("confirmed_at"):
        confirmations.setdefault(conf.person_key, conf)
    signatories, rows = [], []
    for person in app.persons.all():
        data = person.to_rules()
        conf = confirmations.get(person.key) if app.fingerprint else None
        if data.role is not rules.Role.ARZT:
            signatories.append(
                {"role_label": person.role_label, "name": person.display_name, "confirmation": conf}
            )
        if rules.is_listed(data):
            rights = rules.effective_rights(data)
            rows.append(
                {
                    "lanr": person.lanr,
                    "name": person.display_name,
                    "role_label": person.role_label,
                    "billing": rules.Right.BILLING in rights,
                    "billing_auto": data.role is rules.Role.LEITER and not person.right_billing,
                    "docs_bsnr": rules.Right.DOCS_BSNR in rights,
                    "docs_lanr": rules.Right.DOCS_LANR in rights,
                    "confirmation": conf,
                }
            )
    variant = app.variant_enum
    return {
        "app": {
            "reference": app.reference,
            "practice_name": app.practice_name,
            "bsnr": app.bsnr,
            "traeger_name": app.traeger_name if variant is rules.Variant.MVZ else "",
            "variant_short": {"mvz": "MVZ", "bag": "BAG", "einzelpraxis": "Einzelpraxis"}[
                app.variant
            ],
            "practice_label": "Name des MVZ" if variant is rules.Variant.MVZ else "Name der Praxis",
            "notes_acknowledged_at": app.notes_acknowledged_at,
            "status_label": app.status_label,
        },
        "signatories": signatories,
        "rows": rows,
        "kv": kv_context(),
        "generated_at": timezone.localtime(),
    }


def application_pdf(app: AccessApplication) -> bytes:
    return render_pdf("access/pdf/application.html", application_context(app))


def _letter_context(issued: IssuedLetter) -> dict:
    letter, user = issued.letter, issued.letter.user
    practice = Betriebsstaette.objects.filter(bsnr=letter.bsnr).first()
    rights = []
    if practice is not None:
        held = set(
            user.portal_rights.filter(betriebsstaette=practice).values_list("right", flat=True)
        )
        rights = [str(Right(r).label) for r in Right.values if r in held]
    title = user.person.title if user.person is not None else ""  # no query without a person
    name = " ".join(p for p in (title, user.first_name, user.last_name) if p)
    days = settings.INITIAL_PASSWORD_VALIDITY_DAYS
    return {
        "recipient_name": name,
        "salutation_name": " ".join(p for p in (title, user.last_name) if p) or user.username,
        "address_lines": ([practice.name, *practice.address_lines] if practice else []),
        "practice_name": practice.name if practice else "",
        "bsnr": letter.bsnr,
        "username": user.username,
        "password": issued.password,
        "issued_at": timezone.localtime(letter.issued_at),
        "valid_until": timezone.localtime(letter.valid_until) if letter.valid_until else None,
        "valid_days": days,
        "rights": rights,
        "reference": letter.reference,
    }


def letters_pdf(issued: list[IssuedLetter]) -> bytes:
    """One letter → one PDF; several → one combined PDF for printing a batch."""
    letters = [_letter_context(i) for i in issued]
    common = {"kv": kv_context(), "password_rules": password_conventions()}
    if len(letters) == 1:
        return render_pdf("access/pdf/credential_letter.html", {**common, "letter": letters[0]})
    return render_pdf("access/pdf/credential_batch.html", {**common, "letters": letters})

"""A 1-Click delivery or eSE that arrived over KIM at the KV's service mailbox (issue 16)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DeliveryState(models.TextChoices):
    RECEIVED = "received", _("eingegangen")
    TAKEN = "taken", _("an die Abrechnung übergeben")
    REFUSED = "refused", _("abgelehnt")
    ANSWERED = "answered", _("Rückmeldung gesendet")


class KimDelivery(models.Model):
    """One mail of the service mailbox with what became of it; the raw mail stays in private
    storage (`raw_path`) for staff, whatever happened."""

    account = models.CharField(_("Funktionspostfach"), max_length=254)
    store_key = models.CharField(_("Maildir-Schlüssel"), max_length=200)
    received_at = models.DateTimeField(_("eingegangen am"), default=timezone.now)
    dienstkennung = models.CharField(_("Dienstkennung"), max_length=200)
    sender_address = models.CharField(_("Absender"), max_length=254, blank=True)
    sender_telematik_id = models.CharField(
        _("Telematik-ID des Signierenden"), max_length=128, blank=True
    )
    bsnr = models.CharField(_("BSNR"), max_length=9, blank=True)
    message_id = models.CharField(max_length=300, blank=True)
    raw_path = models.CharField(_("Rohnachricht"), max_length=300)
    state = models.CharField(
        _("Status"), max_length=10, choices=DeliveryState.choices, default=DeliveryState.RECEIVED
    )
    refusal_code = models.CharField(_("Ablehnungsgrund"), max_length=30, blank=True)
    texts = models.JSONField(_("Hinweise"), default=list, blank=True)
    submission = models.ForeignKey(
        "billing.Submission", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    test_run = models.ForeignKey(
        "billing.TestRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sammelerklaerung = models.ForeignKey(
        "oneclick.Sammelerklaerung",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    receipt_sent_at = models.DateTimeField(_("Eingangsbestätigung gesendet"), null=True, blank=True)
    feedback_sent_at = models.DateTimeField(_("Rückmeldung gesendet"), null=True, blank=True)

    class Meta:
        verbose_name = _("KIM-Lieferung")
        verbose_name_plural = _("KIM-Lieferungen")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "store_key"], name="oneclick_one_per_mail")
        ]

    def __str__(self) -> str:
        return f"{self.dienstkennung} {self.sender_address} ({self.received_at:%d.%m.%Y})"


class EseChannel(models.TextChoices):
    PORTAL = "portal", _("im Portal erzeugt")
    KIM = "kim", _("über KIM aus der Praxissoftware")


class Sammelerklaerung(models.Model):
    """An electronic Sammelerklärung (eSE) for an accepted submission: the XML (private
    storage) and, once a valid QES or KIM delivery gives it, the billing declaration."""

    submission = models.ForeignKey(
        "billing.Submission",
        verbose_name=_("Abrechnung"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    profile = models.CharField(_("KV-Profil"), max_length=2)
    lanr = models.CharField(_("LANR des Erklärenden"), max_length=9)
    channel = models.CharField(_("Weg"), max_length=10, choices=EseChannel.choices)
    xml_path = models.CharField(_("eSE (XML)"), max_length=300)
    xml_sha256 = models.CharField(_("SHA-256 der eSE"), max_length=64)
    filename = models.CharField(_("Dateiname"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("erzeugt am"), default=timezone.now)
    declaration = models.ForeignKey(
        "billing.Declaration", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: over KIM with its signed PDF rendering: the PDF (private storage) and the result of the
    #: QES re-check on receipt (signer, Telematik-ID, certificate, revocation status)
    qes_pdf_path = models.CharField(_("signiertes PDF"), max_length=300, blank=True)
    qes_evidence = models.JSONField(_("QES-Prüfung"), default=dict, blank=True)

    class Meta:
        verbose_name = _("Elektronische Sammelerklärung")
        verbose_name_plural = _("Elektronische Sammelerklärungen")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.filename

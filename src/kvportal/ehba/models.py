# Security (gematik IDP style, gemSpec_PKI GS-A_4958): a card is bound to the person by its
# Telematik-ID, never by the card serial; login challenges are single-use, short-lived and
# bound to one browser session. § 36a SGB I: QES verification reports are kept with the
# application they belong to.
"""eHBA registrations, login challenges, documents to sign and signature verification reports."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, DeviceManager


class Profession(models.TextChoices):
    ARZT = "arzt", _("Ärztin/Arzt")
    PSYCHOTHERAPEUT = "psychotherapeut", _("Psychotherapeut/in")


class RegistrationEnd(models.TextChoices):
    SUPERSEDED = "superseded", _("durch neue Karte ersetzt")
    REMOVED = "removed", _("vom Mitglied entfernt")
    STAFF = "staff", _("von der KV beendet")


class CardRegistrationManager(DeviceManager):
    def active(self):
        return self.filter(ended_at__isnull=True, confirmed=True)

    def devices_for_user(self, user, confirmed=None):
        """django_otp: only a registration the member asked to require after the password
        counts as "has a second factor"; every active one can still verify a card login."""
        return (
            super()
            .devices_for_user(user, confirmed=confirmed)
            .filter(ended_at__isnull=True, second_factor=True)
        )


class CardRegistration(Device):
    """A member's registered eHBA: Telematik-ID → person (and the account that registered it).

    A django_otp device, so a card login marks the session as verified (card + PIN).
    """

    person = models.ForeignKey(
        "members.Person",
        verbose_name=_("Person"),
        on_delete=models.PROTECT,
        related_name="ehba_registrations",
    )
    telematik_id = models.CharField(_("Telematik-ID"), max_length=128, db_index=True)
    profession = models.CharField(_("Beruf laut Karte"), max_length=20, choices=Profession.choices)
    holder_name = models.CharField(_("Karteninhaber"), max_length=200)
    card_serial = models.CharField(
        _("Kartennummer (zuletzt registriert)"), max_length=64, blank=True
    )
    certificate_fingerprint = models.CharField(_("Zertifikat (SHA-256)"), max_length=64)
    certificate_not_after = models.DateTimeField(_("Zertifikat gültig bis"), null=True)
    issuer = models.CharField(_("Aussteller"), max_length=200, blank=True)
    second_factor = models.BooleanField(
        _("eHBA als zweiten Faktor nach dem Passwort verlangen"), default=False
    )
    registered_at = models.DateTimeField(_("registriert am"), default=timezone.now)
    last_login_at = models.DateTimeField(_("zuletzt angemeldet"), null=True, blank=True)
    ended_at = models.DateTimeField(_("beendet am"), null=True, blank=True)
    end_reason = models.CharField(
        _("Grund der Beendigung"), max_length=20, choices=RegistrationEnd.choices, blank=True
    )

    objects = CardRegistrationManager()

    class Meta:
        verbose_name = _("eHBA-Registrierung")
        verbose_name_plural = _("eHBA-Registrierungen")
        ordering = ["-registered_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["telematik_id"],
                condition=Q(ended_at__isnull=True),
                name="ehba_one_active_registration_per_telematik_id",
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(ended_at__isnull=True),
                name="ehba_one_active_registration_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"eHBA {self.holder_name} ({self.telematik_id})"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None and self.confirmed

    def verify_token(self, token) -> bool:
        """No codes: an eHBA is verified by the signed challenge (see services)."""
        return False


class ChallengePurpose(models.TextChoices):
    LOGIN = "login", _("Anmeldung mit eHBA")
    SECOND_FACTOR = "second_factor", _("zweiter Faktor")
    REGISTER = "register", _("Registrierung")


class LoginChallenge(models.Model):
    """A challenge the card must sign; single use, bound to one browser session."""

    challenge_hash = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=20, choices=ChallengePurpose.choices)
    session_hash = models.CharField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    audience = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=40, blank=True)
    #: the plain challenge, set on the claimed row by ``services.challenges._claim_challenge``
    #: (annotation only: not a field, never stored)
    _challenge: str

    class Meta:
        verbose_name = _("Anmeldeanfrage (eHBA)")
        verbose_name_plural = _("Anmeldeanfragen (eHBA)")
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.created_at:%d.%m.%Y %H:%M:%S}"


class SignatureDocument(models.Model):
    """One portal-generated PDF of an application that has to be signed (QES).

    The original bytes are frozen when first prepared; each accepted upload becomes the
    current version (original + incremental signature revisions)."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    application = GenericForeignKey("content_type", "object_id")
    key = models.CharField(_("Kennung"), max_length=40)
    title = models.CharField(_("Dokument"), max_length=200)
    original_path = models.CharField(max_length=300)
    original_sha256 = models.CharField(_("Original (SHA-256)"), max_length=64)
    current_path = models.CharField(max_length=300)
    current_sha256 = models.CharField(_("aktuelle Fassung (SHA-256)"), max_length=64)
    signature_count = models.PositiveIntegerField(_("Signaturen"), default=0)
    complete = models.BooleanField(_("vollständig signiert"), default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("zu signierendes Dokument")
        verbose_name_plural = _("zu signierende Dokumente")
        ordering = ["content_type", "object_id", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id", "key"], name="ehba_signature_document_unique"
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def filename(self) -> str:
        return f"{self.key}.pdf"


class Verdict(models.TextChoices):
    VALID = "valid", _("gültig, vollständig")
    INCOMPLETE = "incomplete", _("gültig, aber Signaturen fehlen")
    INVALID = "invalid", _("ungültig")
    INDETERMINATE = "indeterminate", _("nicht abschließend prüfbar")


class VerificationReport(models.Model):
    """Prüfprotokoll of one uploaded signed PDF (kept with the application)."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    application = GenericForeignKey("content_type", "object_id")
    document = models.ForeignKey(
        SignatureDocument,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
    )
    document_title = models.CharField(_("Dokument"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("hochgeladen von"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("geprüft am"), default=timezone.now)
    signed_sha256 = models.CharField(_("geprüfte Datei (SHA-256)"), max_length=64)
    original_sha256 = models.CharField(_("Original (SHA-256)"), max_length=64)
    verdict = models.CharField(_("Ergebnis"), max_length=20, choices=Verdict.choices)
    complete = models.BooleanField(_("alle Signaturen vorhanden"), default=False)
    accepted = models.BooleanField(_("als aktuelle Fassung übernommen"), default=False)
    missing_signers = models.JSONField(_("fehlende Unterzeichner"), default=list, blank=True)
    problems = models.JSONField(_("Hinweise"), default=list, blank=True)
    raw = models.JSONField(_("Prüfbericht (vollständig)"), default=dict, blank=True)

    class Meta:
        verbose_name = _("Prüfprotokoll (QES)")
        verbose_name_plural = _("Prüfprotokolle (QES)")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.document_title} – {self.get_verdict_display()}"


class SignatureCheck(models.Model):
    """One signature inside a checked PDF: signer, time, certificate path, revocation, verdict."""

    report = models.ForeignKey(
        VerificationReport, on_delete=models.CASCADE, related_name="signatures"
    )
    position = models.PositiveIntegerField(default=0)
    field_name = models.CharField(_("Signaturfeld"), max_length=100, blank=True)
    signer_name = models.CharField(_("Unterzeichner"), max_length=200, blank=True)
    telematik_id = models.CharField(_("Telematik-ID"), max_length=128, blank=True)
    signing_time = models.DateTimeField(_("Signaturzeitpunkt"), null=True, blank=True)
    certificate_path = models.JSONField(_("Zertifikatspfad"), default=list, blank=True)
    certificate_fingerprint = models.CharField(max_length=64, blank=True)
    issuer = models.CharField(_("Aussteller"), max_length=200, blank=True)
    revocation_status = models.CharField(_("Sperrstatus"), max_length=20, blank=True)
    revoked_at = models.DateTimeField(_("gesperrt seit"), null=True, blank=True)
    revocation_source = models.CharField(_("Sperrprüfung durch"), max_length=200, blank=True)
    matched_signer = models.CharField(_("als"), max_length=200, blank=True)
    verdict = models.CharField(_("Ergebnis"), max_length=20)
    problems = models.JSONField(_("Hinweise"), default=list, blank=True)

    class Meta:
        verbose_name = _("Signaturprüfung")
        verbose_name_plural = _("Signaturprüfungen")
        ordering = ["report", "position"]

    def __str__(self) -> str:
        return f"{self.signer_name} – {self.verdict}"

# Seed 000 / KBV IT-Sicherheitsrichtlinie: users see and end their own sessions; a forgotten
# password is replaced only by a new credential letter by post (or an eHBA login).
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SessionRecord(models.Model):
    """One signed-in browser of a user (written at login, removed at logout/end)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="session_records"
    )
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(_("Angemeldet seit"), default=timezone.now)
    ip_address = models.GenericIPAddressField(_("IP-Adresse"), null=True, blank=True)
    browser = models.CharField(_("Browser"), max_length=100, blank=True)
    operating_system = models.CharField(_("Betriebssystem"), max_length=100, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("Sitzung")
        verbose_name_plural = _("Sitzungen")

    def __str__(self) -> str:
        return f"Sitzung seit {timezone.localtime(self.created_at):%d.%m.%Y %H:%M}"


class CredentialLetterRequest(models.Model):
    """ "Passwort vergessen": a request for a new credential letter by post."""

    created_at = models.DateTimeField(_("Eingegangen am"), default=timezone.now, db_index=True)
    username = models.CharField(_("Nutzername"), max_length=150)
    bsnr = models.CharField(_("BSNR"), max_length=9)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("Konto"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    handled_at = models.DateTimeField(_("Erledigt am"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("Erledigt von"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("Anforderung eines Zugangsbriefs")
        verbose_name_plural = _("Anforderungen von Zugangsbriefen")

    def __str__(self) -> str:
        return f"ZB-{self.pk}"


class EmailConfirmation(models.Model):
    """Issue 14: the user's e-mail address is confirmed by a secret link (core.confirmation,
    stored as SHA-256). Document notices go only to a confirmed address; the first
    confirmation switches the document notification on (default on)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_confirmation"
    )
    email = models.EmailField(_("E-Mail-Adresse, an die der Link ging"), blank=True)
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    codes_day = models.DateField(null=True, blank=True)
    codes_sent = models.PositiveSmallIntegerField(default=0)
    confirmed_email = models.EmailField(_("bestätigte E-Mail-Adresse"), blank=True)
    confirmed_at = models.DateTimeField(_("bestätigt am"), null=True, blank=True)
    notification_defaulted = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("E-Mail-Bestätigung")
        verbose_name_plural = _("E-Mail-Bestätigungen")

    def __str__(self) -> str:
        return f"E-Mail-Bestätigung {self.user_id}"

    def confirms(self, email: str) -> bool:
        return bool(self.confirmed_at and email and self.confirmed_email.lower() == email.lower())

"""Access log (seed 000, "Datenerhebung und Protokollierung"): every login, logout, activity,
submitted file, retrieved document and error, with full IP address, browser and OS.
Kept 31 days, then deleted (see `audit.retention`). Logging cannot be switched off."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Activity(models.TextChoices):
    LOGIN = "login", _("Anmeldung")
    LOGIN_FAILED = "login_failed", _("Fehlgeschlagene Anmeldung")
    LOGOUT = "logout", _("Abmeldung")
    IDLE_TIMEOUT = "idle_timeout", _("Automatische Abmeldung (Inaktivität)")
    LOCKED = "locked", _("Konto gesperrt")
    UNLOCKED = "unlocked", _("Konto entsperrt")
    PASSWORD_CHANGED = "password_changed", _("Passwort geändert")
    PASSWORD_ISSUED = "password_issued", _("Initialpasswort erzeugt")
    OTP_ENABLED = "otp_enabled", _("Zweiter Faktor eingerichtet")
    OTP_DISABLED = "otp_disabled", _("Zweiter Faktor entfernt")
    OTP_FAILED = "otp_failed", _("Falscher Sicherheitscode")
    ACCOUNT_CREATED = "account_created", _("Konto angelegt")
    ACCOUNT_CHANGED = "account_changed", _("Konto geändert")
    ACCOUNT_DISABLED = "account_disabled", _("Konto deaktiviert")
    RIGHT_GRANTED = "right_granted", _("Recht erteilt")
    RIGHT_REVOKED = "right_revoked", _("Recht entzogen")
    TOKEN_CREATED = "token_created", _("API-Zugang erstellt")
    TOKEN_REVOKED = "token_revoked", _("API-Zugang widerrufen")
    VIEW = "view", _("Ansicht")
    DOWNLOAD = "download", _("Abruf/Download")
    SUBMIT = "submit", _("Einreichung")
    CREATE = "create", _("Anlage")
    UPDATE = "update", _("Änderung")
    DELETE = "delete", _("Löschung")
    DECISION = "decision", _("Entscheidung")
    SIGN = "sign", _("Signatur")
    EXPORT = "export", _("Export")
    ERROR = "error", _("Fehler")
    STAFF_ACTION = "staff_action", _("Aktion der KV")
    ACCOUNT_ADMIN = "account_admin", _("Kontenverwaltung: Konto, Rollen, Rechte geändert")


class AccessLogEntry(models.Model):
    timestamp = models.DateTimeField(_("Zeitpunkt"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("Nutzer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    username = models.CharField(_("Nutzername"), max_length=150, blank=True)
    bsnr = models.CharField(_("BSNR"), max_length=9, blank=True, db_index=True)
    activity = models.CharField(_("Aktivität"), max_length=30, choices=Activity.choices)
    object_type = models.CharField(_("Objekttyp"), max_length=60, blank=True)
    object_id = models.CharField(_("Objekt-ID"), max_length=64, blank=True)
    object_repr = models.CharField(_("Objekt"), max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(_("IP-Adresse"), null=True, blank=True)
    browser = models.CharField(_("Browser"), max_length=100, blank=True)
    operating_system = models.CharField(_("Betriebssystem"), max_length=100, blank=True)
    user_agent = models.TextField(_("User-Agent"), blank=True)
    path = models.CharField(_("Adresse"), max_length=300, blank=True)
    detail = models.JSONField(_("Details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("Protokolleintrag")
        verbose_name_plural = _("Zugriffsprotokoll")
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["user", "-timestamp"]),
            models.Index(fields=["object_type", "object_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.timestamp:%d.%m.%Y %H:%M:%S} {self.username} {self.get_activity_display()}"

"""Users, portal rights per user × BSNR (seed 000 Zusatzblatt) and API tokens.

Security: passwords only as Argon2 hashes; initial passwords are one-time and expire
(seed 001); API tokens are stored as SHA-256 hashes and shown once."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kvportal.accounts.constants import AccountKind, ApiScope, Right


class User(AbstractUser):
    kind = models.CharField(
        _("Kontoart"), max_length=20, choices=AccountKind.choices, default=AccountKind.MEMBER
    )
    person = models.ForeignKey(
        "members.Person",
        verbose_name=_("Person im Arztregister"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
    )
    created_by = models.ForeignKey(
        "self",
        verbose_name=_("angelegt von"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="created_accounts",
    )
    must_change_password = models.BooleanField(_("Passwortänderung erforderlich"), default=False)
    initial_password_expires_at = models.DateTimeField(
        _("Initialpasswort gültig bis"), null=True, blank=True
    )
    first_password_change_at = models.DateTimeField(
        _("erste Passwortänderung"), null=True, blank=True
    )
    password_changed_at = models.DateTimeField(_("Passwort geändert"), null=True, blank=True)
    notify_by_email = models.BooleanField(
        _("Benachrichtigung über neue Dokumente per E-Mail"), default=False
    )

    class Meta:
        verbose_name = _("Nutzerkonto")
        verbose_name_plural = _("Nutzerkonten")

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.person is not None:  # no query without a person
            return self.person.full_name
        return self.get_full_name() or self.username

    @property
    def is_kv_staff(self) -> bool:
        return self.kind == AccountKind.STAFF

    @property
    def initial_password_expired(self) -> bool:
        return bool(
            self.must_change_password
            and self.initial_password_expires_at
            and self.initial_password_expires_at < timezone.now()
        )


class PortalRight(models.Model):
    """A user holds a right for a Betriebsstätte (seed 000: three rights per person)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="portal_rights")
    betriebsstaette = models.ForeignKey(
        "members.Betriebsstaette", on_delete=models.CASCADE, related_name="portal_rights"
    )
    right = models.CharField(_("Recht"), max_length=20, choices=Right.choices)
    granted_by = models.ForeignKey(
        User,
        verbose_name=_("erteilt von"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    granted_at = models.DateTimeField(_("erteilt am"), default=timezone.now)

    class Meta:
        verbose_name = _("Portalrecht")
        verbose_name_plural = _("Portalrechte")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "betriebsstaette", "right"], name="portal_right_unique"
            )
        ]
        indexes = [models.Index(fields=["user", "right", "betriebsstaette"])]

    def __str__(self) -> str:
        return f"{self.user} – {self.betriebsstaette.bsnr} – {self.get_right_display()}"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """Personal API token for practice software; acts with its holder's rights only."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("Bezeichnung"), max_length=100)
    prefix = models.CharField(_("Kennung"), max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(_("Bereiche"), default=list)
    created_at = models.DateTimeField(_("erstellt"), default=timezone.now)
    last_used_at = models.DateTimeField(_("zuletzt benutzt"), null=True, blank=True)
    expires_at = models.DateTimeField(_("gültig bis"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("widerrufen"), null=True, blank=True)

    class Meta:
        verbose_name = _("API-Zugang")
        verbose_name_plural = _("API-Zugänge")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def scope_labels(self) -> list[str]:
        return [str(ApiScope(s).label) for s in self.scopes if s in ApiScope.values]


def otp_required_for(user: User) -> bool:
    return user.is_kv_staff or settings.KVPORTAL_OTP_FOR_ALL


class PasswordHistory(models.Model):
    """Hashes of a user's previous passwords (BSI ORP.4: no reuse of recent passwords); only
    the last ``settings.PASSWORD_HISTORY_COUNT`` are kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(_("Passwort-Hash"), max_length=128)
    created_at = models.DateTimeField(_("ersetzt am"), default=timezone.now)

    class Meta:
        verbose_name = _("frühere Passwörter")
        verbose_name_plural = _("frühere Passwörter")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id} – {self.created_at:%Y-%m-%d}"

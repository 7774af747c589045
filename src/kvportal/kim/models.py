# Security: no private key and no message plaintext is stored here; initial passwords and PINs
# only as hashes (gemSpec_FD_KOMLE: the Fachdienst holds ciphertext only).
"""KIM in the portal: SMC-B orders and cards, KIM accounts, directory entries, mailbox index."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kvportal.kim import rules


class OrderState(models.TextChoices):
    REQUESTED = rules.OrderState.REQUESTED, _("beantragt, Prüfung durch die KV")
    CONFIRMED = rules.OrderState.CONFIRMED, _("Berechtigung bestätigt, Karte in Produktion")
    REFUSED = rules.OrderState.REFUSED, _("abgelehnt")
    ISSUED = rules.OrderState.ISSUED, _("ausgegeben, Freischaltung ausstehend")
    ACTIVATED = rules.OrderState.ACTIVATED, _("freigeschaltet")


class SmcbOrder(models.Model):
    """Order of a Praxisausweis (SMC-B); the KV as card issuer confirms the entitlement."""

    betriebsstaette = models.ForeignKey(
        "members.Betriebsstaette", on_delete=models.PROTECT, related_name="smcb_orders"
    )
    state = models.CharField(
        _("Status"), max_length=20, choices=OrderState.choices, default=OrderState.REQUESTED
    )
    # prefilled from the register, as confirmed by the applicant
    practice_name = models.CharField(_("Name der Praxis"), max_length=200)
    street = models.CharField(_("Straße und Hausnummer"), max_length=200)
    postal_code = models.CharField(_("PLZ"), max_length=5)
    city = models.CharField(_("Ort"), max_length=100)
    contact_email = models.EmailField(_("E-Mail für Rückfragen"))
    telematik_id = models.CharField(_("Telematik-ID"), max_length=128)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("beantragt am"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("entschieden am"), null=True, blank=True)
    refusal_reason = models.TextField(_("Ablehnungsgrund"), blank=True)

    class Meta:
        verbose_name = _("SMC-B-Bestellung")
        verbose_name_plural = _("SMC-B-Bestellungen")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["betriebsstaette"],
                condition=Q(state__in=["requested", "confirmed", "issued"]),
                name="kim_one_open_smcb_order",
            )
        ]

    def __str__(self) -> str:
        return f"SMC-B {self.betriebsstaette.bsnr} ({self.get_state_display()})"

    @property
    def bsnr(self) -> str:
        return self.betriebsstaette.bsnr


class SmcbCard(models.Model):
    """An issued (software) SMC-B: certificates, ICCSN, PIN.SMC/PUK counters (hashes only)."""

    order = models.OneToOneField(SmcbOrder, on_delete=models.PROTECT, related_name="card")
    betriebsstaette = models.ForeignKey(
        "members.Betriebsstaette", on_delete=models.PROTECT, related_name="smcb_cards"
    )
    telematik_id = models.CharField(_("Telematik-ID"), max_length=128, db_index=True)
    iccsn = models.CharField(_("Kartennummer (ICCSN)"), max_length=20, unique=True)
    holder_name = models.CharField(_("Inhaber"), max_length=200)
    cert_aut = models.TextField(_("C.HCI.AUT (PEM)"))
    cert_enc = models.TextField(_("C.HCI.ENC (PEM)"))
    cert_osig = models.TextField(_("C.HCI.OSIG (PEM)"))
    not_after = models.DateTimeField(_("gültig bis"))
    #: the software card (keys encrypted with the transport PIN) in private storage
    card_file = models.CharField(max_length=300)
    pin_hash = models.CharField(max_length=200)
    puk_hash = models.CharField(max_length=200)
    pin_tries_left = models.PositiveSmallIntegerField(
        _("PIN-Versuche übrig"), default=rules.PIN_TRIES
    )
    puk_uses_left = models.PositiveSmallIntegerField(
        _("PUK-Nutzungen übrig"), default=rules.PUK_USES
    )
    issued_at = models.DateTimeField(_("ausgegeben am"), default=timezone.now)
    activated_at = models.DateTimeField(_("freigeschaltet am"), null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(_("gesperrt am"), null=True, blank=True)

    class Meta:
        verbose_name = _("SMC-B")
        verbose_name_plural = _("SMC-B")
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"SMC-B {self.iccsn} ({self.telematik_id})"

    @property
    def counter(self) -> rules.PinCounter:
        return rules.PinCounter(self.pin_tries_left, self.puk_uses_left)

    @property
    def is_active(self) -> bool:
        return bool(self.activated_at and not self.revoked_at and self.not_after > timezone.now())


class AccountKind(models.TextChoices):
    PRACTICE = "practice", _("Praxis (SMC-B)")
    PERSON = "person", _("persönlich (eHBA)")
    #: a service mailbox of the KV itself (e.g. its billing address): no practice, no person,
    #: created by KV staff or configuration only, never in a member's scope; its directory
    #: entry is an Organization of the KV (`KimAccount.service_entry`)
    SERVICE = "service", _("Funktionspostfach der KV")


class AccountState(models.TextChoices):
    REQUESTED = rules.AccountState.REQUESTED, _("beantragt")
    REGISTERED = rules.AccountState.REGISTERED, _("registriert")
    DEREGISTERING = rules.AccountState.DEREGISTERING, _("gekündigt, Übergangsfrist läuft")
    DEREGISTERED = rules.AccountState.DEREGISTERED, _("abgemeldet")
    REFUSED = rules.AccountState.REFUSED, _("abgelehnt")


class KimAccount(models.Model):
    """A KIM mail account at the KV's Fachdienst (AccountManager.yaml Account + AccountLimit)."""

    kind = models.CharField(_("Art"), max_length=10, choices=AccountKind.choices)
    betriebsstaette = models.ForeignKey(
        "members.Betriebsstaette",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="kim_accounts",
    )
    person = models.ForeignKey(
        "members.Person",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="kim_accounts",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("Inhaber (persönliches Postfach)"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="kim_accounts",
    )
    smcb = models.ForeignKey(
        SmcbCard, null=True, blank=True, on_delete=models.SET_NULL, related_name="kim_accounts"
    )
    #: the KV's Organization entry a service mailbox belongs to (kind SERVICE only)
    service_entry = models.ForeignKey(
        "kim.DirectoryEntry",
        verbose_name=_("Verzeichniseintrag der KV"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="service_accounts",
    )
    address = models.CharField(_("KIM-Adresse"), max_length=254, unique=True)
    state = models.CharField(
        _("Status"), max_length=20, choices=AccountState.choices, default=AccountState.REQUESTED
    )
    reference_id = models.CharField(
        _("Referenz-ID"), max_length=64, unique=True, null=True, blank=True
    )
    password_hash = models.CharField(max_length=200, blank=True)
    must_change_password = models.BooleanField(default=True)
    department = models.CharField(_("Abteilung/Bereich"), max_length=200, blank=True)
    description = models.CharField(_("Beschreibung"), max_length=300, blank=True)
    max_mail_size = models.BigIntegerField(
        _("maximale Mailgröße (Byte)"), default=rules.MAX_MAIL_SIZE_MIN
    )
    data_time_to_live = models.PositiveSmallIntegerField(
        _("Aufbewahrung (Tage)"), default=rules.DATA_TTL_DEFAULT
    )
    quota = models.BigIntegerField(
        _("Speicherkontingent (Byte, -1 = unbegrenzt)"), default=rules.DEFAULT_QUOTA
    )
    out_of_office_active = models.BooleanField(_("Abwesenheitsnotiz aktiv"), default=False)
    out_of_office_start = models.DateTimeField(_("abwesend ab"), null=True, blank=True)
    out_of_office_end = models.DateTimeField(_("abwesend bis"), null=True, blank=True)
    out_of_office_message = models.TextField(_("Abwesenheitsnotiz"), max_length=2048, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(_("beantragt am"), default=timezone.now)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    registered_at = models.DateTimeField(_("registriert am"), null=True, blank=True)
    deregistered_at = models.DateTimeField(_("gekündigt am"), null=True, blank=True)
    deregistration_date = models.DateTimeField(_("nutzbar bis"), null=True, blank=True)
    refusal_reason = models.TextField(_("Ablehnungsgrund"), blank=True)

    class Meta:
        verbose_name = _("KIM-Konto")
        verbose_name_plural = _("KIM-Konten")
        ordering = ["address"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="practice")
                    & Q(betriebsstaette__isnull=False)
                    & Q(service_entry__isnull=True)
                )
                | (Q(kind="person") & Q(person__isnull=False) & Q(service_entry__isnull=True))
                | (
                    Q(kind="service")
                    & Q(betriebsstaette__isnull=True)
                    & Q(person__isnull=True)
                    & Q(owner__isnull=True)
                    & Q(service_entry__isnull=False)
                ),
                name="kim_account_holder",
            ),
            models.CheckConstraint(
                condition=Q(data_time_to_live__gte=rules.DATA_TTL_MIN)
                & Q(data_time_to_live__lte=rules.DATA_TTL_MAX),
                name="kim_account_ttl_range",
            ),
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def bsnr(self) -> str:
        return self.betriebsstaette.bsnr if self.betriebsstaette is not None else ""

    @property
    def limits(self) -> rules.Limits:
        return rules.Limits(self.max_mail_size, self.data_time_to_live, self.quota)

    def usable(self, now=None) -> bool:
        return rules.account_usable(self.state, self.deregistration_date, now or timezone.now())


class EntryKind(models.TextChoices):
    ORGANIZATION = "organization", _("Praxis/Einrichtung")
    PRACTITIONER = "practitioner", _("Ärztin/Arzt, Psychotherapeut/-in")


class DirectoryEntry(models.Model):
    """An entry of the KIM directory (VZD base entry), written by the KV as card issuer."""

    kind = models.CharField(_("Art"), max_length=20, choices=EntryKind.choices)
    betriebsstaette = models.ForeignKey(
        "members.Betriebsstaette",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="directory_entries",
    )
    person = models.ForeignKey(
        "members.Person",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="directory_entries",
    )
    telematik_id = models.CharField(_("Telematik-ID"), max_length=128, db_index=True)
    display_name = models.CharField(_("Anzeigename"), max_length=200)
    title = models.CharField(_("Titel"), max_length=50, blank=True)
    given_name = models.CharField(_("Vorname"), max_length=100, blank=True)
    family_name = models.CharField(_("Nachname"), max_length=100, blank=True)
    organization = models.CharField(_("Praxis"), max_length=200, blank=True)
    street = models.CharField(_("Straße"), max_length=200, blank=True)
    postal_code = models.CharField(_("PLZ"), max_length=5, blank=True)
    city = models.CharField(_("Ort"), max_length=100, blank=True)
    specialty = models.CharField(_("Fachgebiet"), max_length=200, blank=True)
    department = models.CharField(_("Abteilung/Bereich"), max_length=200, blank=True)
    description = models.CharField(_("Beschreibung"), max_length=300, blank=True)
    enc_certificate = models.TextField(_("Verschlüsselungszertifikat (PEM)"), blank=True)
    enc_not_after = models.DateTimeField(_("Zertifikat gültig bis"), null=True, blank=True)
    consent_at = models.DateTimeField(_("Einwilligung am"), null=True, blank=True)
    consent_revoked_at = models.DateTimeField(
        _("Einwilligung widerrufen am"), null=True, blank=True
    )
    active = models.BooleanField(_("aktiv"), default=True)
    changed_at = models.DateTimeField(_("geändert am"), default=timezone.now)
    #: number of the entry's current version (DirectoryEntryVersion); each change adds one
    version = models.PositiveIntegerField(_("Version"), default=0)

    class Meta:
        verbose_name = _("Verzeichniseintrag")
        verbose_name_plural = _("Verzeichniseinträge")
        ordering = ["display_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["betriebsstaette"],
                condition=Q(kind="organization"),
                name="kim_one_entry_per_practice",
            ),
            models.UniqueConstraint(
                fields=["person"], condition=Q(kind="practitioner"), name="kim_one_entry_per_person"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.telematik_id})"

    @property
    def published(self) -> bool:
        """Practices always (card issuer's entry); doctors only with consent not revoked."""
        if not self.active:
            return False
        if self.kind == EntryKind.PRACTITIONER:
            return bool(self.consent_at and not self.consent_revoked_at)
        return True


class DirectoryEntryVersion(models.Model):
    """One version of a directory entry: what it looked like after a change, who made it."""

    entry = models.ForeignKey(DirectoryEntry, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField(_("Version"))
    change = models.CharField(_("Änderung"), max_length=40)
    changed_at = models.DateTimeField(_("geändert am"), default=timezone.now)
    changed_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(_("Stand"), default=dict)

    class Meta:
        verbose_name = _("Version eines Verzeichniseintrags")
        verbose_name_plural = _("Versionen von Verzeichniseinträgen")
        ordering = ["entry", "version"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "version"], name="kim_entry_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.entry_id} v{self.version}"


class Folder(models.TextChoices):
    INBOX = "inbox", _("Posteingang")
    SENT = "sent", _("Gesendet")
    TRASH = "trash", _("Gelöscht")


class StoredMessage(models.Model):
    """Index of one KOM-LE message in a mailbox: ciphertext in private storage, only the
    outer (unencrypted) header data here — the KV never reads the content."""

    account = models.ForeignKey(KimAccount, on_delete=models.CASCADE, related_name="messages")
    folder = models.CharField(
        _("Ordner"), max_length=10, choices=Folder.choices, default=Folder.INBOX
    )
    sender = models.CharField(_("Absender"), max_length=254)
    recipients = models.JSONField(_("Empfänger"), default=list)
    dienstkennung = models.CharField(
        _("Dienstkennung"), max_length=200, default="KIM-Mail;Default;V1.0"
    )
    message_id = models.CharField(max_length=300, blank=True)
    #: Maildir key in the Fachdienst store (`kim serve --store`, KIM_STORE_DIR), if any
    store_uid = models.CharField(max_length=200, blank=True, db_index=True)
    size = models.PositiveBigIntegerField(_("Größe"), default=0)
    path = models.CharField(max_length=300)
    received_at = models.DateTimeField(_("eingegangen"), default=timezone.now, db_index=True)
    read_at = models.DateTimeField(_("gelesen"), null=True, blank=True)
    deleted_at = models.DateTimeField(_("gelöscht"), null=True, blank=True)

    class Meta:
        verbose_name = _("KIM-Nachricht")
        verbose_name_plural = _("KIM-Nachrichten")
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["account", "folder", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.sender} → {self.account.address} ({self.received_at:%d.%m.%Y})"

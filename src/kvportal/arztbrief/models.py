# Art. 5 (1) c DSGVO (data minimisation): the plain letter (PDF, CDA) is kept only until it is sent;
# what stays are hashes, the Prüfprotokoll and the counts for GOP 86900/86901.
"""eArztbrief: letters written or uploaded in the portal, signing batches, receipts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class State(models.TextChoices):
    ENTWURF = "entwurf", _("Entwurf – noch nicht signiert")
    SIGNIERT = "signiert", _("qualifiziert signiert – bereit zum Versand")
    VERSANDT = "versandt", _("über KIM versandt")


class Arztbrief(models.Model):
    """One letter of one doctor (author, LANR) from one practice mailbox to one or more KIM
    addresses (`empfaenger`; `recipient_*` is the first of them, for lists)."""

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="arztbriefe"
    )
    person = models.ForeignKey(
        "members.Person", on_delete=models.PROTECT, related_name="arztbriefe"
    )
    lanr = models.CharField(_("LANR"), max_length=9, db_index=True)
    betriebsstaette = models.ForeignKey(
        "members.Betriebsstaette", on_delete=models.PROTECT, related_name="arztbriefe"
    )
    sender = models.ForeignKey(
        "kim.KimAccount", on_delete=models.PROTECT, related_name="arztbriefe_gesendet"
    )
    recipient_address = models.CharField(_("Empfänger (KIM-Adresse)"), max_length=254)
    recipient_name = models.CharField(_("Empfänger"), max_length=300, blank=True)
    #: the receiving practice (BSNR) as known from the KIM account; GOP 86900 is per practice
    recipient_bsnr = models.CharField(_("Empfänger-BSNR"), max_length=9, blank=True)
    #: shown in lists; never patient data (the form says so)
    title = models.CharField(_("Bezeichnung"), max_length=120)
    source = models.CharField(
        max_length=10,
        choices=[("portal", _("im Portal geschrieben")), ("upload", _("hochgeladen"))],
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.ENTWURF)
    #: plain content in private storage, emptied once sent or purged
    pdf_path = models.CharField(max_length=300, blank=True)
    pdf_sha256 = models.CharField(max_length=64)
    cda_path = models.CharField(max_length=300, blank=True)
    cda_name = models.CharField(max_length=120, blank=True)
    mappe = models.ForeignKey(
        "Briefmappe", null=True, blank=True, on_delete=models.SET_NULL, related_name="briefe"
    )
    #: SHA-256 of the signed PDF and the portal's Prüfprotokoll of its QES
    signed_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    #: SHA-256 of the signed byte ranges of the QES (PAdES messageDigest): the letter's identity
    #: shared with the client-module path (`Nachweis.digest`), so that no letter counts twice
    qes_digest = models.CharField(max_length=64, blank=True, db_index=True)
    report = models.ForeignKey(
        "ehba.VerificationReport",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    signer_name = models.CharField(max_length=200, blank=True)
    kim_message = models.ForeignKey(
        "kim.StoredMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mail_message_id = models.CharField(max_length=300, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    signed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    content_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("eArztbrief")
        verbose_name_plural = _("eArztbriefe")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"eArztbrief {self.pk} ({self.lanr} → {self.recipient_address})"

    @property
    def has_content(self) -> bool:
        return bool(self.pdf_path)


class Empfaenger(models.Model):
    """One recipient (KIM address) of a letter. GOP 86900 is „je Empfänger-Praxis“: of several
    addresses of one receiving practice only the first counts (`counted`); a mailbox of the
    author's own practice never counts."""

    letter = models.ForeignKey(Arztbrief, on_delete=models.CASCADE, related_name="empfaenger")
    address = models.CharField(_("KIM-Adresse"), max_length=254)
    name = models.CharField(_("Empfänger"), max_length=300, blank=True)
    bsnr = models.CharField(_("Empfänger-BSNR"), max_length=9, blank=True)
    #: the receiving practice: its BSNR when the address is a portal mailbox, else the address
    practice_key = models.CharField(_("Empfänger-Praxis"), max_length=254)
    counted = models.BooleanField(_("zählt für GOP 86900"), default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("Empfänger eines eArztbriefs")
        verbose_name_plural = _("Empfänger eines eArztbriefs")
        ordering = ["letter", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["letter", "address"], name="arztbrief_empfaenger_once_per_letter"
            ),
            models.UniqueConstraint(
                fields=["letter", "practice_key"],
                condition=models.Q(counted=True),
                name="arztbrief_empfaenger_counted_once_per_practice",
            ),
        ]

    def __str__(self) -> str:
        return self.address


class Briefmappe(models.Model):
    """A signing batch: up to SSEC letters of one author signed with one PIN.QES entry."""

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="briefmappen"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("Signaturmappe")
        verbose_name_plural = _("Signaturmappen")

    def __str__(self) -> str:
        return f"Signaturmappe {self.pk}"


class Empfang(models.Model):
    """A letter received over the portal's KIM, with the QES result (counted for 86901)."""

    message = models.OneToOneField(
        "kim.StoredMessage", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: the receiving mailbox's message index id (kept when the message is purged)
    message_pk = models.PositiveBigIntegerField(unique=True)
    account = models.ForeignKey(
        "kim.KimAccount", on_delete=models.PROTECT, related_name="arztbrief_empfaenge"
    )
    betriebsstaette = models.ForeignKey(
        "members.Betriebsstaette", null=True, on_delete=models.PROTECT, related_name="+"
    )
    person = models.ForeignKey("members.Person", on_delete=models.PROTECT, related_name="+")
    lanr = models.CharField(_("LANR"), max_length=9, db_index=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    sender_address = models.CharField(max_length=254)
    sha256 = models.CharField(max_length=64)
    letter = models.ForeignKey(
        Arztbrief, null=True, blank=True, on_delete=models.SET_NULL, related_name="empfaenge"
    )
    valid_qes = models.BooleanField(default=False)
    verdict = models.CharField(max_length=200)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    confirmation_sent = models.BooleanField(default=False)
    #: GOP 86901 once per letter and receiving practice: a copy of the same letter received in
    #: a second mailbox of the practice is recorded (valid QES) but does not count again
    counted = models.BooleanField(_("zählt für GOP 86901"), default=True)

    class Meta:
        verbose_name = _("empfangener eArztbrief")
        verbose_name_plural = _("empfangene eArztbriefe")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"Empfang {self.message_pk} ({self.lanr})"


class Richtung(models.TextChoices):
    VERSAND = "versand", _("versandt")
    EMPFANG = "empfang", _("empfangen")


class Nachweis(models.Model):
    """A QES proof reported by a client module (practice software path): one letter (digest of
    the signed byte ranges) per direction and receiving practice; no content."""

    richtung = models.CharField(max_length=10, choices=Richtung.choices)
    #: SHA-256 (hex) of the signed byte ranges of the PAdES signature (messageDigest)
    digest = models.CharField(max_length=64)
    #: the receiving practice: its BSNR when the address is a portal mailbox, else the address
    recipient_key = models.CharField(_("Empfänger-Praxis"), max_length=254)
    recipient_addresses = models.JSONField(_("Empfänger (KIM-Adressen)"), default=list)
    sender_address = models.CharField(_("Absender (KIM-Adresse)"), max_length=254)
    #: the counted doctor: the signer (versand) or the receiving doctor (empfang)
    person = models.ForeignKey("members.Person", on_delete=models.PROTECT, related_name="+")
    lanr = models.CharField(_("LANR"), max_length=9, db_index=True)
    betriebsstaette = models.ForeignKey(
        "members.Betriebsstaette", on_delete=models.PROTECT, related_name="+"
    )
    signer_name = models.CharField(max_length=200)
    signer_telematik_id = models.CharField(max_length=128, blank=True)
    certificate_fingerprint = models.CharField(max_length=64)
    signing_time = models.DateTimeField(null=True, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reported_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("QES-Nachweis (Clientmodul)")
        verbose_name_plural = _("QES-Nachweise (Clientmodul)")
        ordering = ["-reported_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["richtung", "digest", "recipient_key"],
                name="arztbrief_nachweis_once_per_letter_and_practice",
            )
        ]

    def __str__(self) -> str:
        return f"Nachweis {self.richtung} {self.digest[:12]} → {self.recipient_key}"

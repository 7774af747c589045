# Seed 000/001: every named person confirms; initial passwords are stored hashed only.
"""Online applications for portal access, their confirmations and the credential letters."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from . import rules

VARIANT_CHOICES = [(v.value, rules.VARIANT_LABELS[v]) for v in rules.Variant]
ROLE_CHOICES = [(r.value, rules.ROLE_LABELS[r]) for r in rules.Role]
STATUS_CHOICES = [(s.value, rules.STATUS_LABELS[s]) for s in rules.Status]


class AccessApplication(models.Model):
    reference = models.CharField(_("Antragsnummer"), max_length=20, unique=True)
    variant = models.CharField(_("Praxisform"), max_length=20, choices=VARIANT_CHOICES)
    status = models.CharField(
        _("Status"), max_length=20, choices=STATUS_CHOICES, default=rules.Status.ENTWURF.value
    )
    practice_name = models.CharField(_("Name der Praxis / des MVZ"), max_length=200, blank=True)
    bsnr = models.CharField(_("BSNR"), max_length=9, blank=True, db_index=True)
    traeger_name = models.CharField(_("Träger"), max_length=200, blank=True)
    contact_email = models.EmailField(_("E-Mail für Statusmitteilungen"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="access_applications",
    )
    # SHA-256 of the secret draft token (the link holds the token itself).
    draft_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    # Nonce of the form that created the application: a double POST creates one application.
    creation_nonce = models.CharField(max_length=64, unique=True, null=True, blank=True)
    notes_acknowledged_at = models.DateTimeField(null=True, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    flags = models.JSONField(default=list, blank=True)
    staff_message = models.TextField(_("Begründung / Hinweis der KV"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    sent_for_confirmation_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("Antrag auf Online-Zugang")
        verbose_name_plural = _("Anträge auf Online-Zugang")

    def __str__(self) -> str:
        return self.reference

    @property
    def status_enum(self) -> rules.Status:
        return rules.Status(self.status)

    @property
    def variant_enum(self) -> rules.Variant:
        return rules.Variant(self.variant)

    @property
    def status_label(self) -> str:
        return rules.STATUS_LABELS[self.status_enum]

    @property
    def is_editable(self) -> bool:
        return self.status_enum in rules.EDITABLE

    def to_rules(self) -> rules.ApplicationData:
        return rules.ApplicationData(
            variant=self.variant_enum,
            practice_name=self.practice_name,
            bsnr=self.bsnr,
            traeger_name=self.traeger_name,
            persons=tuple(p.to_rules() for p in self.persons.all()),
        )


class ApplicationPerson(models.Model):
    application = models.ForeignKey(
        AccessApplication, on_delete=models.CASCADE, related_name="persons"
    )
    position = models.PositiveSmallIntegerField(default=0)
    role = models.CharField(_("Funktion"), max_length=20, choices=ROLE_CHOICES)
    last_name = models.CharField(_("Nachname"), max_length=100, blank=True)
    first_name = models.CharField(_("Vorname"), max_length=100, blank=True)
    email = models.EmailField(_("E-Mail"), blank=True)
    lanr = models.CharField(_("LANR"), max_length=9, blank=True)
    listed = models.BooleanField(_("Zugang beantragt"), default=True)
    right_billing = models.BooleanField(_("Abgabe der Abrechnung"), default=False)
    right_docs_bsnr = models.BooleanField(_("Alle Dokumente der BSNR"), default=False)
    right_docs_lanr = models.BooleanField(_("Nur arztbezogene Dokumente"), default=False)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Konto, das bei der Genehmigung angelegt oder ergänzt wurde."),
    )

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return f"{self.last_name}, {self.first_name}".strip(", ")

    @property
    def role_label(self) -> str:
        return rules.ROLE_LABELS[rules.Role(self.role)]

    @property
    def rights(self) -> frozenset[rules.Right]:
        result = set()
        if self.right_billing:
            result.add(rules.Right.BILLING)
        if self.right_docs_bsnr:
            result.add(rules.Right.DOCS_BSNR)
        if self.right_docs_lanr:
            result.add(rules.Right.DOCS_LANR)
        return frozenset(result)

    def to_rules(self) -> rules.Person:
        return rules.Person(
            role=rules.Role(self.role),
            last_name=self.last_name,
            first_name=self.first_name,
            email=self.email,
            lanr=self.lanr,
            listed=self.listed,
            rights=self.rights,
        )

    @property
    def key(self) -> str:
        return rules.person_key(self.to_rules())


class Confirmation(models.Model):
    """One person's confirmation of one exact content (fingerprint) of an application."""

    class Method(models.TextChoices):
        EMAIL_CODE = "email_code", _("Einmalcode per E-Mail")
        LOGIN = "login", _("Anmeldung im Portal")
        QES = "qes", _("Qualifizierte elektronische Signatur (eHBA)")

    application = models.ForeignKey(
        AccessApplication, on_delete=models.CASCADE, related_name="confirmations"
    )
    # SET_NULL: rows are rewritten on each save; validity rests on person_key + fingerprint.
    person = models.ForeignKey(
        ApplicationPerson,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="confirmations",
    )
    person_key = models.CharField(max_length=120)
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=20, choices=Method.choices, blank=True)
    # Secret link token (hashed) sent by e-mail; opens the confirmation page.
    token_hash = models.CharField(max_length=64, unique=True)
    # One-time code (hashed), sent in the same e-mail; typed in on the confirmation page.
    code_hash = models.CharField(max_length=128, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    #: issue 11: number of requested mails (first send + resends); part of the delivery key
    sends_requested = models.PositiveIntegerField(default=1)
    #: core.confirmation limits: last code sent, codes sent on `codes_day` (local date)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    codes_day = models.DateField(null=True, blank=True)
    codes_sent = models.PositiveSmallIntegerField(default=0)
    requested_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    evidence = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.application} / {self.person}"

    @property
    def current_person(self) -> ApplicationPerson | None:
        """The row this confirmation belongs to (rows are rewritten when a draft is saved)."""
        if self.person_id:
            return self.person
        for person in self.application.persons.all():
            if person.key == self.person_key:
                return person
        return None

    @property
    def method_label(self) -> str:
        return self.get_method_display() if self.method else ""


class CredentialLetter(models.Model):
    """A printed "Zugangsdaten" letter. The password itself is never stored here."""

    reference = models.CharField(max_length=20, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credential_letters"
    )
    application = models.ForeignKey(
        AccessApplication,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="letters",
    )
    bsnr = models.CharField(max_length=9, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    valid_until = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_pending(self) -> bool:
        """Approved but not yet printed (no password issued yet)."""
        return self.issued_at is None and self.superseded_at is None

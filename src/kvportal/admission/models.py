# § 43 Ärzte-ZV: committee files are kept 5 years, Beschlüsse 20 years; § 36a Abs. 2b SGB I:
# review before submitting and a copy afterwards; files live in private storage only;
# the signatory link token is stored only as its SHA-256.
"""Applications to the Zulassungsausschuss, their signatories, confirmations, committee
sessions, Nachforderungen and history."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kvportal.admission.rules.definitions import BEZIRKE, COMMITTEES, ApplicationType
from kvportal.admission.rules.lifecycle import STATE_LABELS, State
from kvportal.admission.rules.types import REGISTRY


class ApplicationState(models.TextChoices):
    ENTWURF = State.ENTWURF.value, STATE_LABELS[State.ENTWURF]
    EINGEREICHT = State.EINGEREICHT.value, STATE_LABELS[State.EINGEREICHT]
    VOLLSTAENDIG = State.VOLLSTAENDIG.value, STATE_LABELS[State.VOLLSTAENDIG]
    NACHFORDERUNG = State.NACHFORDERUNG.value, STATE_LABELS[State.NACHFORDERUNG]
    GEBUEHR_ANGEFORDERT = State.GEBUEHR_ANGEFORDERT.value, STATE_LABELS[State.GEBUEHR_ANGEFORDERT]
    GEBUEHR_BEZAHLT = State.GEBUEHR_BEZAHLT.value, STATE_LABELS[State.GEBUEHR_BEZAHLT]
    GEBUEHR_GESTUNDET = State.GEBUEHR_GESTUNDET.value, STATE_LABELS[State.GEBUEHR_GESTUNDET]
    TERMINIERT = State.TERMINIERT.value, STATE_LABELS[State.TERMINIERT]
    GENEHMIGT = State.GENEHMIGT.value, STATE_LABELS[State.GENEHMIGT]
    ABGELEHNT = State.ABGELEHNT.value, STATE_LABELS[State.ABGELEHNT]
    RECHTSKRAEFTIG = State.RECHTSKRAEFTIG.value, STATE_LABELS[State.RECHTSKRAEFTIG]
    ZURUECKGENOMMEN = State.ZURUECKGENOMMEN.value, STATE_LABELS[State.ZURUECKGENOMMEN]
    GILT_ALS_ZURUECKGENOMMEN = (
        State.GILT_ALS_ZURUECKGENOMMEN.value,
        STATE_LABELS[State.GILT_ALS_ZURUECKGENOMMEN],
    )


TYPE_CHOICES = [(t.code, t.short_title) for t in REGISTRY.values()]


class Outcome(models.TextChoices):
    GENEHMIGT = "genehmigt", _("genehmigt")
    ABGELEHNT = "abgelehnt", _("abgelehnt")


class CommitteeSession(models.Model):
    """A session of the Zulassungsausschuss of a Bezirk (maintained by the Geschäftsstelle)."""

    bezirk = models.CharField(_("Zulassungsbezirk"), max_length=20, choices=BEZIRKE)
    committee = models.CharField(_("Ausschuss"), max_length=20, choices=COMMITTEES)
    date = models.DateField(_("Sitzungstag"))
    deadline = models.DateField(
        _("Annahmeschluss"),
        null=True,
        blank=True,
        help_text=_("Leer: Sitzungstag minus Vorlauf (Standard 6 Wochen)."),
    )
    location = models.CharField(_("Ort"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("Sitzung des Zulassungsausschusses")
        verbose_name_plural = _("Sitzungen des Zulassungsausschusses")
        ordering = ["date", "bezirk", "committee"]
        constraints = [
            models.UniqueConstraint(
                fields=["bezirk", "committee", "date"], name="admission_session_unique"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.date:%d.%m.%Y} – {self.get_bezirk_display()} – {self.get_committee_display()}"
        )


class Application(models.Model):
    type_code = models.CharField(_("Antragsart"), max_length=40, choices=TYPE_CHOICES)
    betriebsstaette = models.ForeignKey(
        "members.Betriebsstaette",
        verbose_name=_("Betriebsstätte"),
        on_delete=models.PROTECT,
        related_name="admission_applications",
    )
    bezirk = models.CharField(_("Zulassungsbezirk"), max_length=20, choices=BEZIRKE, blank=True)
    committee = models.CharField(_("Ausschuss"), max_length=20, choices=COMMITTEES)
    state = models.CharField(
        _("Status"),
        max_length=30,
        choices=ApplicationState.choices,
        default=ApplicationState.ENTWURF,
        db_index=True,
    )
    #: the state a Nachforderung interrupted
    resume_state = models.CharField(max_length=30, blank=True)
    data = models.JSONField(_("Angaben"), default=dict, blank=True)
    employee_lanr = models.CharField(_("LANR Angestellte(r)"), max_length=9, blank=True)
    employee_name = models.CharField(_("Angestellte(r)"), max_length=200, blank=True)
    effective_date = models.DateField(_("Änderung ab"), null=True, blank=True)
    duplicate_key = models.CharField(max_length=200, blank=True, db_index=True)
    #: hash of the submitted content; confirmations refer to it
    content_sha256 = models.CharField(max_length=64, blank=True)
    submission_token = models.UUIDField(default=uuid.uuid4, editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="admission_applications",
        verbose_name=_("angelegt von"),
    )
    created_at = models.DateTimeField(_("angelegt"), default=timezone.now)
    updated_at = models.DateTimeField(_("geändert"), auto_now=True)
    submitted_at = models.DateTimeField(_("eingereicht"), null=True, blank=True)
    received_at = models.DateTimeField(
        _("eingegangen (vollständig bestätigt)"), null=True, blank=True
    )

    fee_amount = models.DecimalField(
        _("Antragsgebühr"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    fee_requested_at = models.DateTimeField(_("Gebühr angefordert"), null=True, blank=True)
    fee_deadline = models.DateField(_("Zahlungsfrist"), null=True, blank=True)
    fee_paid_on = models.DateField(_("Gebühr bezahlt am"), null=True, blank=True)
    fee_payment_ref = models.CharField(_("Zahlungsreferenz"), max_length=100, blank=True)
    fee_deferred_at = models.DateTimeField(_("Gebühr gestundet"), null=True, blank=True)
    admin_fee_amount = models.DecimalField(
        _("Verwaltungsgebühr"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    admin_fee_invoiced_at = models.DateTimeField(
        _("Verwaltungsgebühr in Rechnung gestellt"), null=True, blank=True
    )

    session = models.ForeignKey(
        CommitteeSession,
        verbose_name=_("Sitzung"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications",
    )
    outcome = models.CharField(_("Beschluss"), max_length=20, choices=Outcome.choices, blank=True)
    decided_on = models.DateField(_("Beschluss vom"), null=True, blank=True)
    decision_reasons = models.TextField(_("Gründe"), blank=True)
    final_on = models.DateField(_("rechtskräftig seit"), null=True, blank=True)
    registry_updated_at = models.DateTimeField(
        _("Arztregister aktualisiert"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("Antrag an den Zulassungsausschuss")
        verbose_name_plural = _("Anträge an den Zulassungsausschuss")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["bezirk", "committee", "state"])]

    def __str__(self) -> str:
        return f"{self.reference} – {self.app_type.short_title}"

    @property
    def reference(self) -> str:
        """Aktenzeichen shown to applicant and office."""
        return f"ZA-{self.created_at:%Y}-{self.pk:05d}" if self.pk else "ZA-neu"

    @property
    def app_type(self) -> ApplicationType:
        return REGISTRY[self.type_code]

    @property
    def state_enum(self) -> State:
        return State(self.state)

    @property
    def bsnr(self) -> str:
        return self.betriebsstaette.bsnr


class Signatory(models.Model):
    """A person who has to confirm (sign) the submitted application."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="signatories"
    )
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(_("Name"), max_length=200)
    roles = models.JSONField(_("Rollen"), default=list)
    role_label = models.CharField(_("Funktion"), max_length=200)
    lanr = models.CharField(_("LANR"), max_length=9, blank=True)
    email = models.EmailField(_("E-Mail"), blank=True)
    #: portal account that may confirm (matched by LANR/Person); None → one-time code by e-mail
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="admission_signatures",
    )
    #: SHA-256 of the secret part of the confirmation link (the raw token is only in the e-mail)
    token_sha256 = models.CharField(max_length=64, unique=True)
    code_hash = models.CharField(max_length=128, blank=True)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    code_attempts = models.PositiveSmallIntegerField(default=0)
    #: codes sent on `codes_day` (local date): at most MAX_CODES_PER_DAY per signatory and day
    codes_day = models.DateField(null=True, blank=True)
    codes_sent = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("Unterzeichner")
        verbose_name_plural = _("Unterzeichner")
        ordering = ["application", "position"]

    def __str__(self) -> str:
        return f"{self.name} ({self.role_label})"

    @property
    def confirmation(self) -> Confirmation | None:
        return self.confirmations.filter(revoked_at__isnull=True).first()


class Confirmation(models.Model):
    """A signatory's confirmation of the application content (hash). Methods: portal login,
    one-time code by e-mail, and (eHBA issue) a qualified electronic signature."""

    class Method(models.TextChoices):
        PORTAL = "portal", _("Bestätigung im Portal (Anmeldung)")
        EMAIL_CODE = "email_code", _("Bestätigung mit Einmalcode per E-Mail")
        QES = "qes", _("Qualifizierte elektronische Signatur (eHBA)")

    signatory = models.ForeignKey(Signatory, on_delete=models.CASCADE, related_name="confirmations")
    method = models.CharField(_("Verfahren"), max_length=20, choices=Method.choices)
    confirmed_at = models.DateTimeField(_("bestätigt am"), default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    content_sha256 = models.CharField(_("Inhalt (SHA-256)"), max_length=64)
    #: method-specific evidence, e.g. the CMS/PAdES signature reference for "qes"
    evidence = models.JSONField(default=dict, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("Bestätigung")
        verbose_name_plural = _("Bestätigungen")
        ordering = ["confirmed_at"]

    def __str__(self) -> str:
        return f"{self.signatory.name}: {self.get_method_display()}"


class Attachment(models.Model):
    class Kind(models.TextChoices):
        ARBEITSVERTRAG = "arbeitsvertrag", _("Angepasster Arbeitsvertrag")
        TAETIGKEITSNACHWEISE = "taetigkeitsnachweise", _("Nachweise über die Tätigkeiten")
        ERKLAERUNG_LB = "erklaerung_leistungsbeschraenkung", _("Erklärung Leistungsbeschränkung")
        NACHREICHUNG = "nachreichung", _("Nachgereichte Unterlage")

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="attachments"
    )
    kind = models.CharField(_("Art"), max_length=40, choices=Kind.choices)
    file_name = models.CharField(_("Dateiname"), max_length=200)
    path = models.CharField(max_length=300)
    size = models.PositiveIntegerField(_("Größe (Bytes)"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("Anlage")
        verbose_name_plural = _("Anlagen")
        ordering = ["uploaded_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.file_name}"


class GeneratedFile(models.Model):
    """PDFs the portal produces: application copy, Anlage 1, fee request, Beschluss, invoice."""

    class Kind(models.TextChoices):
        ANTRAG = "antrag", _("Antrag (Kopie)")
        ANLAGE1 = "anlage1", _("Anlage 1")
        GEBUEHR = "gebuehr", _("Gebührenanforderung")
        BESCHLUSS = "beschluss", _("Beschluss")
        VERWALTUNGSGEBUEHR = "verwaltungsgebuehr", _("Rechnung Verwaltungsgebühr")

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="files")
    kind = models.CharField(_("Art"), max_length=30, choices=Kind.choices)
    path = models.CharField(max_length=300)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("Erzeugtes Dokument")
        verbose_name_plural = _("Erzeugte Dokumente")
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["application", "kind"], name="admission_file_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.application.reference}"

    @property
    def download_name(self) -> str:
        return f"{self.application.reference}-{self.kind}.pdf"


class Nachforderung(models.Model):
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="nachforderungen"
    )
    text = models.TextField(_("Nachgefordert wird"))
    due_date = models.DateField(_("Antwort bis"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    answer = models.TextField(_("Antwort"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("Nachforderung")
        verbose_name_plural = _("Nachforderungen")
        ordering = ["requested_at"]

    def __str__(self) -> str:
        return f"Nachforderung {self.application.reference}"


class HistoryEntry(models.Model):
    """What happened to the application (shown in "Meine Anträge" and to the office)."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="history")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    event = models.CharField(max_length=40)
    label = models.CharField(max_length=300)
    from_state = models.CharField(max_length=30, blank=True)
    to_state = models.CharField(max_length=30, blank=True)
    note = models.TextField(blank=True)
    #: the reason of a destructive decision (withdrawal, rejection; issue 14), also audited
    reason = models.TextField(_("Begründung"), blank=True)

    class Meta:
        verbose_name = _("Verlaufseintrag")
        verbose_name_plural = _("Verlauf")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%d.%m.%Y %H:%M} {self.label}"

# Datenschutz: billing files hold patient data; they live in private storage only and the
# stored protocol keeps patient numbers (FK 3000) but never names or insurance numbers.
"""Billing submissions (KVDT files), submission deadlines and the Erklärung zur Abrechnung."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kvportal.billing import rules
from kvportal.core.quarters import Quarter


class SubmissionState(models.TextChoices):
    PENDING = "pending", _("Prüfung ausstehend")
    CHECKING = "checking", _("wird geprüft")
    ACCEPTED = "accepted", _("angenommen")
    REJECTED = "rejected", _("abgelehnt")
    KV_CHECK = "kv_check", _("verschlüsselt – Prüfung durch die KV")


class Timing(models.TextChoices):
    EARLY = rules.Timing.EARLY.value, _("vorzeitig (vor Beginn der Abgabefrist)")
    ON_TIME = rules.Timing.ON_TIME.value, _("fristgerecht")
    LATE = rules.Timing.LATE.value, _("verspätet")


class Channel(models.TextChoices):
    WEB = "web", _("Portal")
    API = "api", _("Praxissoftware (API)")
    KIM = "kim", _("KIM")


class KvResult(models.TextChoices):
    NONE = "", _("–")
    ACCEPTED = "accepted", _("von der KV angenommen")
    REJECTED = "rejected", _("von der KV zurückgewiesen")


CHECK_STATUS_LABELS = {
    0: _("0 – fehlerfrei"),
    1: _("1 – mit Warnungen"),
    2: _("2 – fehlerhaft"),
    3: _("3 – Prüfung abgebrochen"),
}


def QuarterField(verbose_name, **kwargs) -> models.CharField:
    """A quarter stored as `JJJJ-Q` (sorts correctly as text)."""
    return models.CharField(verbose_name, max_length=6, **kwargs)


class SubmissionDeadline(models.Model):
    """A staff-edited submission window for one quarter (otherwise the KV Sachsen defaults)."""

    quarter = QuarterField(_("Quartal"), unique=True)
    early_from = models.DateField(_("Vorzeitige Abgabe ab"))
    starts = models.DateField(_("Abgabefrist von"))
    ends = models.DateField(_("Abgabefrist bis"))
    note = models.CharField(_("Hinweis"), max_length=300, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("geändert von"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("geändert am"), default=timezone.now)

    class Meta:
        verbose_name = _("Abgabefrist")
        verbose_name_plural = _("Abgabefristen")
        ordering = ["-quarter"]

    def __str__(self) -> str:
        return f"{self.quarter_obj}: {self.starts:%d.%m.%Y}–{self.ends:%d.%m.%Y}"

    @property
    def quarter_obj(self) -> Quarter:
        return Quarter.parse(self.quarter)

    def as_window(self) -> rules.SubmissionWindow:
        return rules.SubmissionWindow(
            quarter=self.quarter_obj, early_from=self.early_from, starts=self.starts, ends=self.ends
        )


class SubmissionQuerySet(models.QuerySet):
    def current(self) -> SubmissionQuerySet:
        return self.filter(is_current=True)


class Submission(models.Model):
    """One uploaded billing file for a BSNR and quarter, with its check result."""

    betriebsstaette = models.ForeignKey(
        "members.Betriebsstaette",
        verbose_name=_("Betriebsstätte"),
        on_delete=models.PROTECT,
        related_name="billing_submissions",
    )
    quarter = QuarterField(_("Quartal"), db_index=True)
    kind = models.CharField(
        _("Dateiart"),
        max_length=3,
        choices=[
            (rules.FileKind.PLAIN.value, _("KVDT-Datei (.con)")),
            (rules.FileKind.ENCRYPTED.value, _("verschlüsselt (.con.xkm)")),
        ],
    )
    original_name = models.CharField(_("Dateiname"), max_length=255)
    storage_name = models.CharField(_("Speicherort"), max_length=300, editable=False)
    size = models.BigIntegerField(_("Größe (Bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    received_at = models.DateTimeField(_("eingegangen am"), default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("eingereicht von"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="billing_submissions",
    )
    submitted_by_name = models.CharField(_("eingereicht von (Name)"), max_length=200)
    channel = models.CharField(_("Weg"), max_length=3, choices=Channel.choices, default="web")
    timing = models.CharField(_("Zeitpunkt"), max_length=10, choices=Timing.choices)

    state = models.CharField(
        _("Status"), max_length=10, choices=SubmissionState.choices, default="pending"
    )
    progress = models.PositiveSmallIntegerField(_("Fortschritt (%)"), default=0)
    check_status = models.PositiveSmallIntegerField(_("Prüfergebnis"), null=True, blank=True)
    checked_at = models.DateTimeField(_("geprüft am"), null=True, blank=True)
    #: lease of the running check (issue 11): a check whose lease ran out is started again
    check_token = models.CharField(_("Prüflauf"), max_length=32, blank=True, editable=False)
    lease_until = models.DateTimeField(_("Prüfung belegt bis"), null=True, blank=True)
    check_attempts = models.PositiveSmallIntegerField(_("Prüfversuche"), default=0)
    #: issue 14 defect 2: the Erklärung zur Abrechnung given with this file (as in 1-Click
    #: billing) takes effect only when the file is accepted
    declare_on_accept = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("Erklärung mit der Datei von"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    #: refusal reasons beyond the KVDT check: [{"code": ..., "params": {...}}]
    problems = models.JSONField(_("Ablehnungsgründe"), default=list, blank=True)
    #: the KVDT report (messages capped, see services.MAX_STORED_MESSAGES)
    report = models.JSONField(_("Prüfprotokoll"), default=dict, blank=True)

    is_current = models.BooleanField(_("gültige Einreichung"), default=False)
    is_supplement = models.BooleanField(_("Nachlieferung nach Fristende"), default=False)
    replaces = models.ForeignKey(
        "self",
        verbose_name=_("ersetzt"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replaced_by",
    )
    replaced_at = models.DateTimeField(_("ersetzt am"), null=True, blank=True)

    kv_result = models.CharField(
        _("Prüfung durch die KV"), max_length=10, choices=KvResult.choices, blank=True
    )
    kv_note = models.CharField(_("Vermerk der KV"), max_length=500, blank=True)

    #: § 304 SGB V: when the file and the protocol were deleted; the row keeps only metadata
    purged_at = models.DateTimeField(_("gelöscht am"), null=True, blank=True, editable=False)

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        verbose_name = _("Abrechnungseinreichung")
        verbose_name_plural = _("Abrechnungseinreichungen")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["betriebsstaette", "quarter"],
                condition=Q(is_current=True),
                name="billing_one_current_submission",
            )
        ]
        indexes = [models.Index(fields=["betriebsstaette", "quarter", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.betriebsstaette.bsnr} {self.quarter_obj} – {self.original_name}"

    @property
    def quarter_obj(self) -> Quarter:
        return Quarter.parse(self.quarter)

    @property
    def is_late(self) -> bool:
        return self.timing == Timing.LATE

    @property
    def is_done(self) -> bool:
        return self.state not in (SubmissionState.PENDING, SubmissionState.CHECKING)

    @property
    def is_encrypted(self) -> bool:
        return self.kind == rules.FileKind.ENCRYPTED

    @property
    def check_status_label(self) -> str:
        if self.check_status is None:
            return ""
        return str(CHECK_STATUS_LABELS.get(self.check_status, self.check_status))

    @property
    def badge(self) -> str:
        badges: dict[str, str] = {
            SubmissionState.ACCEPTED: "badge-ok",
            SubmissionState.REJECTED: "badge-err",
            SubmissionState.KV_CHECK: "badge-warn",
        }
        return badges.get(self.state, "")

    @property
    def was_replaced(self) -> bool:
        return self.replaced_at is not None

    @property
    def is_purged(self) -> bool:
        return self.purged_at is not None

    @property
    def deletion_date(self):
        """§ 304 SGB V: last day the file and protocol are kept."""
        return rules.deletion_date(self.quarter_obj)


class DeclarationMethod(models.TextChoices):
    PORTAL = "portal", _("im Portal bestätigt")
    QES = "qes", _("qualifiziert elektronisch signiert (eHBA)")
    KIM = "kim", _("als eSE über KIM, mit dem eHBA signiert")


class Declaration(models.Model):
    """Erklärung zur Abrechnung (Sammelerklärung) for one BSNR and quarter, given by a
    signature-entitled doctor (Vertragsarzt/Gesellschafter or Ärztlicher Leiter)."""

    betriebsstaette = models.ForeignKey(
        "members.Betriebsstaette",
        verbose_name=_("Betriebsstätte"),
        on_delete=models.PROTECT,
        related_name="billing_declarations",
    )
    quarter = QuarterField(_("Quartal"))
    given_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("abgegeben von"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    given_by_name = models.CharField(_("abgegeben von (Name)"), max_length=200)
    given_at = models.DateTimeField(_("abgegeben am"), default=timezone.now)
    method = models.CharField(
        _("Form"), max_length=10, choices=DeclarationMethod.choices, default="portal"
    )
    text = models.TextField(_("Wortlaut"))
    #: method-specific evidence, e.g. a signature reference for QES (eHBA helper)
    evidence = models.JSONField(_("Nachweis"), default=dict, blank=True)

    class Meta:
        verbose_name = _("Erklärung zur Abrechnung")
        verbose_name_plural = _("Erklärungen zur Abrechnung")
        ordering = ["-quarter", "betriebsstaette"]
        constraints = [
            models.UniqueConstraint(
                fields=["betriebsstaette", "quarter"], name="billing_one_declaration"
            )
        ]

    def __str__(self) -> str:
        return f"{self.betriebsstaette.bsnr} {self.quarter_obj} – {self.given_by_name}"

    @property
    def quarter_obj(self) -> Quarter:
        return Quarter.parse(self.quarter)


class TestRun(models.Model):
    """Testabrechnung (issue 12 item 5): a plain `.con` checked exactly like a submission but not
    submitted; its protocol is compared with the previous run for the BSNR and quarter. The file
    and protocol are deleted after `BILLING_TEST_RUN_HOURS` (default 24)."""

    betriebsstaette = models.ForeignKey(
        "members.Betriebsstaette",
        verbose_name=_("Betriebsstätte"),
        on_delete=models.PROTECT,
        related_name="billing_test_runs",
    )
    quarter = QuarterField(_("Quartal"), db_index=True)
    original_name = models.CharField(_("Dateiname"), max_length=255)
    storage_name = models.CharField(_("Speicherort"), max_length=300, editable=False)
    size = models.BigIntegerField(_("Größe (Bytes)"))
    created_at = models.DateTimeField(_("hochgeladen am"), default=timezone.now)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("hochgeladen von"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    state = models.CharField(
        _("Status"),
        max_length=10,
        default="pending",
        choices=[("pending", _("wird geprüft")), ("done", _("geprüft"))],
    )
    check_status = models.PositiveSmallIntegerField(_("Prüfergebnis"), null=True, blank=True)
    checked_at = models.DateTimeField(_("geprüft am"), null=True, blank=True)
    report = models.JSONField(_("Prüfprotokoll"), default=dict, blank=True)
    #: {"first_run", "new", "fixed", "unchanged"} against `previous` (billing.comparison)
    comparison = models.JSONField(_("Vergleich"), default=dict, blank=True)
    previous = models.ForeignKey(
        "self", verbose_name=_("Vorheriger Testlauf"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )  # fmt: skip
    expires_at = models.DateTimeField(_("wird gelöscht am"))
    purged_at = models.DateTimeField(_("gelöscht am"), null=True, blank=True, editable=False)
    #: lease of the running check (issue 11), like `Submission`: a killed run is taken up again
    check_token = models.CharField(_("Prüflauf"), max_length=32, blank=True, editable=False)
    lease_until = models.DateTimeField(_("Prüfung belegt bis"), null=True, blank=True)
    check_attempts = models.PositiveSmallIntegerField(_("Prüfversuche"), default=0)

    class Meta:
        verbose_name = _("Testabrechnung")
        verbose_name_plural = _("Testabrechnungen")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Testlauf {self.pk} {self.quarter}"

    @property
    def quarter_obj(self) -> Quarter:
        return Quarter.parse(self.quarter)

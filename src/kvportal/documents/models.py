# § 304 SGB V: every document carries its deletion date; after deletion only a tombstone
# (type, BSNR, quarter, hash, time) remains. Files live in private storage only.
"""Fee documents (Honorarunterlagen) per BSNR and quarter, read receipts and tombstones."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kvportal.core.quarters import Quarter
from kvportal.core.storage import private_storage
from kvportal.documents import rules


class DocType(models.TextChoices):
    HONORARBESCHEID = "honorarbescheid", _("Honorarbescheid")
    HONORARZUSAMMENSTELLUNG = "honorarzusammenstellung", _("Honorarzusammenstellung")
    RICHTIGSTELLUNG = "richtigstellung", _("Richtigstellung")
    PUNKTZAHLBEGRENZUNG = "punktzahlbegrenzung", _("Nachweis zur Punktzahlbegrenzung")
    RLV_MITTEILUNG = "rlv_mitteilung", _("RLV-Mitteilung")
    PRUEFPROTOKOLL = "pruefprotokoll", _("Prüfprotokoll")
    BESCHLUSS = "beschluss", _("Beschluss")
    BEGLEITBRIEF = "begleitbrief", _("Begleitbrief")
    SONSTIGES = "sonstiges", _("Sonstiges")


class Source(models.TextChoices):
    UPLOAD = "upload", _("Einzel-Upload (KV)")
    IMPORT = "import", _("Import")
    API = "api", _("API-Import")
    SERVICE = "service", _("Portal")


def quarter_to_int(quarter: Quarter) -> int:
    """Sortable database form of a quarter: JJJJQ (20261 = 1/2026)."""
    return quarter.year * 10 + quarter.quarter


def int_to_quarter(value: int) -> Quarter:
    return Quarter(value // 10, value % 10)


def _private_storage():
    return private_storage


def document_upload_to(instance: Document, filename: str) -> str:
    return f"documents/{instance.betriebsstaette.bsnr}/{instance.quarter}/{filename}"


class Document(models.Model):
    betriebsstaette = models.ForeignKey(
        "members.Betriebsstaette",
        verbose_name=_("Betriebsstätte"),
        on_delete=models.PROTECT,
        related_name="documents",
    )
    #: JJJJQ, e.g. 20261 for 1/2026 (sortable); see `quarter_obj`.
    quarter = models.PositiveIntegerField(_("Quartal"))
    #: LANR of the doctor the document is about; empty = document of the whole BSNR.
    lanr = models.CharField(_("LANR"), max_length=9, blank=True, default="")
    person = models.ForeignKey(
        "members.Person",
        verbose_name=_("Arzt/Psychotherapeut"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="documents",
    )
    doc_type = models.CharField(_("Dokumenttyp"), max_length=30, choices=DocType.choices)
    title = models.CharField(_("Titel"), max_length=rules.TITLE_MAX_LENGTH)
    file = models.FileField(
        _("Datei"), storage=_private_storage, upload_to=document_upload_to, max_length=300
    )
    size = models.PositiveBigIntegerField(_("Größe (Bytes)"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    published_at = models.DateTimeField(_("veröffentlicht"), default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("veröffentlicht von"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    source = models.CharField(_("Herkunft"), max_length=10, choices=Source.choices)
    also_by_post = models.BooleanField(_("auch per Post versandt"), default=False)
    amount = models.DecimalField(
        _("Betrag (EUR)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    deletion_date = models.DateField(_("Löschung nach"))
    notice_sent_at = models.DateTimeField(_("Benachrichtigung versandt"), null=True, blank=True)

    class Meta:
        verbose_name = _("Dokument")
        verbose_name_plural = _("Dokumente")
        ordering = ["-published_at", "-id"]
        constraints = [
            # idempotent imports: the same content for the same addressee exists once
            models.UniqueConstraint(
                fields=["betriebsstaette", "quarter", "doc_type", "lanr", "sha256"],
                name="document_unique_content_per_addressee",
            ),
            models.CheckConstraint(
                condition=Q(quarter__gte=19001) & Q(quarter__lte=99994),
                name="document_quarter_range",
            ),
        ]
        indexes = [
            # member list: BSNR (+ quarter) newest first; LANR-only holders add the LANR
            models.Index(fields=["betriebsstaette", "-published_at"], name="doc_bsnr_pub"),
            models.Index(
                fields=["betriebsstaette", "quarter", "-published_at"], name="doc_bsnr_q_pub"
            ),
            models.Index(
                fields=["betriebsstaette", "lanr", "-published_at"], name="doc_bsnr_lanr_pub"
            ),
            models.Index(fields=["deletion_date"], name="doc_deletion"),
            models.Index(
                fields=["notice_sent_at"],
                name="doc_notice_pending",
                condition=Q(notice_sent_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_doc_type_display()} {self.quarter_obj} – {self.title}"

    @property
    def quarter_obj(self) -> Quarter:
        return int_to_quarter(self.quarter)

    @property
    def quarter_label(self) -> str:
        return str(self.quarter_obj)

    @property
    def bsnr(self) -> str:
        return self.betriebsstaette.bsnr

    @property
    def delivery_date(self):
        """§ 37 (2a) SGB X: delivered on the fourth day after the e-mail notice."""
        if self.notice_sent_at is None:
            return None
        return rules.delivery_date(self.notice_sent_at)

    @property
    def download_name(self) -> str:
        return f"{self.doc_type}_{self.betriebsstaette.bsnr}_{self.quarter_obj.kvdt}_{self.pk}.pdf"


class ReadReceipt(models.Model):
    """Who opened (downloaded) a document and when; drives the unread marker.

    Kept with the document (the access log itself is purged after 31 days)."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="receipts")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="document_receipts"
    )
    first_opened_at = models.DateTimeField(_("zuerst geöffnet"), default=timezone.now)
    last_opened_at = models.DateTimeField(_("zuletzt geöffnet"), default=timezone.now)
    times = models.PositiveIntegerField(_("Anzahl"), default=1)

    class Meta:
        verbose_name = _("Abruf")
        verbose_name_plural = _("Abrufe")
        ordering = ["first_opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["document", "user"], name="receipt_once_per_user")
        ]
        indexes = [models.Index(fields=["user", "document"], name="receipt_user_doc")]

    def __str__(self) -> str:
        return f"{self.user} – {self.document_id} – {self.first_opened_at:%d.%m.%Y %H:%M}"


class DeletedDocument(models.Model):
    """Tombstone of a purged document: no file, no title, no amount."""

    original_id = models.PositiveBigIntegerField(_("ursprüngliche ID"), db_index=True)
    betriebsstaette = models.ForeignKey(
        "members.Betriebsstaette",
        verbose_name=_("Betriebsstätte"),
        on_delete=models.PROTECT,
        related_name="deleted_documents",
    )
    bsnr = models.CharField(_("BSNR"), max_length=9)
    lanr = models.CharField(_("LANR"), max_length=9, blank=True, default="")
    quarter = models.PositiveIntegerField(_("Quartal"))
    doc_type = models.CharField(_("Dokumenttyp"), max_length=30, choices=DocType.choices)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    deletion_date = models.DateField(_("Löschung nach"))
    deleted_at = models.DateTimeField(_("gelöscht am"), default=timezone.now)

    class Meta:
        verbose_name = _("Gelöschtes Dokument")
        verbose_name_plural = _("Gelöschte Dokumente")
        ordering = ["-deleted_at", "-id"]
        indexes = [
            models.Index(fields=["betriebsstaette", "-deleted_at"], name="deldoc_bsnr"),
        ]

    def __str__(self) -> str:
        return f"{self.get_doc_type_display()} {self.quarter_obj} ({self.bsnr}) gelöscht"

    @property
    def quarter_obj(self) -> Quarter:
        return int_to_quarter(self.quarter)

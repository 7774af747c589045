from django.db import models
from django.utils.translation import gettext_lazy as _


class MasterFile(models.Model):
    """One imported KBV master file; its content as read by `kvportal.kvdt.masterdata`."""

    class Kind(models.TextChoices):
        PLZ = "plz", _("PLZ-Stammdatei (SDPLZ)")
        SDKT = "sdkt", _("Kostenträger-Stammdatei (SDKT)")
        SDICD = "sdicd", _("ICD-10-GM-Stammdatei (SDICD)")
        SDEBM = "sdebm", _("EBM-Stammdatei (SDEBM)")
        SDOPS = "sdops", _("OPS-Stammdatei (SDOPS)")
        HGNC = "hgnc", _("HGNC-Schlüsseltabelle")
        SDAV = "sdav", _("Arztverzeichnis (SDAV)")
        RV = "rv", _("Schlüsseltabelle S_NVV_RV_Zertifikat")
        SDHDRG = "sdhdrg", _("Hybrid-DRG-Stammdatei (SDHDRG)")

    kind = models.CharField(_("Art"), max_length=8, choices=Kind.choices)
    year = models.PositiveSmallIntegerField(_("Jahr"))
    quarter = models.PositiveSmallIntegerField(_("Quartal"))
    name = models.CharField(_("Dateiname"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    payload = models.JSONField(_("Inhalt"))
    imported_at = models.DateTimeField(_("Importiert am"), auto_now=True)

    class Meta:
        verbose_name = _("Stammdatei")
        verbose_name_plural = _("Stammdateien")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "year", "quarter"], name="masterdata_one_file_per_kind_quarter"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quarter}/{self.year} ({self.name})"

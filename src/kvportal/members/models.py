"""The registry the portal knows (Arztregister): practices, persons, their Tätigkeiten."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kvportal.members import identifiers
from kvportal.members.constants import Bezirk, PracticeKind, Profession, Role, SiteKind


def validate_bsnr(value: str) -> None:
    result = identifiers.check_bsnr(value)
    if not result.ok:
        raise ValidationError(result.errors[0], code="bsnr")


def validate_lanr(value: str) -> None:
    result = identifiers.check_lanr(value)
    if not result.ok:
        raise ValidationError(result.errors[0], code="lanr")


class Betriebsstaette(models.Model):
    bsnr = models.CharField(_("BSNR"), max_length=9, unique=True, validators=[validate_bsnr])
    name = models.CharField(_("Name"), max_length=200)
    kind = models.CharField(_("Praxisform"), max_length=20, choices=PracticeKind.choices)
    site = models.CharField(
        _("Art der Betriebsstätte"), max_length=10, choices=SiteKind.choices, default=SiteKind.HAUPT
    )
    haupt = models.ForeignKey(
        "self",
        verbose_name=_("Hauptbetriebsstätte"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="nebenbetriebsstaetten",
    )
    street = models.CharField(_("Straße und Hausnummer"), max_length=200, blank=True)
    postal_code = models.CharField(_("PLZ"), max_length=5, blank=True)
    city = models.CharField(_("Ort"), max_length=100, blank=True)
    bezirk = models.CharField(_("Zulassungsbezirk"), max_length=20, choices=Bezirk.choices)
    email = models.EmailField(_("E-Mail"), blank=True)
    phone = models.CharField(_("Telefon"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("Betriebsstätte")
        verbose_name_plural = _("Betriebsstätten")
        ordering = ["bsnr"]

    def __str__(self) -> str:
        return f"{self.bsnr} – {self.name}"

    @property
    def address_lines(self) -> list[str]:
        return [line for line in (self.street, f"{self.postal_code} {self.city}".strip()) if line]


class Person(models.Model):
    lanr = models.CharField(
        _("LANR"), max_length=9, unique=True, null=True, blank=True, validators=[validate_lanr]
    )
    title = models.CharField(_("Titel"), max_length=50, blank=True)
    first_name = models.CharField(_("Vorname"), max_length=100)
    last_name = models.CharField(_("Nachname"), max_length=100)
    profession = models.CharField(_("Beruf"), max_length=20, choices=Profession.choices)
    fachgruppe = models.CharField(
        _("Fachgruppe"), max_length=2, blank=True, help_text=_("LANR-Stellen 8–9")
    )
    fachgebiet = models.CharField(_("Fachgebiet"), max_length=200, blank=True)
    telematik_id = models.CharField(_("Telematik-ID"), max_length=128, blank=True, db_index=True)
    email = models.EmailField(_("E-Mail"), blank=True)

    class Meta:
        verbose_name = _("Person")
        verbose_name_plural = _("Personen")
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return self.full_name + (f" (LANR {self.lanr})" if self.lanr else "")

    def save(self, *args, **kwargs) -> None:
        if self.lanr and not self.fachgruppe:
            self.fachgruppe = identifiers.fachgruppe_of(self.lanr)
        super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.title, self.first_name, self.last_name) if p)


class TaetigkeitQuerySet(models.QuerySet):
    def active(self, on: dt.date | None = None) -> TaetigkeitQuerySet:
        day = on or timezone.localdate()
        return self.filter(Q(valid_from__lte=day), Q(valid_to__isnull=True) | Q(valid_to__gte=day))


class Taetigkeit(models.Model):
    """A person works at a BSNR in a role from/to a date (history by rows)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="taetigkeiten")
    betriebsstaette = models.ForeignKey(
        Betriebsstaette, on_delete=models.CASCADE, related_name="taetigkeiten"
    )
    role = models.CharField(_("Rolle"), max_length=30, choices=Role.choices)
    valid_from = models.DateField(_("von"))
    valid_to = models.DateField(_("bis"), null=True, blank=True)
    anrechnungsfaktor = models.DecimalField(
        _("Anrechnungsfaktor"), max_digits=3, decimal_places=2, null=True, blank=True
    )
    weekly_hours = models.DecimalField(
        _("Wochenstunden"), max_digits=4, decimal_places=2, null=True, blank=True
    )

    objects = TaetigkeitQuerySet.as_manager()

    class Meta:
        verbose_name = _("Tätigkeit")
        verbose_name_plural = _("Tätigkeiten")
        ordering = ["betriebsstaette", "person", "valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="taetigkeit_dates_ordered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.person.full_name} – {self.get_role_display()} – {self.betriebsstaette.bsnr}"

from django.db import models
from django.utils.translation import gettext_lazy as _


class Bezirk(models.TextChoices):
    CHEMNITZ = "chemnitz", _("Chemnitz")
    DRESDEN = "dresden", _("Dresden")
    LEIPZIG = "leipzig", _("Leipzig")


class PracticeKind(models.TextChoices):
    EINZELPRAXIS = "einzelpraxis", _("Einzelpraxis")
    BAG = "bag", _("Berufsausübungsgemeinschaft (BAG)")
    MVZ = "mvz", _("Medizinisches Versorgungszentrum (MVZ)")


class SiteKind(models.TextChoices):
    HAUPT = "haupt", _("Hauptbetriebsstätte")
    NEBEN = "neben", _("Nebenbetriebsstätte")


class Profession(models.TextChoices):
    ARZT = "arzt", _("Arzt/Ärztin")
    PSYCHOTHERAPEUT = "psychotherapeut", _("Psychotherapeut/in")
    SONSTIGE = "sonstige", _("Sonstige (z. B. Geschäftsführung, Praxispersonal)")


class Role(models.TextChoices):
    VERTRAGSARZT = "vertragsarzt", _("Vertragsarzt/Gesellschafter")
    ANGESTELLT = "angestellt", _("angestellter Arzt/Psychotherapeut")
    AERZTLICHER_LEITER = "aerztlicher_leiter", _("Ärztlicher Leiter")
    TRAEGER = "traeger", _("Träger/Geschäftsführer")
    PRAXISPERSONAL = "praxispersonal", _("Praxispersonal")


#: Roles that are doctors/psychotherapists working at the BSNR.
PRACTITIONER_ROLES = (Role.VERTRAGSARZT, Role.ANGESTELLT, Role.AERZTLICHER_LEITER)
#: Roles entitled to sign for the practice (Erklärung zur Abrechnung, applications).
SIGNATURE_ROLES = (Role.VERTRAGSARZT, Role.AERZTLICHER_LEITER)

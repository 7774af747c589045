"""Adapter: the Arztregister (``kvportal.members``) as ``kvportal.access.rules.Registry``."""

from __future__ import annotations

from kvportal.access.rules import LanrStatus
from kvportal.members.constants import PRACTITIONER_ROLES
from kvportal.members.models import Betriebsstaette, Person, Taetigkeit


class Arztregister:
    """Read-only look-ups for the application checks."""

    def bsnr_known(self, bsnr: str) -> bool:
        return Betriebsstaette.objects.filter(bsnr=bsnr).exists()

    def lanr_status(self, lanr: str, bsnr: str) -> LanrStatus:
        if not Person.objects.filter(lanr=lanr).exists():
            return LanrStatus.UNKNOWN
        active = (
            Taetigkeit.objects.active()
            .filter(person__lanr=lanr, betriebsstaette__bsnr=bsnr, role__in=PRACTITIONER_ROLES)
            .exists()
        )
        return LanrStatus.ACTIVE if active else LanrStatus.INACTIVE

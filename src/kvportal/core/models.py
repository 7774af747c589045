# Durable background work (issue 11): one row per message delivered, so a re-run of a job
# (redelivered task, retry, recovery) never sends the same notice twice.
"""Delivery markers of background jobs (mails, notices)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Delivery(models.Model):
    #: what was delivered to whom, e.g. "documents.notice:<user>:<document ids>"
    key = models.CharField(_("Zustellung"), max_length=200, unique=True)
    sent_at = models.DateTimeField(_("gesendet am"), default=timezone.now)

    class Meta:
        verbose_name = _("Zustellung")
        verbose_name_plural = _("Zustellungen")

    def __str__(self) -> str:
        return self.key

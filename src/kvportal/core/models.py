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


class OutboxJob(models.Model):
    """A background job written in the caller's transaction (issue 11): run after commit, retried
    with back-off, leased while it runs (a crashed process's job is taken up again), given up
    after `KVPORTAL_OUTBOX_MAX_ATTEMPTS`. Stores ids only; a secret payload (e.g. a mail with a
    one-time code) is Fernet-encrypted and deleted once the job is done or given up."""

    class State(models.TextChoices):
        PENDING = "pending", _("wartet")
        DONE = "done", _("erledigt")
        FAILED = "failed", _("aufgegeben")

    #: dotted path of the task or function, e.g. "kvportal.access.tasks.notify_status"
    task = models.CharField(_("Aufgabe"), max_length=200)
    args = models.JSONField(_("Argumente"), default=list, blank=True)
    #: one logical job; enqueuing the same key again adds nothing
    key = models.CharField(_("Schlüssel"), max_length=200, unique=True)
    payload = models.TextField(_("verschlüsselte Nutzdaten"), blank=True, default="")
    state = models.CharField(
        _("Status"), max_length=10, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveIntegerField(_("Versuche"), default=0)
    next_attempt_at = models.DateTimeField(_("nächster Versuch"), default=timezone.now)
    lease_until = models.DateTimeField(_("gesperrt bis"), null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    #: exception class of the last failure only (never message text: it may name people)
    last_error = models.CharField(_("letzter Fehler"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(_("angelegt am"), default=timezone.now)
    finished_at = models.DateTimeField(_("abgeschlossen am"), null=True, blank=True)

    class Meta:
        verbose_name = _("Hintergrundauftrag")
        verbose_name_plural = _("Hintergrundaufträge")
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="core_outbox_due")]

    def __str__(self) -> str:
        return f"{self.task} #{self.pk}"

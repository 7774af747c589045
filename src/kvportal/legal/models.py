# BITV 2.0 § 7 Abs. 1 Nr. 2: the feedback route of the Erklärung zur Barrierefreiheit.
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AccessibilityFeedback(models.Model):
    """A report of a barrier (or a request for content in accessible form) from any visitor."""

    created_at = models.DateTimeField(_("Eingegangen am"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("Nutzer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    page = models.CharField(_("Betroffene Seite"), max_length=300, blank=True)
    message = models.TextField(_("Beschreibung der Barriere"))
    name = models.CharField(_("Name"), max_length=150, blank=True)
    email = models.EmailField(_("E-Mail-Adresse für die Antwort"), blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("Rückmeldung zur Barrierefreiheit")
        verbose_name_plural = _("Rückmeldungen zur Barrierefreiheit")

    def __str__(self) -> str:
        return f"Rückmeldung BF-{self.pk} vom {timezone.localtime(self.created_at):%d.%m.%Y}"

"""Forms of the eHBA pages: the card's answer (filled by the login page's script or pasted
from ``kvportal card login``) and the upload of a signed PDF."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from kvportal.cardlib.agent import AgentError

AGENT_CODES = (*AgentError.CODES, "agent_unreachable")


class CardAnswerForm(forms.Form):
    token = forms.CharField(
        label=_("Antwort der Karte (Token)"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
        help_text=_(
            "Wird vom Signatur-Agenten automatisch ausgefüllt. Ohne Agent: Token mit "
            "„kvportal card login --challenge …“ erzeugen und hier einfügen."
        ),
    )
    agent_error = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def clean_agent_error(self):
        value = self.cleaned_data.get("agent_error", "").strip()
        return value if value in AGENT_CODES else ("agent_error" if value else "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data  # None: keep cleaned_data (Django)
        if not data.get("token", "").strip() and not data.get("agent_error"):
            raise forms.ValidationError(
                _(
                    "Es liegt keine Antwort der Karte vor. Bitte starten Sie den Vorgang mit "
                    "dem Knopf."
                )
            )
        return data


class RegisterForm(CardAnswerForm):
    second_factor = forms.BooleanField(
        label=_("eHBA künftig als zweiten Faktor nach der Passwort-Anmeldung verlangen"),
        required=False,
    )


class SecondFactorSettingForm(forms.Form):
    second_factor = forms.BooleanField(
        label=_("eHBA als zweiten Faktor nach der Passwort-Anmeldung verlangen"), required=False
    )


class SignedUploadForm(forms.Form):
    signed_pdf = forms.FileField(
        label=_("Signierte PDF-Datei"),
        help_text=_("Die heruntergeladene Fassung, mit Ihrem eHBA qualifiziert signiert (PAdES)."),
    )

    def clean_signed_pdf(self):
        upload = self.cleaned_data["signed_pdf"]
        mb = settings.EHBA_MAX_UPLOAD_MB  # own limit: a signed application PDF is small
        if upload.size > mb * 1024 * 1024:
            raise forms.ValidationError(
                _(
                    "Die Datei „%(name)s“ ist zu groß: signierte Dokumente dürfen höchstens "
                    "%(mb)s MB groß sein."
                )
                % {"name": upload.name, "mb": mb}
            )
        head = upload.read(5)
        upload.seek(0)
        if head != b"%PDF-":
            raise forms.ValidationError(
                _("Die Datei „%(name)s“ ist keine PDF-Datei.") % {"name": upload.name}
            )
        return upload

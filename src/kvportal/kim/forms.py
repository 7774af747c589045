"""Forms of the KIM pages (German labels; errors at the field)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kvportal.core.forms import ConfirmReasonForm
from kvportal.kim import rules


class SmcbOrderForm(forms.Form):
    practice_name = forms.CharField(label=_("Name der Praxis (wie auf der Karte)"), max_length=64)
    street = forms.CharField(label=_("Straße und Hausnummer"), max_length=200)
    postal_code = forms.RegexField(
        label=_("PLZ"),
        regex=r"^\d{5}$",
        error_messages={"invalid": _("Die PLZ besteht aus fünf Ziffern.")},
    )
    city = forms.CharField(label=_("Ort"), max_length=100)
    contact_email = forms.EmailField(label=_("E-Mail für Rückfragen"))
    confirm = forms.BooleanField(
        label=_(
            "Ich bestätige, dass die Angaben stimmen und ich für diese Betriebsstätte "
            "berechtigt bin, den Praxisausweis zu bestellen."
        ),
        error_messages={"required": _("Bitte bestätigen Sie die Angaben.")},
    )


class ActivateForm(forms.Form):
    transport_pin = forms.CharField(
        label=_("Transport-PIN aus dem PIN-Brief"),
        max_length=8,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    new_pin = forms.CharField(
        label=_("Neue PIN.SMC"),
        max_length=8,
        help_text=_("6 bis 8 Ziffern, keine Folge wie 123456, nicht nur gleiche Ziffern."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "inputmode": "numeric"}),
    )
    new_pin_again = forms.CharField(
        label=_("Neue PIN.SMC wiederholen"),
        max_length=8,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "inputmode": "numeric"}),
    )

    def clean_new_pin(self):
        pin = self.cleaned_data["new_pin"]
        error = rules.check_pin(pin)
        if error:
            raise forms.ValidationError(error)
        return pin

    def clean(self):
        data = super().clean()
        if data.get("new_pin") and data.get("new_pin_again") != data["new_pin"]:
            self.add_error("new_pin_again", _("Die beiden PINs stimmen nicht überein."))
        return data


class PukForm(forms.Form):
    puk = forms.CharField(
        label=_("PUK aus dem PIN-Brief"),
        max_length=8,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )


class RefuseForm(ConfirmReasonForm):
    """The staff's refusal of an SMC-B order or a KIM account request (issue 14): the shared
    confirmation step; the reason is stored with the order or account and audited."""

    reason = forms.CharField(
        label=_("Ablehnungsgrund"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=1000,
        help_text=_("Wird beim Vorgang und im Zugriffsprotokoll gespeichert."),
        error_messages=ConfirmReasonForm.base_fields["reason"].error_messages,
    )


class DeregisterForm(ConfirmReasonForm):
    """The KV's termination („Kündigen“) of a registered KIM account (issue 14): the shared
    confirmation step; the reason is audited."""

    reason = forms.CharField(
        label=_("Kündigungsgrund"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=1000,
        help_text=_("Wird im Zugriffsprotokoll gespeichert."),
        error_messages=ConfirmReasonForm.base_fields["reason"].error_messages,
    )


class HolderDeregisterForm(ConfirmReasonForm):
    """The holder's own termination („Postfach kündigen“): the shared confirmation step. The
    explicit confirmation is required; a reason is optional (the holder decides about their
    own mailbox, unlike the KV's termination), and if given it is audited."""

    reason = forms.CharField(
        label=_("Grund (freiwillig)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000,
        help_text=_("Wird im Zugriffsprotokoll gespeichert."),
        error_messages=ConfirmReasonForm.base_fields["reason"].error_messages,
    )

    def clean_reason(self) -> str:
        return " ".join(self.cleaned_data["reason"].split())


class AccountRequestForm(forms.Form):
    local_part = forms.CharField(
        label=_("Gewünschte Adresse (vor dem @)"),
        max_length=64,
        help_text=_("Kleinbuchstaben, Ziffern, Punkt und Bindestrich."),
    )
    department = forms.CharField(
        label=_("Abteilung/Bereich (für das Verzeichnis)"), max_length=200, required=False
    )
    description = forms.CharField(
        label=_("Beschreibung (für das Verzeichnis)"),
        max_length=300,
        required=False,
        help_text=_("Damit Kollegen Ihre Adresse von ähnlichen unterscheiden können."),
    )

    def clean_local_part(self):
        local = self.cleaned_data["local_part"].strip().lower()
        error = rules.check_local_part(local)
        if error:
            raise forms.ValidationError(error)
        return local


class LimitsForm(forms.Form):
    max_mail_size = forms.IntegerField(
        label=_("Maximale Mailgröße (Byte)"), min_value=rules.MAX_MAIL_SIZE_MIN
    )
    data_time_to_live = forms.IntegerField(
        label=_("Aufbewahrung auf dem Server (Tage)"),
        min_value=rules.DATA_TTL_MIN,
        max_value=rules.DATA_TTL_MAX,
        help_text=_("10 bis 365 Tage; danach werden Nachrichten gelöscht."),
    )
    quota = forms.IntegerField(
        label=_("Speicherkontingent (Byte, -1 = unbegrenzt)"), min_value=rules.QUOTA_UNLIMITED
    )


class OutOfOfficeForm(forms.Form):
    active = forms.BooleanField(label=_("Abwesenheitsnotiz aktiv"), required=False)
    start = forms.DateTimeField(
        label=_("von"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    end = forms.DateTimeField(
        label=_("bis"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    message = forms.CharField(
        label=_("Text"), required=False, max_length=2048, widget=forms.Textarea(attrs={"rows": 3})
    )


class ConsentForm(forms.Form):
    enc_certificate = forms.CharField(
        label=_("Verschlüsselungszertifikat Ihres eHBA (C.HP.ENC, PEM)"),
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_(
            "Der Signatur-Agent zeigt es unter „Zertifikate“ an (-----BEGIN CERTIFICATE-----)."
        ),
    )
    department = forms.CharField(label=_("Abteilung/Bereich"), max_length=200, required=False)
    description = forms.CharField(label=_("Beschreibung"), max_length=300, required=False)
    consent = forms.BooleanField(
        label=_(
            "Ich willige ein, dass mein Name, meine Praxisanschrift, mein Fachgebiet, meine "
            "KIM-Adresse und mein Verschlüsselungszertifikat im Verzeichnis (Telefonbuch) "
            "veröffentlicht werden. Ich kann die Einwilligung jederzeit widerrufen."
        ),
        error_messages={"required": _("Ohne Einwilligung wird nichts veröffentlicht.")},
    )


class DirectorySearchForm(forms.Form):
    q = forms.CharField(label=_("Name, Praxis oder KIM-Adresse"), required=False, max_length=100)
    specialty = forms.CharField(label=_("Fachgebiet"), required=False, max_length=100)
    city = forms.CharField(label=_("Ort oder PLZ"), required=False, max_length=100)
    telematik_id = forms.CharField(label=_("Telematik-ID"), required=False, max_length=128)

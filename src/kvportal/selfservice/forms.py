from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("E-Mail-Adresse"),
        help_text=_("Für Benachrichtigungen über neue Dokumente und Antworten der KV."),
        error_messages={
            "required": _("Bitte geben Sie Ihre E-Mail-Adresse an."),
            "invalid": _("Bitte geben Sie eine gültige E-Mail-Adresse an, z. B. name@example.org."),
        },
    )


class ForgotPasswordForm(forms.Form):
    username = forms.CharField(
        label=_("Nutzername"),
        max_length=150,
        help_text=_("Steht auf Ihrem Zugangsbrief, z. B. mueller.a."),
        error_messages={"required": _("Bitte geben Sie Ihren Nutzernamen an.")},
    )
    bsnr = forms.CharField(
        label=_("Betriebsstättennummer (BSNR)"),
        max_length=9,
        min_length=9,
        help_text=_("Neun Ziffern; der neue Brief geht an die Anschrift dieser Betriebsstätte."),
        validators=[RegexValidator(r"^\d{9}$", _("Die BSNR hat genau neun Ziffern."))],
        error_messages={
            "required": _("Bitte geben Sie die BSNR Ihrer Praxis an."),
            "min_length": _("Die BSNR hat genau neun Ziffern."),
            "max_length": _("Die BSNR hat genau neun Ziffern."),
        },
    )

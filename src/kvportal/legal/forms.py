from django import forms
from django.utils.translation import gettext_lazy as _


class FeedbackForm(forms.Form):
    page = forms.CharField(
        label=_("Auf welcher Seite ist die Barriere?"),
        max_length=300,
        required=False,
        help_text=_("Adresse oder Name der Seite, z. B. „Dokumente“. Freiwillig."),
    )
    message = forms.CharField(
        label=_("Was funktioniert nicht oder ist schwer zu nutzen?"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_(
            "Beschreiben Sie die Barriere oder nennen Sie Inhalte, die Sie in einer "
            "barrierefreien Form erhalten möchten. Bitte keine Patientendaten."
        ),
        error_messages={"required": _("Bitte beschreiben Sie die Barriere.")},
    )
    name = forms.CharField(label=_("Ihr Name (freiwillig)"), max_length=150, required=False)
    email = forms.EmailField(
        label=_("E-Mail-Adresse für unsere Antwort (freiwillig)"),
        required=False,
        error_messages={
            "invalid": _("Bitte geben Sie eine gültige E-Mail-Adresse an, z. B. name@example.org.")
        },
    )

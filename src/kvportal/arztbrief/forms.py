"""Forms of the eArztbrief: write in the portal or upload a PDF (optionally a CDA document)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from kvportal.arztbrief.rules import split_addresses


class _Base(forms.Form):
    sender = forms.ModelChoiceField(queryset=None, label=_("Absender (Praxispostfach)"))
    recipient = forms.CharField(
        label=_("Empfänger (KIM-Adressen aus dem Verzeichnis)"),
        max_length=6000,
        help_text=_(
            "Eine oder mehrere Adressen aus der Kollegensuche, getrennt durch Komma oder Zeilen, "
            "z. B. praxis-muster@kv-sachsen.kim.example"
        ),
    )
    title = forms.CharField(
        label=_("Bezeichnung für Ihre Liste"),
        max_length=120,
        help_text=_("Ohne Patientendaten, z. B. „Befundbericht Kardiologie“."),
    )
    cda = forms.FileField(
        label=_("CDA-Dokument Ihrer Software (optional)"),
        required=False,
        help_text=_("XML-Datei, wird unverändert mitgesendet."),
    )

    def __init__(self, *args, mailboxes=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sender"].queryset = mailboxes
        if mailboxes is not None and len(mailboxes) == 1:
            self.fields["sender"].initial = mailboxes[0]

    def clean_recipient(self) -> list[str]:
        addresses = split_addresses(self.cleaned_data.get("recipient") or "")
        if not addresses:
            raise forms.ValidationError(_("Bitte mindestens eine KIM-Adresse angeben."))
        return addresses

    def _limit(self, upload, label):
        limit = settings.ARZTBRIEF_MAX_UPLOAD_MB * 1024 * 1024
        if upload is not None and upload.size > limit:
            raise forms.ValidationError(
                _("%(label)s ist größer als %(mb)s MB.")
                % {"label": label, "mb": settings.ARZTBRIEF_MAX_UPLOAD_MB}
            )
        return upload

    def clean_cda(self):
        upload = self._limit(self.cleaned_data.get("cda"), _("Das CDA-Dokument"))
        if upload is not None and not upload.name.lower().endswith(".xml"):
            raise forms.ValidationError(_("Das CDA-Dokument muss eine XML-Datei (.xml) sein."))
        return upload


class WriteForm(_Base):
    patient_name = forms.CharField(label=_("Patient/in: Name"), max_length=200)
    patient_birth_date = forms.DateField(
        label=_("Patient/in: Geburtsdatum"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    subject = forms.CharField(label=_("Betreff des Briefs"), max_length=200)
    text = forms.CharField(label=_("Brieftext"), widget=forms.Textarea(attrs={"rows": 12}))


class UploadForm(_Base):
    pdf = forms.FileField(label=_("Brief als PDF"))

    def clean_pdf(self):
        upload = self._limit(self.cleaned_data.get("pdf"), _("Der Brief"))
        head = upload.read(5)
        upload.seek(0)
        if head != b"%PDF-":
            raise forms.ValidationError(_("Der Brief muss eine PDF-Datei sein."))
        return upload


class BatchForm(forms.Form):
    briefe = forms.TypedMultipleChoiceField(coerce=int, label=_("Briefe"))

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["briefe"].choices = choices

"""Forms of the document pages (filters, single upload, import)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kvportal.core.quarters import Quarter
from kvportal.documents.models import DocType
from kvportal.members.models import Betriebsstaette


class FilterForm(forms.Form):
    bsnr = forms.ChoiceField(label=_("BSNR"), required=False)
    quartal = forms.ChoiceField(label=_("Quartal"), required=False)
    typ = forms.ChoiceField(label=_("Dokumenttyp"), required=False)
    suche = forms.CharField(label=_("Titel enthält"), required=False, max_length=100)

    def __init__(self, *args, practices=(), quarters=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bsnr"].choices = [("", _("alle"))] + [
            (p.bsnr, f"{p.bsnr} – {p.name}") for p in practices
        ]
        self.fields["quartal"].choices = [("", _("alle"))] + [(q.slug, str(q)) for q in quarters]
        self.fields["typ"].choices = [("", _("alle")), *list(DocType.choices)]

    def cleaned_quarter(self) -> Quarter | None:
        value = self.cleaned_data.get("quartal") if self.is_valid() else ""
        return Quarter.parse(value) if value else None


class UploadForm(forms.Form):
    bsnr = forms.CharField(label=_("BSNR"), max_length=9, min_length=9)
    lanr = forms.CharField(
        label=_("LANR"),
        max_length=9,
        required=False,
        help_text=_("nur bei arztbezogenen Dokumenten; leer = Dokument der ganzen BSNR"),
    )
    quartal = forms.CharField(label=_("Quartal"), help_text=_("z. B. 1/2026 oder 12026"))
    typ = forms.ChoiceField(label=_("Dokumenttyp"), choices=DocType.choices)
    titel = forms.CharField(label=_("Titel"), max_length=200)
    betrag = forms.CharField(
        label=_("Betrag (EUR)"), required=False, help_text=_("optional, z. B. 48.250,00")
    )
    auch_per_post = forms.BooleanField(label=_("Auch per Post versandt"), required=False)
    datei = forms.FileField(label=_("PDF-Datei"))

    def clean_bsnr(self):
        value = self.cleaned_data["bsnr"].strip()
        practice = Betriebsstaette.objects.filter(bsnr=value).first()
        if practice is None:
            raise forms.ValidationError(_("Diese BSNR ist im Arztregister nicht bekannt."))
        self.practice = practice
        return value

    def clean_lanr(self):
        from kvportal.members.identifiers import check_lanr

        value = self.cleaned_data.get("lanr", "").strip()
        if value:
            result = check_lanr(value)
            if not result.ok:
                raise forms.ValidationError(result.errors[0])
        return value

    def clean(self):
        data = super().clean()
        practice = getattr(self, "practice", None)
        lanr = data.get("lanr")
        if practice is not None and lanr:
            from kvportal.members.models import Taetigkeit

            if not Taetigkeit.objects.filter(betriebsstaette=practice, person__lanr=lanr).exists():
                self.add_error(
                    "lanr",
                    _("Die LANR %(lanr)s ist der BSNR %(bsnr)s nicht zugeordnet.")
                    % {"lanr": lanr, "bsnr": practice.bsnr},
                )
        return data

    def clean_quartal(self):
        try:
            return Quarter.parse(self.cleaned_data["quartal"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_betrag(self):
        from kvportal.documents.rules import parse_amount

        value = self.cleaned_data.get("betrag", "").strip()
        if not value:
            return None
        try:
            return parse_amount(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class ImportForm(forms.Form):
    manifest = forms.FileField(
        label=_("Manifest (CSV oder JSON)"),
        help_text=_("Spalten: Datei, BSNR, LANR, Quartal, Typ, Titel, Betrag (optional)"),
    )
    dateien = MultipleFileField(label=_("PDF-Dateien"), required=False)

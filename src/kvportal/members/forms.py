"""Forms of the Arztregister staff pages (issue 14): German messages at the field."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kvportal.core.forms import ConfirmReasonForm
from kvportal.members import selectors
from kvportal.members.models import Betriebsstaette, Person, Taetigkeit


def _please_choose(field: forms.Field) -> None:
    """A select's empty choice reads "Bitte wählen" (one term everywhere)."""
    assert isinstance(field, forms.ChoiceField)
    field.choices = [("", _("Bitte wählen")), *list(field.choices)[1:]]  # type: ignore[arg-type]


DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Suche"), required=False, max_length=100)
    sort = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)


class BetriebsstaetteForm(forms.ModelForm):
    class Meta:
        model = Betriebsstaette
        fields = [
            "bsnr", "name", "kind", "site", "haupt", "street", "postal_code", "city", "bezirk",
            "email", "phone",
        ]  # fmt: skip
        help_texts = {"bsnr": _("9 Stellen; die ersten beiden Stellen nennen die KV-Region.")}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        haupt = self.fields["haupt"]
        assert isinstance(haupt, forms.ModelChoiceField)
        haupt.queryset = Betriebsstaette.objects.filter(site="haupt")
        haupt.empty_label = _("Bitte wählen")
        for name in ("kind", "bezirk"):
            _please_choose(self.fields[name])

    def clean_postal_code(self) -> str:
        value = self.cleaned_data["postal_code"].strip()
        if value and not (len(value) == 5 and value.isdigit()):
            raise forms.ValidationError(_("Die PLZ hat fünf Ziffern."))
        return value

    def clean(self):
        data = super().clean()
        if data.get("site") == "neben" and not data.get("haupt"):
            self.add_error("haupt", _("Eine Nebenbetriebsstätte braucht ihre Hauptbetriebsstätte."))
        if data.get("site") == "haupt" and data.get("haupt"):
            self.add_error("haupt", _("Nur eine Nebenbetriebsstätte hat eine Hauptbetriebsstätte."))
        return data


class PersonForm(forms.ModelForm):
    class Meta:
        model = Person
        fields = [
            "lanr", "title", "first_name", "last_name", "profession", "fachgebiet",
            "telematik_id", "email",
        ]  # fmt: skip
        help_texts = {"lanr": _("9 Stellen mit Prüfziffer; leer für Personen ohne LANR.")}

    def clean_lanr(self):
        return (self.cleaned_data.get("lanr") or "").strip() or None


class TaetigkeitForm(forms.ModelForm):
    """A Tätigkeit of a person: at which BSNR, in which role, from/to."""

    bsnr = forms.CharField(label=_("BSNR"), max_length=9)

    class Meta:
        model = Taetigkeit
        fields = ["role", "valid_from", "valid_to", "anrechnungsfaktor", "weekly_hours"]
        widgets = {"valid_from": DATE, "valid_to": DATE}
        help_texts = {
            "valid_to": _("Leer lassen, solange die Tätigkeit andauert."),
            "anrechnungsfaktor": _("Bei Anstellung, z. B. 1,00 oder 0,50."),
        }

    field_order = ["bsnr", "role", "valid_from", "valid_to", "anrechnungsfaktor", "weekly_hours"]

    def __init__(self, *args, person: Person, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.instance.person = person
        if self.instance.pk:
            self.fields["bsnr"].initial = self.instance.betriebsstaette.bsnr
        _please_choose(self.fields["role"])

    def clean_bsnr(self) -> str:
        bsnr = self.cleaned_data["bsnr"].strip()
        practice = selectors.practice_by_bsnr(bsnr)
        if practice is None:
            raise forms.ValidationError(
                _("Die BSNR %(bsnr)s ist im Arztregister nicht angelegt.") % {"bsnr": bsnr}
            )
        self.instance.betriebsstaette = practice
        return bsnr

    def clean(self):
        data = super().clean()
        start, end = data.get("valid_from"), data.get("valid_to")
        if start and end and end < start:
            self.add_error("valid_to", _("Das Ende darf nicht vor dem Beginn liegen."))
        return data


class EndTaetigkeitForm(ConfirmReasonForm):
    """Ending a Tätigkeit: the last day plus the shared confirmation with a reason."""

    valid_to = forms.DateField(
        label=_("Letzter Tag der Tätigkeit"),
        widget=DATE,
        error_messages={
            "required": _("Bitte geben Sie den letzten Tag an."),
            "invalid": _("Bitte geben Sie ein gültiges Datum an (TT.MM.JJJJ)."),
        },
    )
    field_order = ["valid_to", "reason", "confirmed"]

    def __init__(self, *args, taetigkeit: Taetigkeit, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.taetigkeit = taetigkeit
        self.fields["valid_to"].initial = timezone.localdate()

    def clean_valid_to(self):
        value = self.cleaned_data["valid_to"]
        t = self.taetigkeit
        if value < t.valid_from:
            raise forms.ValidationError(
                _("Das Ende darf nicht vor dem Beginn (%(d)s) liegen.")
                % {"d": t.valid_from.strftime("%d.%m.%Y")}
            )
        if t.valid_to is not None and value > t.valid_to:
            raise forms.ValidationError(
                _("Die Tätigkeit endet bereits am %(d)s.") % {"d": t.valid_to.strftime("%d.%m.%Y")}
            )
        return value

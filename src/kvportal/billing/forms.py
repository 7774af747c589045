"""Forms of the billing app (German labels; the service decides, the form only collects)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kvportal.billing import rules
from kvportal.billing.models import KvResult, SubmissionState
from kvportal.billing.selectors import billing_practices
from kvportal.billing.services import max_upload_bytes, windows_around
from kvportal.core.forms import ConfirmReasonForm
from kvportal.core.quarters import Quarter


class PracticeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.bsnr} – {obj.name}"


def quarter_choices(today: dt.date) -> list[tuple[str, str]]:
    windows = windows_around(today, back=4)
    return [(q.slug, str(q)) for q in rules.submittable_quarters(today, windows, back=4)]


def quarter_offer(today: dt.date, opens: Quarter | None) -> dict[str, Any]:
    """Issue 14 defect 3: the quarters this user may submit today (`offered`, newest first),
    those the calendar would allow but billing is not yet open for the user (`blocked`, first
    online quarter `opens`), and which offered ones are late (`late`: quarter -> window)."""
    windows = windows_around(today, back=4)
    possible = rules.submittable_quarters(today, windows, back=4)
    offered = [q for q in possible if not rules.billing_open_problems(q, opens)] if opens else []
    late = {
        q: windows.get(q) or rules.default_window(q)
        for q in offered
        if rules.classify_timing(windows.get(q) or rules.default_window(q), today)
        is rules.Timing.LATE
    }
    return {
        "offered": offered,
        "blocked": [q for q in possible if q not in offered],
        "late": late,
        "opens": opens,
    }


class SubmissionForm(forms.Form):
    betriebsstaette = PracticeChoiceField(
        label=_("Betriebsstätte (BSNR)"),
        queryset=None,
        empty_label=None,
    )
    quarter = forms.ChoiceField(label=_("Abrechnungsquartal"))
    file = forms.FileField(
        label=_("Abrechnungsdatei"),
        help_text=_(
            "KVDT-Datei aus Ihrer Praxissoftware (Endung .con) oder mit dem KBV-Kryptomodul "
            "verschlüsselte Datei (Endung .con.xkm)."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".con,.xkm,.CON,.XKM"}),
        required=False,  # a kept file of a refused attempt may stand in (see `held_name`)
    )
    declare = forms.BooleanField(
        label=_(
            "Ich gebe die Erklärung zur Abrechnung für diese Betriebsstätte und dieses Quartal "
            "ab (nur für unterschriftsberechtigte Ärzte)."
        ),
        required=False,
    )

    def __init__(
        self,
        *args: Any,
        user: Any,
        today: dt.date,
        show_declare: bool,
        offer: dict[str, Any] | None = None,
        held_name: str = "",
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        #: name of the file kept from a refused attempt (used when no new file is chosen)
        self.held_name = held_name
        betriebsstaette_field = self.fields["betriebsstaette"]
        assert isinstance(betriebsstaette_field, forms.ModelChoiceField)  # declared above
        betriebsstaette_field.queryset = billing_practices(user).order_by("bsnr")
        if offer is None:
            choices = quarter_choices(today)
        else:  # only quarters the user may submit; late ones are announced in the label
            choices = [
                (
                    q.slug,
                    str(q)
                    + (
                        " – " + str(_("Frist abgelaufen, wird als verspätet gekennzeichnet"))
                        if q in offer["late"]
                        else ""
                    ),
                )
                for q in offer["offered"]
            ]
        quarter_field = self.fields["quarter"]
        assert isinstance(quarter_field, forms.ChoiceField)  # declared above
        quarter_field.choices = choices
        #: the offered quarters' slugs, newest first (the page shows each one's window)
        self.quarter_slugs: list[str] = [slug for slug, _label in choices]
        if choices and not quarter_field.initial:
            quarter_field.initial = choices[0][0]
        limit = max_upload_bytes() // (1024 * 1024)
        self.fields["file"].help_text = (
            str(self.fields["file"].help_text)
            + " "
            + str(_("Höchstens %(mb)s MB.") % {"mb": limit})
        )
        if not show_declare:
            del self.fields["declare"]
        else:
            from kvportal.billing.services import DECLARATION_TEXT

            wording = DECLARATION_TEXT.format(
                bsnr=_("(gewählte BSNR)"), quarter=_("(gewähltes Quartal)")
            )
            self.fields["declare"].help_text = str(
                _(
                    "Sie wird wirksam, sobald die Datei angenommen ist; wird die Datei "
                    "abgelehnt, geben Sie sie mit der korrigierten Datei erneut ab. Wortlaut: "
                    "%(text)s"
                )
            ) % {"text": wording}

    def clean_quarter(self) -> Quarter:
        return Quarter.parse(self.cleaned_data["quarter"])

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not data.get("file") and not self.held_name and "file" not in self.errors:
            self.add_error("file", _("Bitte wählen Sie die Abrechnungsdatei aus."))
        return data


class DeadlineForm(forms.Form):
    early_from = forms.DateField(
        label=_("Vorzeitige Abgabe ab"), widget=forms.DateInput(attrs={"type": "date"})
    )
    starts = forms.DateField(
        label=_("Abgabefrist von"), widget=forms.DateInput(attrs={"type": "date"})
    )
    ends = forms.DateField(
        label=_("Abgabefrist bis"), widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(label=_("Hinweis"), max_length=300, required=False)


class StaffFilterForm(forms.Form):
    quarter = forms.ChoiceField(label=_("Quartal"), required=False)
    bsnr = forms.CharField(label=_("BSNR"), max_length=9, required=False)
    state = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("alle")), *SubmissionState.choices],
    )
    late = forms.ChoiceField(
        label=_("Fristen"),
        required=False,
        choices=[("", _("alle")), ("1", _("nur verspätete")), ("0", _("nur fristgerechte"))],
    )
    current = forms.BooleanField(label=_("nur gültige Einreichungen"), required=False)

    def __init__(self, *args: Any, today: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        quarters = [Quarter.of(today)]
        for _i in range(11):
            quarters.append(quarters[-1].previous())
        quarter_field = self.fields["quarter"]
        assert isinstance(quarter_field, forms.ChoiceField)  # declared above
        quarter_field.choices = [("", _("alle"))] + [(q.slug, str(q)) for q in quarters]


class KvResultForm(forms.Form):
    result = forms.ChoiceField(
        label=_("Ergebnis der Prüfung durch die KV"), choices=KvResult.choices
    )
    note = forms.CharField(label=_("Vermerk"), max_length=500, required=False)


class KvRejectForm(ConfirmReasonForm):
    """The KV's rejection of a submission (issue 14): the shared confirmation step; the reason
    is the note the practice sees with the result."""

    reason = forms.CharField(
        label=_("Grund der Zurückweisung"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=500,
        help_text=_(
            "Die Praxis sieht ihn beim Prüfergebnis; er wird im Zugriffsprotokoll gespeichert."
        ),
        error_messages=ConfirmReasonForm.base_fields["reason"].error_messages,
    )


class TestRunForm(forms.Form):
    """Testabrechnung: BSNR, quarter (the running or the last one), plain `.con`."""

    betriebsstaette = PracticeChoiceField(
        label=_("Betriebsstätte (BSNR)"), queryset=None, empty_label=None
    )
    quarter = forms.ChoiceField(label=_("Abrechnungsquartal"))
    file = forms.FileField(
        label=_("KVDT-Datei (.con)"),
        help_text=_("Unverschlüsselte Abrechnungsdatei aus Ihrer Praxissoftware (Endung .con)."),
        widget=forms.ClearableFileInput(attrs={"accept": ".con,.CON"}),
    )

    def __init__(self, *args: Any, user: Any, today: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        betriebsstaette_field = self.fields["betriebsstaette"]
        assert isinstance(betriebsstaette_field, forms.ModelChoiceField)  # declared above
        betriebsstaette_field.queryset = billing_practices(user).order_by("bsnr")
        current = Quarter.of(today)
        quarter_field = self.fields["quarter"]
        assert isinstance(quarter_field, forms.ChoiceField)  # declared above
        quarter_field.choices = [(q.slug, str(q)) for q in (current, current.previous())]
        quarter_field.initial = current.slug

    def clean_quarter(self) -> Quarter:
        return Quarter.parse(self.cleaned_data["quarter"])

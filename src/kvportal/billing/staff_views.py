"""Staff worklist "Fehlende Abgaben" (role Abrechnung, issue 14): BSNRs without a current
submission for a chosen quarter."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kvportal.accounts.constants import StaffRole
from kvportal.accounts.decorators import staff_role_required
from kvportal.billing import staff
from kvportal.core.quarters import Quarter

SORT_CHOICES = [
    ("bsnr", _("BSNR aufsteigend")),
    ("-bsnr", _("BSNR absteigend")),
    ("name", _("Name aufsteigend")),
    ("-name", _("Name absteigend")),
]


class MissingFilterForm(forms.Form):
    quartal = forms.ChoiceField(
        label=_("Quartal"),
        error_messages={
            "invalid_choice": _(
                "Das Quartal „%(value)s“ ist nicht auswählbar; bitte wählen Sie ein Quartal "
                "aus der Liste."
            )
        },
    )
    sortierung = forms.ChoiceField(
        label=_("Sortierung"),
        choices=SORT_CHOICES,
        required=False,
        error_messages={
            "invalid_choice": _("Die Sortierung „%(value)s“ gibt es nicht (Feld Sortierung).")
        },
    )

    def __init__(self, *args: Any, today: dt.date, default: Quarter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        quarters = [Quarter.of(today)]
        for _i in range(11):
            quarters.append(quarters[-1].previous())
        quartal_field = self.fields["quartal"]
        assert isinstance(quartal_field, forms.ChoiceField)  # declared above
        quartal_field.choices = [(q.slug, str(q)) for q in quarters]
        self.fields["quartal"].initial = default.slug


@staff_role_required(StaffRole.ABRECHNUNG)
def missing(request):
    today = timezone.localdate()
    default, _next_window = staff.reporting_quarter(today)
    data = request.GET.copy() if request.GET else None
    if data is not None:
        data.setdefault("quartal", default.slug)
    form = MissingFilterForm(data, today=today, default=default)
    quarter, order = default, "bsnr"
    if form.is_bound and form.is_valid():
        quarter = Quarter.parse(form.cleaned_data["quartal"])
        order = form.cleaned_data["sortierung"] or "bsnr"
    practices = list(staff.missing_submissions(quarter, order=order))
    return render(
        request,
        "billing/staff_missing.html",
        {
            "form": form,
            "quarter": quarter,
            "order": order,
            "practices": practices,
            "count": len(practices),
        },
    )

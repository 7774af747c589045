"""Forms of the admission app. The application form is built from the type definition; all
fields are optional at this level (drafts may be incomplete) — the rules decide on checking."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kvportal.admission.models import CommitteeSession, Outcome
from kvportal.admission.rules.anlage1 import EVIDENCE_CHOICES
from kvportal.admission.rules.definitions import BEZIRKE, COMMITTEES, ApplicationType, FieldDef
from kvportal.admission.rules.types import REGISTRY
from kvportal.core.forms import ConfirmReasonForm

if TYPE_CHECKING:
    from django.http import QueryDict

    from kvportal.admission.models import Application

ANLAGE1_KEYS = ("start", "end", "kind", "institution", "weekly_hours", "evidence")
PARTNER_KEYS = ("name", "lanr", "email")
EXTRA_ANLAGE1_ROWS = 3
EXTRA_PARTNER_ROWS = 2


def _date_widget() -> forms.DateInput:
    """HTML date input; the value must be ISO (YYYY-MM-DD) whatever the locale."""
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _when_attrs(f: FieldDef) -> dict:
    when = f.when
    if hasattr(when, "name") and hasattr(when, "values"):
        return {"data-when-field": when.name, "data-when-values": " ".join(when.values)}
    return {}


def _form_field(f: FieldDef) -> forms.Field:
    attrs = _when_attrs(f)
    common: dict[str, Any] = {"label": f.label, "required": False, "help_text": f.help}
    if f.kind in ("radio", "choice"):
        return forms.ChoiceField(
            choices=list(f.choices), widget=forms.RadioSelect(attrs=attrs), **common
        )
    if f.kind == "date":
        return forms.CharField(
            widget=forms.DateInput(attrs={**attrs, "type": "date"}), max_length=10, **common
        )
    if f.kind == "textarea":
        return forms.CharField(
            widget=forms.Textarea(attrs={**attrs, "rows": 3}), max_length=f.max_length, **common
        )
    input_type = {"email": "email", "phone": "tel"}.get(f.kind, "text")
    extra = {"inputmode": "decimal"} if f.kind == "decimal" else {}
    return forms.CharField(
        widget=forms.TextInput(attrs={**attrs, **extra, "type": input_type}),
        max_length=f.max_length,
        **common,
    )


class ApplicationForm(forms.Form):
    """Dynamic form for one application type."""

    def __init__(self, app_type: ApplicationType, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app_type = app_type
        for f in app_type.fields:
            self.fields[f.name] = _form_field(f)

    def draft_data(self, saved: dict) -> tuple[dict, dict[str, list[str]]]:
        """The entered values for a draft and the refused ones. A value the form never offered
        (e.g. a tampered choice ``factor_to=7``) is refused with a field error and the saved
        value is kept instead of being dropped."""
        self.is_valid()
        data = {k: v for k, v in self.cleaned_data.items() if v is not None}
        refused: dict[str, list[str]] = {}
        for name in self.errors:
            if name not in self.fields:
                continue
            if name in saved:
                data[name] = saved[name]
            value = str(self.data.get(name, ""))[:40]
            refused[name] = [
                _(
                    "„%(label)s“: Der Wert „%(value)s“ ist keine der angebotenen "
                    "Auswahlmöglichkeiten und wurde nicht übernommen; der bisher gespeicherte "
                    "Wert bleibt erhalten."
                )
                % {"label": self.fields[name].label, "value": value}
                if isinstance(self.fields[name], forms.ChoiceField)
                else " ".join(str(e) for e in self.errors[name])
            ]
        return data, refused

    def section_fields(self, key: str) -> list[forms.BoundField]:
        return [self[f.name] for f in self.app_type.fields_in(key)]


def rows_from_post(post: QueryDict, prefix: str, keys: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a simple repeated table (`prefix-<i>-<key>`); empty rows are dropped."""
    rows = []
    index = 0
    while f"{prefix}-{index}-{keys[0]}" in post:
        row = {key: post.get(f"{prefix}-{index}-{key}", "").strip() for key in keys}
        if any(v for k, v in row.items() if k != "evidence"):
            rows.append(row)
        index += 1
    return rows


def padded(rows: list[dict], extra: int, keys: tuple[str, ...]) -> list[dict]:
    return [*rows, *({k: "" for k in keys} for _ in range(extra))]


class NewApplicationForm(forms.Form):
    type_code = forms.ChoiceField(
        label=_("Antragsart"),
        choices=[(t.code, t.title) for t in REGISTRY.values()],
        widget=forms.RadioSelect,
    )
    employee = forms.ChoiceField(label=_("Angestellte(r) – Betriebsstätte"))

    def __init__(
        self, *args: Any, employee_choices: Iterable[tuple[str, str]] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        employee_field = self.fields["employee"]
        assert isinstance(employee_field, forms.ChoiceField)  # declared above
        employee_field.choices = [("", "– bitte wählen –"), *employee_choices]


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Einmalcode aus der E-Mail"), max_length=6, min_length=6)


class AnswerForm(forms.Form):
    answer = forms.CharField(label=_("Ihre Antwort"), widget=forms.Textarea, required=False)
    file = forms.FileField(label=_("Unterlage (PDF)"), required=False)


class NachforderungForm(forms.Form):
    text = forms.CharField(label=_("Nachgefordert wird"), widget=forms.Textarea(attrs={"rows": 3}))
    due_date = forms.DateField(label=_("Antwort bis"), required=False, widget=_date_widget())


class FeeRequestForm(forms.Form):
    deadline = forms.DateField(label=_("Zahlungsfrist"), widget=_date_widget())

    def clean_deadline(self) -> dt.date:
        value = self.cleaned_data["deadline"]
        if value <= timezone.localdate():
            raise forms.ValidationError(_("Die Zahlungsfrist muss in der Zukunft liegen."))
        return value


class PaymentForm(forms.Form):
    paid_on = forms.DateField(label=_("Zahlungseingang am"), widget=_date_widget())
    reference = forms.CharField(label=_("Zahlungsreferenz"), required=False, max_length=100)


class DeferForm(forms.Form):
    note = forms.CharField(label=_("Vermerk zur Stundung"), required=False, max_length=500)


class ScheduleForm(forms.Form):
    session = forms.ModelChoiceField(label=_("Sitzung"), queryset=CommitteeSession.objects.none())

    def __init__(self, *args: Any, application: Application | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if application is not None:
            session_field = self.fields["session"]
            assert isinstance(session_field, forms.ModelChoiceField)  # declared above
            session_field.queryset = CommitteeSession.objects.filter(
                bezirk=application.bezirk,
                committee=application.committee,
                date__gte=timezone.localdate(),
            )


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Beschluss"), choices=Outcome.choices, widget=forms.RadioSelect
    )
    reasons = forms.CharField(
        label=_("Gründe"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )


class RejectForm(ConfirmReasonForm):
    """The confirmation of a rejection (issue 14): its reason is the Beschluss's reasons
    (§ 41 Abs. 4 Ärzte-ZV) — printed in the Beschluss, kept in the history, sent to the
    applicant; paragraphs are kept."""

    reason = forms.CharField(
        label=_("Gründe des Beschlusses"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_(
            "Stehen im Beschluss, in der Historie des Antrags und in der Nachricht an den "
            "Antragsteller (§ 41 Abs. 4 Ärzte-ZV)."
        ),
        error_messages=ConfirmReasonForm.base_fields["reason"].error_messages,
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Bitte geben Sie eine Begründung an."))
        return reason


class FinalForm(forms.Form):
    final_on = forms.DateField(label=_("Rechtskräftig seit"), widget=_date_widget())


class SessionForm(forms.Form):
    bezirk = forms.ChoiceField(label=_("Zulassungsbezirk"), choices=BEZIRKE)
    committee = forms.ChoiceField(label=_("Ausschuss"), choices=COMMITTEES)
    date = forms.DateField(label=_("Sitzungstag"), widget=_date_widget())
    deadline = forms.DateField(
        label=_("Annahmeschluss (leer: 6 Wochen vorher)"),
        required=False,
        widget=_date_widget(),
    )
    location = forms.CharField(label=_("Ort"), required=False, max_length=200)


class InboxFilterForm(forms.Form):
    bezirk = forms.ChoiceField(label=_("Bezirk"), choices=[("", "alle"), *BEZIRKE], required=False)
    committee = forms.ChoiceField(
        label=_("Ausschuss"), choices=[("", "alle"), *COMMITTEES], required=False
    )
    state = forms.ChoiceField(label=_("Status"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from kvportal.admission.models import ApplicationState

        super().__init__(*args, **kwargs)
        state_field = self.fields["state"]
        assert isinstance(state_field, forms.ChoiceField)  # declared above
        state_field.choices = [
            ("", "alle offenen"),
            *[(v, lbl) for v, lbl in ApplicationState.choices if v != "entwurf"],
        ]


EVIDENCE = EVIDENCE_CHOICES

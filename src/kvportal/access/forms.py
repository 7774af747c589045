# KBV IT-Sicherheitsrichtlinie Anl. 1 Nr. 48: no automated use (honeypot, proof-of-work, limits).
"""Forms of the access application."""

from __future__ import annotations

import time
from typing import Any

from django import forms
from django.core import signing
from django.utils.translation import gettext_lazy as _

from kvportal.access import antiabuse, rules

_SIGNER_SALT = "kvportal.access.start"


def new_form_stamp() -> str:
    return signing.dumps(time.time(), salt=_SIGNER_SALT)


class StartForm(forms.Form):
    """Public entry page: which kind of practice and whom we write to (no image puzzle)."""

    variant = forms.ChoiceField(
        label=_("Praxisform"),
        choices=[(v.value, rules.VARIANT_LABELS[v]) for v in rules.Variant],
        widget=forms.RadioSelect,
        initial=rules.Variant.MVZ.value,
    )
    contact_email = forms.EmailField(
        label=_("E-Mail-Adresse für den Link zum Antrag und Statusmitteilungen"),
        help_text=_(
            "An diese Adresse senden wir den persönlichen Link, mit dem Sie den Antrag "
            "später weiter bearbeiten können."
        ),
        error_messages={
            "required": _("Bitte geben Sie eine E-Mail-Adresse an."),
            "invalid": _("Bitte geben Sie eine gültige E-Mail-Adresse an, z. B. name@praxis.de."),
        },
    )
    # Honeypot: hidden by CSS, humans leave it empty.
    website = forms.CharField(
        label=_("Bitte dieses Feld leer lassen"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )
    stamp = forms.CharField(widget=forms.HiddenInput)
    nonce = forms.CharField(widget=forms.HiddenInput)
    #: Proof-of-work computed by core/proof.js; empty without JavaScript (stricter limit).
    proof = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, public: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.public = public

    def clean_website(self) -> str:
        if self.cleaned_data.get("website"):
            raise forms.ValidationError(
                _(
                    "Die Anfrage wurde als automatisiert erkannt und nicht angenommen: Das "
                    "Feld „Bitte dieses Feld leer lassen“ war ausgefüllt. Bitte leeren Sie es "
                    "und senden Sie das Formular erneut."
                )
            )
        return ""

    def clean_stamp(self) -> str:
        value = self.cleaned_data["stamp"]
        try:
            signing.loads(value, salt=_SIGNER_SALT, max_age=24 * 3600)
        except signing.BadSignature as exc:
            raise forms.ValidationError(
                _(
                    "Das Formular ist älter als 24 Stunden oder wurde verändert. Bitte senden "
                    "Sie es erneut; Ihre Angaben bleiben erhalten."
                )
            ) from exc
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data  # None: keep cleaned_data (Django)
        proof = (data.get("proof") or "").strip()
        stamp = data.get("stamp")
        zeros = antiabuse.difficulty()
        if self.public and proof and stamp and not antiabuse.proof_ok(stamp, proof, zeros=zeros):
            raise forms.ValidationError(
                _(
                    "Die automatische Sicherheitsprüfung Ihres Browsers ist fehlgeschlagen. "
                    "Bitte senden Sie das Formular erneut; Ihre Angaben bleiben erhalten."
                ),
                code="bad_proof",
            )
        return data

    @property
    def with_proof(self) -> bool:
        return bool((self.cleaned_data.get("proof") or "").strip())


class HeaderForm(forms.Form):
    #: chosen when the application was started: not asked a second time (issue 14)
    variant = forms.ChoiceField(
        label=_("Praxisform"),
        choices=[(v.value, rules.VARIANT_LABELS[v]) for v in rules.Variant],
        widget=forms.HiddenInput,
    )
    practice_name = forms.CharField(
        label=_("Name des MVZ / der Praxis"), max_length=200, required=False
    )
    bsnr = forms.CharField(
        label=_("Betriebsstättennummer (BSNR)"),
        max_length=9,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    traeger_name = forms.CharField(
        label=_("Träger des MVZ (z. B. GmbH)"), max_length=200, required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        variant = self.data.get("variant") if self.is_bound else self.initial.get("variant")
        if variant != rules.Variant.MVZ.value:  # only an MVZ has a Träger
            self.fields["traeger_name"].widget = forms.HiddenInput()

    def variant_label(self) -> str:
        variant = self.data.get("variant") if self.is_bound else self.initial.get("variant")
        if variant is None:
            return ""
        try:
            return rules.VARIANT_LABELS[rules.Variant(variant)]
        except ValueError:
            return ""


class PersonForm(forms.Form):
    role = forms.ChoiceField(
        label=_("Funktion"), choices=[(r.value, rules.ROLE_LABELS[r]) for r in rules.Role]
    )
    last_name = forms.CharField(label=_("Nachname"), max_length=100, required=False)
    first_name = forms.CharField(label=_("Vorname"), max_length=100, required=False)
    email = forms.CharField(label=_("E-Mail"), max_length=254, required=False)
    lanr = forms.CharField(
        label=_("LANR"),
        max_length=9,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    listed = forms.BooleanField(label=_("Zugang beantragen"), required=False)
    right_billing = forms.BooleanField(label=_("Abgabe der Abrechnung"), required=False)
    right_docs_bsnr = forms.BooleanField(
        label=_("Dokumente BSNR-bezogen (alle, mit Honorarbescheid)"), required=False
    )
    right_docs_lanr = forms.BooleanField(
        label=_("Dokumente arztbezogen (nur eigene)"), required=False
    )
    #: the card's "Entfernen": a removed person is dropped when the draft is saved
    remove = forms.BooleanField(label=_("Diese Person aus dem Antrag entfernen"), required=False)

    TEXT_FIELDS = ("role", "last_name", "first_name", "email", "lanr")
    ACCESS_FIELDS = ("listed", "right_billing", "right_docs_bsnr", "right_docs_lanr")

    def text_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.TEXT_FIELDS]

    def access_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.ACCESS_FIELDS]

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {}) or {}
        if data.get("remove"):
            return True
        return not any(
            (data.get(k) or "").strip() for k in ("last_name", "first_name", "email", "lanr")
        )


PersonFormSet = forms.formset_factory(PersonForm, extra=0, max_num=50, validate_max=True)


class AcknowledgeForm(forms.Form):
    acknowledge = forms.BooleanField(
        label=_(
            "Ich habe die Hinweise zu Sicherheit und Datenschutz gelesen und zur Kenntnis "
            "genommen (entspricht der Unterschrift unter die Rückseiten des Papierantrags)."
        ),
        required=False,
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Bestätigungscode aus der E-Mail"),
        max_length=6,
        min_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
        error_messages={
            "required": _("Bitte geben Sie den sechsstelligen Code ein."),
            "min_length": _("Der Code hat sechs Ziffern."),
            "max_length": _("Der Code hat sechs Ziffern."),
        },
    )


class DecisionForm(forms.Form):
    ACTIONS = [
        ("approve", _("Genehmigen")),
        ("corrections", _("Nachbesserung erbitten")),
        ("reject", _("Ablehnen")),
    ]
    action = forms.ChoiceField(choices=ACTIONS, widget=forms.HiddenInput)
    message = forms.CharField(
        label=_("Hinweis an den Antragsteller (bei Nachbesserung)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("alle"))] + [(s.value, rules.STATUS_LABELS[s]) for s in rules.Status],
    )
    variant = forms.ChoiceField(
        label=_("Praxisform"),
        required=False,
        choices=[("", _("alle"))] + [(v.value, rules.VARIANT_LABELS[v]) for v in rules.Variant],
    )
    flagged = forms.BooleanField(label=_("nur mit Prüfhinweisen"), required=False)
    q = forms.CharField(label=_("Suche (Antragsnummer, BSNR, Name)"), required=False)

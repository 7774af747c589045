from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from kvportal.accounts.constants import DELEGABLE_RIGHTS, ApiScope, Right
from kvportal.members.models import Betriebsstaette

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django.http import HttpRequest

    from kvportal.accounts.models import User
    from kvportal.audit.models import AccessLogEntry


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": _(
            "Nutzername oder Passwort ist falsch. Nach mehreren Fehlversuchen wird das Konto "
            "aus Sicherheitsgründen gesperrt."
        ),
        "inactive": _("Dieses Konto ist deaktiviert. Bitte wenden Sie sich an das Arztregister."),
        "expired": _(
            "Ihr Initialpasswort ist abgelaufen. Bitte fordern Sie beim Arztregister Ihrer "
            "Bezirksgeschäftsstelle einen neuen Zugangsbrief an."
        ),
    }

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = _("Nutzername")

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        if user.initial_password_expired:
            raise ValidationError(self.error_messages["expired"], code="expired")


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(
        label=_("Bisheriges Passwort"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password1 = forms.CharField(
        label=_("Neues Passwort"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password2 = forms.CharField(
        label=_("Neues Passwort wiederholen"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_old_password(self) -> str:
        value = self.cleaned_data["old_password"]
        if not self.user.check_password(value):
            raise ValidationError(_("Das bisherige Passwort ist falsch."), code="wrong")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data  # None: keep cleaned_data (Django)
        new1, new2 = data.get("new_password1"), data.get("new_password2")
        if new1 and new2 and new1 != new2:
            self.add_error("new_password2", _("Die beiden neuen Passwörter stimmen nicht überein."))
        elif new1:
            if data.get("old_password") and new1 == data["old_password"]:
                self.add_error(
                    "new_password1", _("Das neue Passwort muss sich vom bisherigen unterscheiden.")
                )
            else:
                try:
                    validate_password(new1, self.user)
                except ValidationError as exc:
                    self.add_error("new_password1", exc)
        return data


class OtpTokenForm(forms.Form):
    token = forms.CharField(
        label=_("Sicherheitscode aus Ihrer Authenticator-App"),
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class PraxispersonalForm(forms.Form):
    betriebsstaette: forms.ModelChoiceField[Betriebsstaette] = forms.ModelChoiceField(
        label=_("Betriebsstätte"), queryset=None
    )
    first_name = forms.CharField(label=_("Vorname"), max_length=100)
    last_name = forms.CharField(label=_("Nachname"), max_length=100)
    email = forms.EmailField(label=_("E-Mail"), required=False)
    rights = forms.MultipleChoiceField(
        label=_("Rechte"),
        choices=[(r.value, r.label) for r in Right if r in DELEGABLE_RIGHTS],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Bitte wählen Sie mindestens ein Recht.")},
    )

    def __init__(self, practices: QuerySet[Betriebsstaette], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        betriebsstaette_field = self.fields["betriebsstaette"]
        assert isinstance(betriebsstaette_field, forms.ModelChoiceField)  # declared above
        betriebsstaette_field.queryset = practices


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("Bezeichnung (z. B. Praxissoftware)"), max_length=100)
    scopes = forms.MultipleChoiceField(
        label=_("Bereiche"),
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Bitte wählen Sie mindestens einen Bereich.")},
    )

    def __init__(self, allowed_scopes: Iterable[str], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        scopes_field = self.fields["scopes"]
        assert isinstance(scopes_field, forms.ChoiceField)  # declared above
        scopes_field.choices = [c for c in ApiScope.choices if c[0] in allowed_scopes]


class NotificationForm(forms.Form):
    notify_by_email = forms.BooleanField(
        label=_("Über neue Dokumente per E-Mail benachrichtigen (ohne Inhalte)"), required=False
    )


class AccessLogFilterForm(forms.Form):
    """Filter of the access log by period and activity (issue 14 "Accounts")."""

    von = forms.DateField(
        label=_("Von"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Bitte geben Sie das Datum als TT.MM.JJJJ an.")},
    )
    bis = forms.DateField(
        label=_("Bis"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Bitte geben Sie das Datum als TT.MM.JJJJ an.")},
    )
    aktivitaet = forms.ChoiceField(label=_("Aktivität"), required=False)
    ansicht = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from kvportal.audit.models import Activity

        super().__init__(*args, **kwargs)
        aktivitaet_field = self.fields["aktivitaet"]
        assert isinstance(aktivitaet_field, forms.ChoiceField)  # declared above
        aktivitaet_field.choices = [("", _("alle Aktivitäten")), *Activity.choices]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data  # None: keep cleaned_data (Django)
        if data.get("von") and data.get("bis") and data["von"] > data["bis"]:
            self.add_error("bis", _("„Bis“ liegt vor „Von“. Bitte tauschen Sie die Daten."))
        return data

    def apply(self, entries: QuerySet[AccessLogEntry]) -> QuerySet[AccessLogEntry]:
        """The entries within the chosen period and activity (unfiltered when invalid)."""
        if not self.is_valid():
            return entries
        if self.cleaned_data.get("von"):
            entries = entries.filter(timestamp__date__gte=self.cleaned_data["von"])
        if self.cleaned_data.get("bis"):
            entries = entries.filter(timestamp__date__lte=self.cleaned_data["bis"])
        if self.cleaned_data.get("aktivitaet"):
            entries = entries.filter(activity=self.cleaned_data["aktivitaet"])
        return entries

"""Shared forms: the confirmation of a destructive staff decision (issue 14)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

#: The reason is stored in the access log; a page of text is enough.
REASON_MAX_LENGTH = 2000


class ConfirmReasonForm(forms.Form):
    """A refusal, revocation, deactivation or deletion needs a reason (stored in the audit
    event, shown in the history); `confirmed` is the explicit second step."""

    reason = forms.CharField(
        label=_("Begründung"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Wird im Protokoll gespeichert und in der Historie angezeigt."),
        error_messages={
            "required": _("Bitte geben Sie eine Begründung an."),
            "max_length": _("Die Begründung darf höchstens %(limit_value)d Zeichen lang sein."),
        },
    )
    confirmed = forms.BooleanField(
        label=_("Ich habe die Folgen gelesen und möchte fortfahren."),
        error_messages={"required": _("Bitte bestätigen Sie, dass Sie fortfahren möchten.")},
    )

    def clean_reason(self) -> str:
        reason = " ".join(self.cleaned_data["reason"].split())
        if not reason:
            raise forms.ValidationError(_("Bitte geben Sie eine Begründung an."))
        return reason

"""The billing app's entries of "Ihre Aufgaben" (issue 14): the current quarter's submission
before its deadline, a rejected file to correct, a declaration to give. One call of
`selectors.overview` (a fixed number of queries however many BSNRs the user holds)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from kvportal.core.registry import Task

#: quarters looked at: the one due now and the one before (a late correction)
QUARTERS = 2


def _submit_url(bsnr: str, quarter) -> str:
    return reverse("billing:submit") + "?" + urlencode({"bsnr": bsnr, "quarter": quarter.slug})


def overview_once(user, today):
    """`selectors.overview(user, today, count=QUARTERS)` read once per user object (the start
    page's card and "Ihre Aufgaben" share it: the page's query count stays constant and low)."""
    from kvportal.billing import selectors

    memo = user.__dict__.setdefault("_billing_overview", {})
    if today not in memo:
        memo[today] = selectors.overview(user, today, count=QUARTERS)
    return memo[today]


def tasks(user) -> list[Task]:
    from kvportal.accounts.constants import AccountKind
    from kvportal.billing import rules
    from kvportal.billing.models import SubmissionState

    if not getattr(user, "is_authenticated", False) or user.kind == AccountKind.STAFF:
        return []
    today = timezone.localdate()
    result: list[Task] = []
    for item in overview_once(user, today):
        bsnr = item.practice.bsnr
        for row in item.rows:
            names = {"q": str(row.quarter), "bsnr": bsnr}
            rejected = [s for s in row.submissions if s.state == SubmissionState.REJECTED]
            if item.billing and row.current is None and rejected:
                result.append(
                    Task(
                        _("Korrigierte Abrechnungsdatei %(q)s für BSNR %(bsnr)s hochladen") % names,
                        _submit_url(bsnr, row.quarter),
                        _("Die zuletzt eingereichte Datei wurde abgelehnt; siehe Prüfprotokoll."),
                        due=row.window.ends if row.window.ends >= today else None,
                    )
                )
            elif item.billing and row.state == rules.QuarterState.OPEN:
                result.append(
                    Task(
                        _("Abrechnung %(q)s für BSNR %(bsnr)s einreichen") % names,
                        _submit_url(bsnr, row.quarter),
                        _("Abgabefrist bis %(d)s.") % {"d": row.window.ends.strftime("%d.%m.%Y")},
                        due=row.window.ends,
                    )
                )
            if row.can_declare and row.current is not None and row.declaration is None:
                result.append(
                    Task(
                        _("Erklärung zur Abrechnung %(q)s für BSNR %(bsnr)s abgeben") % names,
                        reverse("billing:declare", args=[bsnr, row.quarter.slug]),
                        _("Die Abrechnungsdatei ist angenommen; die Erklärung fehlt noch."),
                    )
                )
    return result

"""Back-office reads for billing staff (role Abrechnung): the counts of the staff start page
and the worklist "Fehlende Abgaben" (issue 14). Staff see all BSNRs; callers check the role."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from kvportal.accounts import scope
from kvportal.accounts.constants import StaffRole
from kvportal.billing import rules
from kvportal.billing.models import Submission, SubmissionState, TestRun
from kvportal.billing.services import windows_around
from kvportal.core.quarters import Quarter
from kvportal.members.constants import SiteKind
from kvportal.members.models import Betriebsstaette

#: sort keys of the worklist → ORM ordering
MISSING_ORDERS = {
    "bsnr": ("bsnr",),
    "-bsnr": ("-bsnr",),
    "name": ("name", "bsnr"),
    "-name": ("-name", "bsnr"),
}


def reporting_quarter(today: dt.date) -> tuple[Quarter, rules.SubmissionWindow]:
    """The quarter whose submission window is open or has just closed, with the window of the
    next deadline (the first window not yet closed: this quarter's while it is open)."""
    windows = windows_around(today, back=2, ahead=1)
    quarter = rules.reporting_quarter(today, windows.values())
    upcoming = sorted((w for w in windows.values() if w.ends >= today), key=lambda w: w.ends)
    return quarter, upcoming[0] if upcoming else rules.default_window(quarter)


def missing_submissions(quarter: Quarter, *, order: str = "bsnr") -> QuerySet[Betriebsstaette]:
    """Hauptbetriebsstätten without a current (valid) submission for `quarter`."""
    current = Submission.objects.filter(
        betriebsstaette=OuterRef("pk"), quarter=quarter.slug, is_current=True
    )
    return (
        Betriebsstaette.objects.filter(site=SiteKind.HAUPT)
        .exclude(Exists(current))
        .order_by(*MISSING_ORDERS.get(order, MISSING_ORDERS["bsnr"]))
    )


def staff_counts(user: Any) -> list[dict[str, Any]]:
    """Counts for the staff start page (role Abrechnung); a fixed number of queries."""
    if not scope.is_staff_role(user, StaffRole.ABRECHNUNG):
        return []
    today = timezone.localdate()
    quarter, window = reporting_quarter(today)
    open_states = [SubmissionState.PENDING, SubmissionState.CHECKING, SubmissionState.KV_CHECK]
    in_quarter = Q(quarter=quarter.slug)
    subs = Submission.objects.aggregate(
        checking=Count("pk", filter=Q(state__in=open_states)),
        rejected=Count("pk", filter=in_quarter & Q(state=SubmissionState.REJECTED)),
        late=Count("pk", filter=in_quarter & Q(timing=rules.Timing.LATE.value)),
    )
    tests = TestRun.objects.filter(purged_at__isnull=True, state="pending").count()
    missing = missing_submissions(quarter).count()
    staff_list = reverse("billing:staff_list")
    return [
        {
            "role": StaffRole.ABRECHNUNG,
            "key": "billing_checking",
            "label": _("Einreichungen in Prüfung"),
            "count": subs["checking"],
            "url": staff_list,
        },
        {
            "role": StaffRole.ABRECHNUNG,
            "key": "billing_rejected",
            "label": _("abgelehnte Einreichungen (Quartal %(q)s)") % {"q": quarter},
            "count": subs["rejected"],
            "url": f"{staff_list}?quarter={quarter.slug}&state=rejected",
        },
        {
            "role": StaffRole.ABRECHNUNG,
            "key": "billing_late",
            "label": _("verspätete Einreichungen (Quartal %(q)s)") % {"q": quarter},
            "count": subs["late"],
            "url": f"{staff_list}?quarter={quarter.slug}&late=1",
        },
        {
            "role": StaffRole.ABRECHNUNG,
            "key": "billing_test_runs",
            "label": _("Testabrechnungen in Prüfung"),
            "count": tests,
            "url": "",
        },
        {
            "role": StaffRole.ABRECHNUNG,
            "key": "billing_missing",
            "label": _("Fehlende Abgaben (Quartal %(q)s)") % {"q": quarter},
            "count": missing,
            "url": f"{reverse('billing:missing')}?quartal={quarter.slug}",
        },
        {
            "role": StaffRole.ABRECHNUNG,
            "key": "billing_deadline",
            "label": _("nächste Abgabefrist: Quartal %(q)s") % {"q": window.quarter},
            "deadline": window.ends,
            "detail": _("%(start)s bis %(end)s")
            % {"start": f"{window.starts:%d.%m.%Y}", "end": f"{window.ends:%d.%m.%Y}"},
            "url": reverse("billing:deadlines"),
        },
    ]

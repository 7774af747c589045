# Seed 000: billing data of a BSNR is visible only to holders of the billing right there
# (all reads go through kvportal.accounts.scope).
"""Reads of billing data, always scoped by the user."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kvportal.accounts import scope
from kvportal.accounts.constants import Right
from kvportal.billing import rules
from kvportal.billing.models import Declaration, KvResult, Submission, SubmissionState
from kvportal.billing.services import billing_opens_for, may_declare, windows_around
from kvportal.core.quarters import Quarter
from kvportal.members.models import Betriebsstaette


def billing_practices(user: Any) -> QuerySet[Betriebsstaette]:
    return scope.practices(user, Right.BILLING)


def submissions_for(user: Any) -> QuerySet[Submission]:
    return scope.filter_practice(
        user, Submission.objects.select_related("betriebsstaette"), Right.BILLING
    )


def get_submission(user: Any, pk: int) -> Submission:
    return get_object_or_404(submissions_for(user), pk=pk)


def staff_submission(pk: int) -> Submission:
    """One submission for the KV's billing staff (staff see every BSNR), else 404."""
    return get_object_or_404(Submission.objects.select_related("betriebsstaette"), pk=pk)


def deadline_overrides() -> dict[str, Any]:
    """The staff's deadline overrides by quarter slug."""
    from kvportal.billing.models import SubmissionDeadline

    return {d.quarter: d for d in SubmissionDeadline.objects.all()}


def practice_by_bsnr(bsnr: str) -> Betriebsstaette | None:
    """The practice an API upload names (the service checks the right; unknown -> None)."""
    return Betriebsstaette.objects.filter(bsnr=bsnr).first()


def history(submission: Submission) -> QuerySet[Submission]:
    """All submissions for the same BSNR and quarter (caller has checked the scope)."""
    return Submission.objects.filter(
        betriebsstaette_id=submission.betriebsstaette_id, quarter=submission.quarter
    ).order_by("-received_at", "-id")


def declaration_for(betriebsstaette: Betriebsstaette, quarter: Quarter) -> Declaration | None:
    return Declaration.objects.filter(betriebsstaette=betriebsstaette, quarter=quarter.slug).first()


STATE_LABELS = {
    rules.QuarterState.NOT_YET: (_("Abgabe noch nicht möglich"), ""),
    rules.QuarterState.OPEN: (_("offen"), "badge-warn"),
    rules.QuarterState.SUBMITTED: (_("eingereicht"), "badge-ok"),
    rules.QuarterState.SUBMITTED_LATE: (_("verspätet eingereicht"), "badge-warn"),
    rules.QuarterState.OVERDUE: (_("Frist abgelaufen – nicht eingereicht"), "badge-err"),
}


@dataclass
class QuarterRow:
    quarter: Quarter
    window: rules.SubmissionWindow
    state: rules.QuarterState
    current: Submission | None
    submissions: list[Submission]
    declaration: Declaration | None
    can_declare: bool

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state][0])

    @property
    def window_text(self) -> str:
        """The Abgabefrist as the overview shows it: "01.01.2027–15.01.2027"."""
        return f"{self.window.starts:%d.%m.%Y}–{self.window.ends:%d.%m.%Y}"

    @property
    def deadline_text(self) -> str:
        """The start page card's line: "Abgabefrist 01.01.2027–15.01.2027"."""
        return gettext("Abgabefrist %(a)s–%(b)s") % {
            "a": f"{self.window.starts:%d.%m.%Y}",
            "b": f"{self.window.ends:%d.%m.%Y}",
        }

    @property
    def early_text(self) -> str:
        return gettext("vorzeitig ab %(d)s") % {"d": f"{self.window.early_from:%d.%m.%Y}"}

    @property
    def badge(self) -> str:
        return STATE_LABELS[self.state][1]

    @property
    def declaration_pending(self) -> bool:
        return self.current is not None and self.declaration is None


@dataclass
class PracticeOverview:
    practice: Betriebsstaette
    billing: bool
    can_declare: bool
    rows: list[QuarterRow] = field(default_factory=list)
    #: who has to give the declaration (set by the overview view, issue 14 defect 2)
    declarers: list[str] = field(default_factory=list)


def _declarable_ids(user: Any, practice_ids: list[int]) -> set[int]:
    """`services.may_declare` for all of the user's practices in one query (issue 13): a
    doctor's own account with an active signature-entitled Tätigkeit at a BSNR he can access."""
    from kvportal.accounts.constants import AccountKind
    from kvportal.members.constants import SIGNATURE_ROLES
    from kvportal.members.models import Taetigkeit

    if not getattr(user, "is_authenticated", False) or user.kind != AccountKind.MEMBER:
        return set()
    if not user.person_id or not practice_ids:
        return set()
    return set(
        Taetigkeit.objects.active()
        .filter(
            person_id=user.person_id,
            betriebsstaette_id__in=practice_ids,
            role__in=SIGNATURE_ROLES,
        )
        .values_list("betriebsstaette_id", flat=True)
    )


def overview(user: Any, today: dt.date, *, count: int = 6) -> list[PracticeOverview]:
    """Per BSNR (billing right, or signature-entitled for the declaration): the expected
    quarters with state, current submission, all submissions and the declaration. A fixed
    number of queries, however many practices the user holds (issue 13)."""
    windows = windows_around(today, back=count)
    opens = billing_opens_for(user)
    billing = list(billing_practices(user))
    billing_ids = {p.pk for p in billing}
    accessible = list(scope.practices(user))
    entitled_ids = _declarable_ids(user, [p.pk for p in accessible])
    practices = billing + [
        p for p in accessible if p.pk not in billing_ids and p.pk in entitled_ids
    ]
    quarters = rules.expected_quarters(today, opens=opens, count=count)
    result = []
    slugs = [q.slug for q in quarters]
    subs: dict[tuple[int, str], list[Submission]] = {}
    declarations: dict[tuple[int, str], Declaration] = {}
    if slugs and practices:
        for s in Submission.objects.filter(betriebsstaette_id__in=billing_ids, quarter__in=slugs):
            subs.setdefault((s.betriebsstaette_id, s.quarter), []).append(s)
        for d in Declaration.objects.filter(
            betriebsstaette_id__in=[p.pk for p in practices], quarter__in=slugs
        ):
            declarations[(d.betriebsstaette_id, d.quarter)] = d
    for practice in sorted(practices, key=lambda p: p.bsnr):
        entitled = practice.pk in entitled_ids
        item = PracticeOverview(
            practice=practice, billing=practice.pk in billing_ids, can_declare=entitled
        )
        for quarter in quarters:
            window = windows.get(quarter) or rules.default_window(quarter)
            quarter_subs = subs.get((practice.pk, quarter.slug), [])
            current = next((s for s in quarter_subs if s.is_current), None)
            declaration = declarations.get((practice.pk, quarter.slug))
            item.rows.append(
                QuarterRow(
                    quarter=quarter,
                    window=window,
                    state=rules.quarter_state(
                        window,
                        today,
                        submitted=current is not None,
                        late=bool(current and current.is_late),
                    ),
                    current=current,
                    submissions=quarter_subs,
                    declaration=declaration,
                    # issue 14 defect 2: only for a quarter with an accepted file
                    # … and not one the KV sent back (issue 14: destructive decisions)
                    can_declare=entitled
                    and declaration is None
                    and current is not None
                    and current.kv_result != KvResult.REJECTED,
                )
            )
        result.append(item)
    return result


def staff_submissions(
    *,
    quarter: str = "",
    bsnr: str = "",
    state: str = "",
    late: str = "",
    current: str = "",
) -> QuerySet[Submission]:
    """All submissions for the KV's billing staff, filtered."""
    qs = Submission.objects.select_related("betriebsstaette", "submitted_by")
    if quarter:
        qs = qs.filter(quarter=quarter)
    if bsnr:
        qs = qs.filter(betriebsstaette__bsnr__startswith=bsnr)
    if state:
        qs = qs.filter(state=state)
    if late == "1":
        qs = qs.filter(timing=rules.Timing.LATE.value)
    elif late == "0":
        qs = qs.exclude(timing=rules.Timing.LATE.value)
    if current == "1":
        qs = qs.filter(is_current=True)
    return qs.order_by("-received_at", "-id")


def test_runs_for(user: Any):
    """Testabrechnung runs of the BSNRs the user holds the billing right for."""
    from kvportal.billing.models import TestRun

    return scope.filter_practice(
        user, TestRun.objects.select_related("betriebsstaette"), Right.BILLING
    ).filter(purged_at__isnull=True)


# --- Erklärung zur Abrechnung (issue 14 defect 2) ---------------------------------------------


def declarers(betriebsstaette: Betriebsstaette) -> list[str]:
    """Names of those who may give the declaration for the BSNR (active Tätigkeit as
    Vertragsarzt/Gesellschafter or Ärztlicher Leiter): shown to everyone else."""
    return declarers_by_practice([betriebsstaette]).get(betriebsstaette.pk, [])


def declarers_by_practice(practices: list[Betriebsstaette]) -> dict[int, list[str]]:
    """`declarers` for several BSNRs with one query (practice id -> sorted names)."""
    from kvportal.members.constants import SIGNATURE_ROLES
    from kvportal.members.models import Taetigkeit

    if not practices:
        return {}
    rows = (
        Taetigkeit.objects.active()
        .filter(betriebsstaette_id__in=[p.pk for p in practices], role__in=SIGNATURE_ROLES)
        .select_related("person")
    )
    names: dict[int, set[str]] = {}
    for t in rows:
        names.setdefault(t.betriebsstaette_id, set()).add(t.person.full_name)
    return {pk: sorted(found, key=str.casefold) for pk, found in names.items()}


def declaration_practice(user: Any, bsnr: str) -> Betriebsstaette:
    """The practice of a declaration page: billing right or signature-entitled, else 404."""
    practice = get_object_or_404(scope.practices(user), bsnr=bsnr)
    if not (scope.has_right(user, practice, Right.BILLING) or may_declare(user, practice)):
        from django.http import Http404

        raise Http404
    return practice


def declaration_files(betriebsstaette: Betriebsstaette, quarter: Quarter) -> dict[str, Any]:
    """The accepted file a declaration refers to, and a file still in check that carries a
    declaration given with it (caller has checked the scope)."""
    from kvportal.billing.services import accepted_submission

    waiting = (
        Submission.objects.filter(
            betriebsstaette=betriebsstaette,
            quarter=quarter.slug,
            declare_on_accept__isnull=False,
            state__in=[SubmissionState.PENDING, SubmissionState.CHECKING],
        )
        .order_by("-received_at")
        .first()
    )
    return {"accepted": accepted_submission(betriebsstaette, quarter), "waiting": waiting}

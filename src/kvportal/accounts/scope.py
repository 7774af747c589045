"""The one scoping layer for practice data (seed 000 rights per user × BSNR).

Every read of practice-bound data goes through these functions. Out-of-scope objects are
never listed and never served: detail lookups raise Http404, whatever id is tried."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.http import Http404

from kvportal.accounts.constants import AccountKind, Right, StaffRole
from kvportal.accounts.models import PortalRight, User
from kvportal.members.constants import PracticeKind, Role
from kvportal.members.models import Betriebsstaette, Taetigkeit

T = TypeVar("T")

# ---------------------------------------------------------------- once per request (issue 13)

#: Per-request memo {(kind, user id): value}; None outside a request (tasks, commands, direct
#: calls in tests), where every call reads afresh. Set by accounts.middleware.ScopeCacheMiddleware.
_request_memo: ContextVar[dict | None] = ContextVar("kvportal_scope_memo", default=None)


@contextmanager
def request_memo():
    """Effective rights and staff roles are read once inside this block (one request)."""
    token = _request_memo.set({})
    try:
        yield
    finally:
        _request_memo.reset(token)


def forget_rights() -> None:
    """Rights or Tätigkeiten changed inside the request: the next read goes to the database
    again (called by the PortalRight/Taetigkeit signals in accounts/signals.py)."""
    memo = _request_memo.get()
    if memo is not None:
        memo.clear()


def _memoized(kind: str, user: Any, compute: Callable[[], T]) -> T:
    memo = _request_memo.get()
    if memo is None:
        return compute()
    key = (kind, user.pk)
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def once_per_request(kind: str, user: Any, compute: Callable[[], T]) -> T:
    """`compute()` read once per request and user (e.g. a count that the start page's card and
    its task list both show); outside a request, and after rights change, it is read afresh.
    Only for reads that the request itself does not change."""
    return _memoized(f"app:{kind}", user, compute)


@dataclass(frozen=True)
class EffectiveRights:
    """A user's effective rights per Betriebsstätte, read with one query."""

    practices: dict[int, Betriebsstaette] = field(default_factory=dict)
    by_practice: dict[int, frozenset[str]] = field(default_factory=dict)
    #: the user's own LANR (for the own-LANR document right)
    lanr: str | None = None
    #: practice ids ordered by BSNR (computed once, every `ids()` call filters it)
    ordered: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if len(self.ordered) != len(self.practices):
            ordered = sorted(self.practices, key=lambda pk: self.practices[pk].bsnr)
            object.__setattr__(self, "ordered", tuple(ordered))

    def ids(self, right: Right | str | None = None) -> list[int]:
        """Practice ids (ordered by BSNR) where the right is held (any right when None)."""
        if right is None:
            return list(self.ordered)
        wanted = str(right)
        return [pk for pk in self.ordered if wanted in self.by_practice[pk]]


def _is_member(user: Any) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.kind != AccountKind.STAFF
    )


#: the Betriebsstätte columns read along with the rights (one model instance per BSNR, not
#: one per right row as `select_related` would build)
_PRACTICE_FIELDS = list(Betriebsstaette._meta.concrete_fields)


def _read_rights(user: Any) -> EffectiveRights:
    leiter = Taetigkeit.objects.active().filter(
        person_id=user.person_id,
        role=Role.AERZTLICHER_LEITER,
        betriebsstaette_id=OuterRef("betriebsstaette_id"),
        betriebsstaette__kind=PracticeKind.MVZ,
    )
    rows = (
        PortalRight.objects.filter(user_id=user.pk)
        .annotate(is_leiter=Exists(leiter), own_lanr=F("user__person__lanr"))
        .values_list(
            "right",
            "is_leiter",
            "own_lanr",
            *(f"betriebsstaette__{f.name}" for f in _PRACTICE_FIELDS),
        )
    )
    attnames = [f.attname for f in _PRACTICE_FIELDS]
    practices: dict[int, Betriebsstaette] = {}
    held: dict[int, set[str]] = {}
    lanr = None
    for right, is_leiter, own_lanr, *values in rows:
        pk = values[0]
        if pk not in practices:
            practices[pk] = Betriebsstaette.from_db(rows.db, attnames, values)
        rights = held.setdefault(pk, set())
        rights.add(right)
        # Seed 000: an Ärztlicher Leiter (MVZ) with portal access always holds the billing right.
        if user.person_id and is_leiter:
            rights.add(Right.BILLING.value)
        lanr = own_lanr or lanr
    return EffectiveRights(
        practices=practices, by_practice={pk: frozenset(r) for pk, r in held.items()}, lanr=lanr
    )


def effective_rights(user: Any) -> EffectiveRights:
    """Every effective right of the user (one query, once per request)."""
    if not _is_member(user):
        return EffectiveRights()
    return _memoized("rights", user, lambda: _read_rights(user))


def _prefilled(ids: list[int], rights: EffectiveRights) -> QuerySet[Betriebsstaette]:
    """`Betriebsstaette.objects.filter(pk__in=ids)` whose result is already known: iterating,
    `exists()` and `len()` need no query; chained filters and orderings query as usual.
    The filter itself is deferred (Django's own `_deferred_filter`, applied on first access
    to `.query`): building it costs more than the whole cached iteration."""
    qs = Betriebsstaette.objects.all()
    qs._deferred_filter = (False, (), {"pk__in": ids})  # type: ignore[attr-defined]  # private QuerySet state
    qs._result_cache = [rights.practices[pk] for pk in ids]
    qs._prefetch_done = True  # type: ignore[attr-defined]  # private QuerySet state, not in django-stubs
    return qs


def practice_ids(user: Any, right: Right | str) -> list[int]:
    """Ids of the Betriebsstätten where `user` effectively holds `right` (a literal list:
    usable in `__in` lookups like the subquery it once was)."""
    return effective_rights(user).ids(right)


def practices(user: Any, right: Right | str | None = None) -> QuerySet[Betriebsstaette]:
    """Betriebsstätten where the user holds `right` (any right when None), ordered by BSNR."""
    rights = effective_rights(user)
    return _prefilled(rights.ids(right), rights)


def practices_with_any(user: Any, *rights: Right | str) -> QuerySet[Betriebsstaette]:
    """Betriebsstätten where the user holds at least one of `rights`, ordered by BSNR."""
    held = effective_rights(user)
    wanted = {str(r) for r in rights}
    return _prefilled([pk for pk in held.ids() if held.by_practice[pk] & wanted], held)


def has_right(user: Any, betriebsstaette: Betriebsstaette | int, right: Right | str) -> bool:
    pk = betriebsstaette if isinstance(betriebsstaette, int) else betriebsstaette.pk
    return str(right) in effective_rights(user).by_practice.get(pk, frozenset())


def has_any(user: Any, right: Right | str | None = None) -> bool:
    """Whether the user holds `right` (any right when None) for at least one BSNR."""
    return bool(effective_rights(user).ids(right))


def require_right(user: Any, betriebsstaette: Betriebsstaette | int, right: Right | str) -> None:
    if not has_right(user, betriebsstaette, right):
        raise Http404("Nicht gefunden.")


def rights_by_practice(user: Any) -> dict[Betriebsstaette, set[str]]:
    """All effective rights of the user, per Betriebsstätte (for the start page)."""
    rights = effective_rights(user)
    return {rights.practices[pk]: set(rights.by_practice[pk]) for pk in rights.ids()}


def practice_id_list(user: Any, right: Right | str) -> list[int]:
    """The ids of `practice_ids` as a small list: a user holds rights for a handful of BSNRs,
    and a literal IN list lets PostgreSQL use the (bsnr, …) indexes of large tables instead of
    planning a semi-join over them (measured: 308 ms → 0.3 ms on one million documents)."""
    return effective_rights(user).ids(right)


def document_practice_ids(user: Any) -> list[int]:
    """Ids of the BSNRs where the user holds one of the two document rights (by BSNR)."""
    return [p.pk for p in practices_with_any(user, Right.DOCS_BSNR, Right.DOCS_LANR)]


def filter_practice(
    user: Any, queryset: QuerySet, right: Right | str, *, bsnr_field: str = "betriebsstaette"
) -> QuerySet:
    """Any practice-bound queryset restricted to the BSNRs where the user holds `right`."""
    return queryset.filter(**{f"{bsnr_field}__in": practice_id_list(user, right)})


def filter_documents(
    user: Any,
    queryset: QuerySet,
    *,
    bsnr_field: str = "betriebsstaette",
    lanr_field: str = "lanr",
) -> QuerySet:
    """The two document rights of seed 000.

    BSNR-wide right → every document of that BSNR; own-LANR right → only documents carrying
    the user's own LANR at that BSNR; neither → nothing."""
    if not _is_member(user):
        return queryset.none()
    rights = effective_rights(user)
    condition = Q(**{f"{bsnr_field}__in": rights.ids(Right.DOCS_BSNR)})
    lanr_ids = rights.ids(Right.DOCS_LANR)
    if rights.lanr and lanr_ids:
        condition |= Q(**{f"{bsnr_field}__in": lanr_ids}) & Q(**{lanr_field: rights.lanr})
    return queryset.filter(condition)


def document_recipients(*, betriebsstaette_id: int, lanr: str | None) -> QuerySet[User]:
    """The inverse of `filter_documents`: active practice accounts that may see a document of
    this BSNR (BSNR-wide right, or own-LANR right with the document's LANR)."""
    condition = Q(right=Right.DOCS_BSNR)
    if lanr:
        condition |= Q(right=Right.DOCS_LANR, user__person__lanr=lanr)
    holders = PortalRight.objects.filter(condition, betriebsstaette_id=betriebsstaette_id)
    return User.objects.filter(pk__in=holders.values("user_id"), is_active=True).exclude(
        kind=AccountKind.STAFF
    )


def staff_roles(user: Any) -> set[str]:
    if not (user is not None and user.is_authenticated and user.is_active):
        return set()
    if user.is_superuser:
        return set(StaffRole.values)
    if user.kind != AccountKind.STAFF:
        return set()
    return set(
        _memoized(
            "staff_roles",
            user,
            lambda: frozenset(
                user.groups.filter(name__in=StaffRole.values).values_list("name", flat=True)
            ),
        )
    )


def is_staff_role(user: Any, role: StaffRole | str) -> bool:
    return role in staff_roles(user)


def is_kv_staff(user: Any) -> bool:
    return bool(staff_roles(user))

# Seed 000 rights: BSNR-wide → all documents of the BSNR; own LANR → only his documents;
# neither → nothing (lists, downloads, search, counts and the API alike).
"""Reads of documents, always through `kvportal.accounts.scope`."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from kvportal.accounts import scope
from kvportal.accounts.constants import Right
from kvportal.core.quarters import Quarter
from kvportal.documents import rules
from kvportal.documents.models import (
    DeletedDocument,
    Document,
    ReadReceipt,
    int_to_quarter,
    quarter_to_int,
)
from kvportal.members.models import Betriebsstaette


def document_practice_ids(user: Any) -> list[int]:
    """Ids of the BSNRs where the user holds one of the two document rights."""
    return scope.document_practice_ids(user)


def visible_documents(user: Any) -> QuerySet[Document]:
    """Every document the user may see (the scope layer hands the database literal BSNR id
    lists, so the (betriebsstaette, …) indexes serve even a million documents)."""
    return scope.filter_documents(
        user, Document.objects.all(), bsnr_field="betriebsstaette", lanr_field="lanr"
    )


def visible_tombstones(user: Any) -> QuerySet[DeletedDocument]:
    return scope.filter_documents(
        user, DeletedDocument.objects.all(), bsnr_field="betriebsstaette", lanr_field="lanr"
    )


def document_practices(user: Any) -> QuerySet[Betriebsstaette]:
    """The BSNRs of the two document rights, ordered by BSNR (no query of its own)."""
    return scope.practices_with_any(user, Right.DOCS_BSNR, Right.DOCS_LANR)


def search_documents(
    user: Any,
    *,
    bsnr: str = "",
    quarter: Quarter | None = None,
    doc_type: str = "",
    text: str = "",
) -> QuerySet[Document]:
    """The member list: filters, title search, newest first, with the unread marker."""
    qs = visible_documents(user)
    if bsnr:
        qs = qs.filter(betriebsstaette__bsnr=bsnr)
    if quarter is not None:
        qs = qs.filter(quarter=quarter_to_int(quarter))
    if doc_type:
        qs = qs.filter(doc_type=doc_type)
    if text:
        qs = qs.filter(title__icontains=text.strip())
    return (
        qs.select_related("betriebsstaette")
        .annotate(
            is_read=Exists(ReadReceipt.objects.filter(document=OuterRef("pk"), user_id=user.pk))
        )
        .order_by("-published_at", "-id")
    )


def available_quarters(user: Any) -> list[Quarter]:
    values = visible_documents(user).order_by().values_list("quarter", flat=True).distinct()
    return sorted((int_to_quarter(v) for v in values), reverse=True)


def unread_count(user: Any) -> int:
    """Unread documents of the user (read once per request: the start page's card and its
    task list both show it)."""
    return scope.once_per_request(
        "documents.unread",
        user,
        lambda: (
            visible_documents(user)
            .exclude(Exists(ReadReceipt.objects.filter(document=OuterRef("pk"), user_id=user.pk)))
            .count()
        ),
    )


def may_see_receipts(user: Any, document: Document) -> bool:
    """'Who opened it and when' is shown to holders of the BSNR-wide right only."""
    return scope.has_right(user, document.betriebsstaette_id, Right.DOCS_BSNR)


def receipts_for(document: Document) -> QuerySet[ReadReceipt]:
    return document.receipts.select_related("user", "user__person").order_by("first_opened_at")


def honorar_charts(
    practices: list[Betriebsstaette], current: Quarter, *, count: int = 8
) -> dict[int, tuple[list[Quarter], dict[Quarter, Any]]]:
    """Per practice: the `count` quarters ending with its latest quarter with a Honorar amount
    (at most `current`; `current` when there is none) and the amount per quarter (the latest
    published Honorarbescheid wins) — for all practices with one query (issue 13)."""
    if not practices:
        return {}
    rows = (
        Document.objects.filter(
            betriebsstaette_id__in=[p.pk for p in practices],
            doc_type__in=rules.HONORAR_TYPES,
            amount__isnull=False,
            quarter__lte=quarter_to_int(current),
        )
        .order_by("quarter", "published_at", "id")
        .values_list("betriebsstaette_id", "quarter", "amount")
    )
    amounts: dict[int, dict[int, Any]] = {}
    for practice_id, value, amount in rows:
        amounts.setdefault(practice_id, {})[value] = amount  # later rows win
    result = {}
    for practice in practices:
        per_quarter = amounts.get(practice.pk, {})
        end = int_to_quarter(max(per_quarter)) if per_quarter else current
        quarters = rules.last_quarters(end, count)
        wanted = {quarter_to_int(q): q for q in quarters}
        result[practice.pk] = (
            quarters,
            {wanted[v]: amount for v, amount in per_quarter.items() if v in wanted},
        )
    return result


#: sort orders of the member list (GET ?sortierung=...)
SORTS = {
    "quartal": "Quartal, Honorarbescheid zuerst",
    "neueste": "Neueste zuerst",
    "titel": "Titel (A–Z)",
    "typ": "Dokumenttyp",
}


def order_documents(qs: QuerySet[Document], sort: str = "quartal") -> QuerySet[Document]:
    """The member list in the chosen order; default: by quarter (newest first), within a
    quarter the Honorarbescheid first, then the newest (issue 14 "Documents")."""
    from django.db.models import Case, IntegerField, Value, When

    if sort == "neueste":
        return qs.order_by("-published_at", "-id")
    if sort == "titel":
        return qs.order_by("title", "-quarter", "id")
    if sort == "typ":
        return qs.order_by("doc_type", "-quarter", "-published_at", "id")
    first = Case(
        When(doc_type__in=rules.HONORAR_TYPES, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return qs.alias(honorar_first=first).order_by(
        "-quarter", "honorar_first", "-published_at", "id"
    )


def quarter_documents(user: Any, quarter: Quarter, *, bsnr: str = "") -> QuerySet[Document]:
    """All documents of one quarter the user may see (the ZIP of a quarter)."""
    qs = visible_documents(user).filter(quarter=quarter_to_int(quarter))
    if bsnr:
        qs = qs.filter(betriebsstaette__bsnr=bsnr)
    return order_documents(qs.select_related("betriebsstaette"))

"""Reads of KIM data, always through the scoping layer (accounts/scope.py)."""

from __future__ import annotations

from django.db.models import Case, CharField, Count, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Cast, Concat, Replace
from django.utils import timezone

from kvportal.accounts import scope
from kvportal.accounts.constants import Right
from kvportal.kim.models import (
    AccountKind,
    AccountState,
    DirectoryEntry,
    EntryKind,
    Folder,
    KimAccount,
    OrderState,
    SmcbCard,
    SmcbOrder,
    StoredMessage,
)

LIVE_STATES = (AccountState.REGISTERED, AccountState.DEREGISTERING)


def orderable_practices(user):
    """Practices where the user may order an SMC-B and request practice accounts."""
    return scope.practices(user, Right.BILLING)


def orders(user) -> QuerySet[SmcbOrder]:
    return scope.filter_practice(
        user, SmcbOrder.objects.select_related("betriebsstaette"), Right.BILLING
    )


def cards(user) -> QuerySet[SmcbCard]:
    return scope.filter_practice(
        user, SmcbCard.objects.select_related("betriebsstaette", "order"), Right.BILLING
    )


def manageable_accounts(user) -> QuerySet[KimAccount]:
    """Practice accounts of billing-right BSNRs and the user's own personal accounts, each
    with `requested_address`: the address as requested (a refusal frees the address by
    prefixing `abgelehnt-<pk>.`, services.refuse_account), shown with the refusal's reason;
    and `person_has_open`: the person has a requested or live personal account (otherwise,
    e.g. after a refusal, a new one may be requested, as services.request_personal_account)."""
    if not user.is_authenticated:
        return KimAccount.objects.none()
    ids = scope.practice_id_list(user, Right.BILLING)
    freed = Concat(Value("abgelehnt-"), Cast("pk", CharField()), Value("."))
    open_personal = KimAccount.objects.filter(
        kind=AccountKind.PERSON,
        person=OuterRef("person"),
        state__in=[AccountState.REQUESTED, *LIVE_STATES],
    )
    return (
        KimAccount.objects.filter(
            Q(kind=AccountKind.PRACTICE, betriebsstaette__in=ids)
            | Q(kind=AccountKind.PERSON, owner=user)
        )
        .select_related("betriebsstaette", "person")
        .annotate(
            requested_address=Case(
                When(state=AccountState.REFUSED, then=Replace("address", freed, Value(""))),  # type: ignore[arg-type]  # django-stubs: pattern may be any expression
                default=F("address"),
                output_field=CharField(),
            ),
            person_has_open=Exists(open_personal),
        )
    )


def mailboxes(user) -> QuerySet[KimAccount]:
    """Mailboxes the user may read: practice accounts with „KIM-Postfach der Praxis“,
    the own personal account (issue 15: personal mailbox only its owner)."""
    if not user.is_authenticated:
        return KimAccount.objects.none()
    ids = scope.practice_id_list(user, Right.KIM_POSTFACH)
    return KimAccount.objects.filter(
        Q(kind=AccountKind.PRACTICE, betriebsstaette__in=ids)
        | Q(kind=AccountKind.PERSON, owner=user),
        state__in=LIVE_STATES,
    ).select_related("betriebsstaette", "person")


def published_entries() -> QuerySet[DirectoryEntry]:
    """Practices always; doctors only with consent not revoked."""
    return DirectoryEntry.objects.filter(active=True).filter(
        Q(kind=EntryKind.ORGANIZATION)
        | Q(kind=EntryKind.PRACTITIONER, consent_at__isnull=False, consent_revoked_at__isnull=True)
    )


def search_directory(
    *, text: str = "", specialty: str = "", city: str = "", telematik_id: str = ""
) -> QuerySet[DirectoryEntry]:
    qs = published_entries()
    for word in text.split():
        address_match = KimAccount.objects.filter(address__icontains=word, state__in=LIVE_STATES)
        qs = qs.filter(
            Q(display_name__icontains=word)
            | Q(organization__icontains=word)
            | Q(family_name__icontains=word)
            | Q(department__icontains=word)
            | Q(description__icontains=word)
            | Q(
                betriebsstaette__in=address_match.filter(kind=AccountKind.PRACTICE).values(
                    "betriebsstaette_id"
                ),
                kind=EntryKind.ORGANIZATION,
            )
            | Q(
                person__in=address_match.filter(kind=AccountKind.PERSON).values("person_id"),
                kind=EntryKind.PRACTITIONER,
            )
            | Q(
                pk__in=address_match.filter(kind=AccountKind.SERVICE).values("service_entry_id"),
                kind=EntryKind.ORGANIZATION,
            )
        )
    if specialty.strip():
        qs = qs.filter(specialty__icontains=specialty.strip())
    if city.strip():
        qs = qs.filter(Q(city__icontains=city.strip()) | Q(postal_code__startswith=city.strip()))
    if telematik_id.strip():
        qs = qs.filter(telematik_id__iexact=telematik_id.strip())
    return qs.select_related("betriebsstaette", "person").order_by("display_name", "pk")


def addresses_of(entry: DirectoryEntry) -> list[KimAccount]:
    """The live KIM accounts an entry stands for (kimData)."""
    qs = KimAccount.objects.filter(state__in=LIVE_STATES)
    if entry.kind == EntryKind.ORGANIZATION:
        if entry.betriebsstaette_id is None:  # the KV's own entry: its service mailboxes
            qs = qs.filter(kind=AccountKind.SERVICE, service_entry_id=entry.pk)
        else:
            qs = qs.filter(kind=AccountKind.PRACTICE, betriebsstaette_id=entry.betriebsstaette_id)
    else:
        if entry.person_id is None:
            return []
        qs = qs.filter(kind=AccountKind.PERSON, person_id=entry.person_id)
    return list(qs.order_by("address"))


def entry_for_address(address: str) -> DirectoryEntry | None:
    account = (
        KimAccount.objects.filter(address__iexact=address.strip(), state__in=LIVE_STATES)
        .select_related("betriebsstaette", "person")
        .first()
    )
    if account is None:
        return None
    return entry_of(account)


def entry_of(account: KimAccount) -> DirectoryEntry | None:
    """The published directory entry of an account: its practice's Organization, its
    person's Practitioner, or (service mailbox) the KV's own Organization entry."""
    qs = published_entries()
    if account.kind == AccountKind.SERVICE:
        if account.service_entry_id is None:
            return None
        return qs.filter(kind=EntryKind.ORGANIZATION, pk=account.service_entry_id).first()
    if account.kind == AccountKind.PRACTICE:
        if account.betriebsstaette_id is None:
            return None
        return qs.filter(
            kind=EntryKind.ORGANIZATION, betriebsstaette_id=account.betriebsstaette_id
        ).first()
    if account.person_id is None:
        return None
    return qs.filter(kind=EntryKind.PRACTITIONER, person_id=account.person_id).first()


def valid_certificate(entry: DirectoryEntry | None) -> str:
    if entry is None or not entry.enc_certificate:
        return ""
    if entry.enc_not_after and entry.enc_not_after <= timezone.now():
        return ""
    return entry.enc_certificate


def own_entry(user) -> DirectoryEntry | None:
    if not user.is_authenticated or not user.person_id:
        return None
    return DirectoryEntry.objects.filter(kind=EntryKind.PRACTITIONER, person=user.person).first()


def live_accounts() -> QuerySet[KimAccount]:
    """Registered accounts and deregistered ones until deregDate (what the directory shows)."""
    return KimAccount.objects.filter(state__in=LIVE_STATES)


def live_account(pk: int) -> KimAccount:
    """One live account; raises KimAccount.DoesNotExist otherwise."""
    return live_accounts().get(pk=pk)


def messages_in(account: KimAccount, folder: str | None = None) -> QuerySet[StoredMessage]:
    """Index rows of one mailbox (the caller has the mailbox from `mailboxes(user)`)."""
    qs = StoredMessage.objects.filter(account=account)
    return qs if folder is None else qs.filter(folder=folder)


def search_messages(
    account: KimAccount, folder: str | None = None, query: str = ""
) -> QuerySet[StoredMessage]:
    """Server-side search over what the Fachdienst knows in the clear: envelope sender and
    recipients (KIM addresses) and the Dienstkennung. The subject is inside the ciphertext; the
    page searches it through the agent (`subject_search_candidates`). Newest first."""
    qs = messages_in(account, folder)
    if query:
        qs = qs.filter(
            Q(sender__icontains=query)
            | Q(recipients__icontains=query)
            | Q(dienstkennung__icontains=query)
        )
    return qs.order_by("-received_at", "-pk")


def subject_search_candidates(
    account: KimAccount, folder: str, query: str, *, limit: int, max_size: int
) -> tuple[list[StoredMessage], int]:
    """The newest `limit` messages of the folder matching the server-side `query` and not
    larger than `max_size` (the agent decrypts each whole), and how many were left out."""
    qs = search_messages(account, folder, query)
    rows = list(qs.filter(size__lte=max_size)[:limit])
    return rows, qs.count() - len(rows)


def unread_counts(accounts) -> dict[int, int]:
    """account pk → unread messages in its Posteingang."""
    rows = (
        StoredMessage.objects.filter(
            account__in=accounts, folder=Folder.INBOX, read_at__isnull=True
        )
        .values("account")
        .annotate(n=Count("pk"))
    )
    return {row["account"]: row["n"] for row in rows}


def staff_orders(state: str) -> QuerySet[SmcbOrder]:
    """SMC-B orders for the Arztregister list („open“: requested or confirmed)."""
    qs = SmcbOrder.objects.select_related("betriebsstaette", "requested_by").order_by(
        "requested_at"
    )
    if state == "open":
        qs = qs.filter(state__in=[OrderState.REQUESTED, OrderState.CONFIRMED])
    return qs


def staff_accounts(state: str) -> QuerySet[KimAccount]:
    """KIM accounts for the account manager, filtered by state if it is one."""
    qs = KimAccount.objects.select_related("betriebsstaette", "person").order_by("requested_at")
    if state in AccountState.values:
        qs = qs.filter(state=state)
    return qs


# --- directory administration (KV as card issuer; the API checks the staff token) ------------

#: read_Directory_Entry filters → model lookups (exact Telematik-ID, name part, state)
ADMIN_FILTERS = {
    "telematikID": "telematik_id",
    "displayName": "display_name__icontains",
    "localityName": "city__icontains",
    "postalCode": "postal_code__startswith",
    "entryType": "kind",
    "active": "active",
}


def admin_entries(filters: dict, *, limit: int) -> tuple[list[DirectoryEntry], int]:
    """All entries (also inactive and unpublished ones) for the card issuer; at most `limit`,
    and the total."""
    qs = DirectoryEntry.objects.filter(
        **{ADMIN_FILTERS[k]: v for k, v in filters.items()}
    ).order_by("pk")
    return list(qs[:limit]), qs.count()


def admin_entry(uid: str) -> DirectoryEntry | None:
    if not uid.isdigit() or len(uid) > 18:
        return None
    return DirectoryEntry.objects.filter(pk=int(uid)).first()


def entry_versions(entry: DirectoryEntry):
    return list(entry.versions.select_related("changed_by").order_by("version"))

"""Reads of the eArztbrief, through the scoping layer and kim's mailbox selector."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from kvportal.accounts import scope
from kvportal.accounts.constants import Right
from kvportal.arztbrief.models import (
    Arztbrief,
    Briefmappe,
    Empfaenger,
    Empfang,
    Nachweis,
    Richtung,
    State,
)
from kvportal.arztbrief.rules import LetterCounts
from kvportal.core.quarters import Quarter
from kvportal.kim import selectors as kim_selectors
from kvportal.kim.models import KimAccount, StoredMessage
from kvportal.members.models import Taetigkeit

DK_VERSAND = "Arztbrief;VHitG-Versand;V1.2"


def document_key(letter: Arztbrief) -> str:
    return f"brief-{letter.pk}"


def works_at(person, practice) -> bool:
    if person is None or practice is None:
        return False
    return Taetigkeit.objects.active().filter(person=person, betriebsstaette=practice).exists()


def live_account(address: str) -> KimAccount | None:
    return (
        KimAccount.objects.filter(address__iexact=address, state__in=kim_selectors.LIVE_STATES)
        .select_related("betriebsstaette", "person")
        .first()
    )


def _portal_sent_twin():
    """A letter sent through the portal with the same QES (byte-range digest), counted for the
    same receiving practice (`Empfaenger.practice_key` = `Nachweis.recipient_key`)."""
    return Empfaenger.objects.filter(
        counted=True,
        letter__state=State.VERSANDT,
        letter__qes_digest=OuterRef("digest"),
        practice_key=OuterRef("recipient_key"),
    ).exclude(letter__qes_digest="")


def sent_rows(start: dt.datetime, end: dt.datetime) -> QuerySet[Empfaenger]:
    """GOP 86900 of the portal path: one row per sent letter and receiving practice."""
    return Empfaenger.objects.filter(
        counted=True,
        letter__state=State.VERSANDT,
        letter__sent_at__gte=start,
        letter__sent_at__lt=end,
    )


def _portal_received_twin():
    """A receipt confirmed in the web mailbox (valid QES) of a letter with the same QES digest
    at the same receiving practice."""
    return Empfang.objects.filter(
        valid_qes=True,
        counted=True,
        letter__qes_digest=OuterRef("digest"),
        betriebsstaette__bsnr=OuterRef("recipient_key"),
    ).exclude(letter__qes_digest="")


def counted_proofs(qs: QuerySet[Nachweis] | None = None) -> QuerySet[Nachweis]:
    """Proofs that count: a letter already counted through the portal (web mailbox) is not
    counted again when a client module also reports it (dedupe by the QES digest + practice)."""
    qs = Nachweis.objects.all() if qs is None else qs
    return qs.exclude(
        Q(richtung=Richtung.VERSAND, pk__in=Nachweis.objects.filter(Exists(_portal_sent_twin())))
        | Q(
            richtung=Richtung.EMPFANG,
            pk__in=Nachweis.objects.filter(Exists(_portal_received_twin())),
        )
    )


def proof_has_portal_twin(row: Nachweis) -> bool:
    return not counted_proofs(Nachweis.objects.filter(pk=row.pk)).exists()


def letters_for(user) -> QuerySet[Arztbrief]:
    """A doctor's own letters (the letter is personal: author only)."""
    if not user.is_authenticated:
        return Arztbrief.objects.none()
    return (
        Arztbrief.objects.filter(author=user)
        .select_related("sender", "betriebsstaette")
        .prefetch_related("empfaenger")
    )


def mappen_for(user) -> QuerySet[Briefmappe]:
    if not user.is_authenticated:
        return Briefmappe.objects.none()
    return Briefmappe.objects.filter(author=user)


def sender_mailboxes(user) -> QuerySet[KimAccount]:
    """Practice mailboxes of BSNRs where the user works as a doctor."""
    if not user.is_authenticated or not user.person_id:
        return KimAccount.objects.none()
    practices = (
        Taetigkeit.objects.active().filter(person_id=user.person_id).values("betriebsstaette")
    )
    return (
        kim_selectors.mailboxes(user)
        .filter(kind="practice", betriebsstaette__in=practices)
        .order_by("address")
    )


def received_messages(user) -> QuerySet[StoredMessage]:
    """eArztbriefe in the inboxes the user may read."""
    return (
        StoredMessage.objects.filter(
            account__in=kim_selectors.mailboxes(user),
            folder="inbox",
            dienstkennung=DK_VERSAND,
            deleted_at__isnull=True,
        )
        .select_related("account")
        .order_by("-received_at", "-id")
    )


def receipts_by_message(messages) -> dict[int, Empfang]:
    return {
        e.message_pk: e for e in Empfang.objects.filter(message_pk__in=[m.pk for m in messages])
    }


def _bounds(quarter: Quarter) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(quarter.start, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(quarter.next().start, dt.time.min, tzinfo=tz)
    return start, end


def counts(lanrs, quarter: Quarter) -> dict[str, LetterCounts]:
    """Per LANR: letters sent (one per receiving practice) and received with a valid QES."""
    start, end = _bounds(quarter)
    lanrs = list(lanrs)

    def per_lanr(qs) -> dict[str, int]:
        return {row["lanr"]: row["n"] for row in qs.values("lanr").annotate(n=Count("pk"))}

    sent = {
        row["letter__lanr"]: row["n"]
        for row in sent_rows(start, end)
        .filter(letter__lanr__in=lanrs)
        .values("letter__lanr")
        .annotate(n=Count("pk"))
    }
    received = per_lanr(
        Empfang.objects.filter(
            lanr__in=lanrs,
            valid_qes=True,
            counted=True,
            received_at__gte=start,
            received_at__lt=end,
        )
    )
    proofs = counted_proofs().filter(lanr__in=lanrs, reported_at__gte=start, reported_at__lt=end)
    proof_sent = per_lanr(proofs.filter(richtung=Richtung.VERSAND))
    proof_received = per_lanr(proofs.filter(richtung=Richtung.EMPFANG))
    return {
        lanr: LetterCounts(
            sent=sent.get(lanr, 0) + proof_sent.get(lanr, 0),
            received=received.get(lanr, 0) + proof_received.get(lanr, 0),
        )
        for lanr in lanrs
    }


def all_counts(quarter: Quarter) -> list[dict]:
    """Staff view: every LANR with letters in the quarter."""
    start, end = _bounds(quarter)
    lanrs = (
        set(sent_rows(start, end).values_list("letter__lanr", flat=True).distinct())
        | set(
            Empfang.objects.filter(
                valid_qes=True, counted=True, received_at__gte=start, received_at__lt=end
            )
            .values_list("lanr", flat=True)
            .distinct()
        )
        | set(
            counted_proofs()
            .filter(reported_at__gte=start, reported_at__lt=end)
            .values_list("lanr", flat=True)
            .distinct()
        )
    )
    return _rows(counts(sorted(lanrs), quarter))


def _rows(counted: dict[str, LetterCounts]) -> list[dict]:
    from kvportal.arztbrief.rules import CAP_CENTS, CENTS, GOP_EMPFANG, GOP_VERSAND
    from kvportal.members.models import Person

    names = {p.lanr: p.full_name for p in Person.objects.filter(lanr__in=list(counted))}
    out = []
    for lanr, c in sorted(counted.items()):
        cents = min(c.sent * CENTS[GOP_VERSAND] + c.received * CENTS[GOP_EMPFANG], CAP_CENTS)
        out.append(
            {
                "lanr": lanr,
                "name": names.get(lanr, ""),
                "sent": c.sent,
                "received": c.received,
                "euro": f"{cents // 100},{cents % 100:02d} €",
            }
        )
    return out


def practice_rows(practice, quarter: Quarter) -> list[dict]:
    """Billing staff: the doctors who worked at the BSNR in the quarter, with their counts."""
    lanrs = (
        Taetigkeit.objects.filter(
            Q(valid_to__isnull=True) | Q(valid_to__gte=quarter.start),
            betriebsstaette=practice,
            valid_from__lte=quarter.end,
        )
        .exclude(Q(person__lanr="") | Q(person__lanr__isnull=True))
        .values_list("person__lanr", flat=True)
        .distinct()
    )
    return _rows(counts(sorted(set(lanrs)), quarter))


def panel_rows(user, quarter: Quarter) -> list[dict]:
    """Start page, one query: the user's own LANR and the doctors working at the practices
    where he holds the billing right, each with the letters counted in the quarter."""
    from django.db.models import IntegerField, OuterRef, Subquery

    from kvportal.arztbrief.rules import CAP_CENTS, CENTS, GOP_EMPFANG, GOP_VERSAND
    from kvportal.members.models import Person

    start, end = _bounds(quarter)
    ids = scope.practice_id_list(user, Right.BILLING)
    # the doctors working at those BSNRs and the user himself, as a list of ids: a subquery
    # OR-ed with the own person makes PostgreSQL walk the whole register (43 ms for 15,000)
    person_ids = set(
        Taetigkeit.objects.active()
        .filter(betriebsstaette__in=ids)
        .values_list("person_id", flat=True)
    )
    if user.person_id:
        person_ids.add(user.person_id)

    def number(qs):
        qs = qs.filter(lanr=OuterRef("lanr")).order_by().values("lanr").annotate(n=Count("pk"))
        return Coalesce(Subquery(qs.values("n"), output_field=IntegerField()), 0)

    people = (
        Person.objects.filter(pk__in=person_ids)
        .exclude(Q(lanr="") | Q(lanr__isnull=True))
        .annotate(
            sent=Coalesce(
                Subquery(
                    sent_rows(start, end)
                    .filter(letter__lanr=OuterRef("lanr"))
                    .order_by()
                    .values("letter__lanr")
                    .annotate(n=Count("pk"))
                    .values("n"),
                    output_field=IntegerField(),
                ),
                0,
            ),
            received=number(
                Empfang.objects.filter(
                    valid_qes=True, counted=True, received_at__gte=start, received_at__lt=end
                )
            ),
            proof_sent=number(
                counted_proofs().filter(
                    richtung=Richtung.VERSAND, reported_at__gte=start, reported_at__lt=end
                )
            ),
            proof_received=number(
                counted_proofs().filter(
                    richtung=Richtung.EMPFANG, reported_at__gte=start, reported_at__lt=end
                )
            ),
        )
        .order_by("lanr")
    )
    out = []
    for p in people:
        p.sent += p.proof_sent
        p.received += p.proof_received
        cents = min(p.sent * CENTS[GOP_VERSAND] + p.received * CENTS[GOP_EMPFANG], CAP_CENTS)
        out.append(
            {
                "lanr": p.lanr,
                "name": p.full_name,
                "sent": p.sent,
                "received": p.received,
                "euro": f"{cents // 100},{cents % 100:02d} €",
            }
        )
    return out


def signed_pdf(letter: Arztbrief) -> bytes:
    """The current (signed) version of the letter in ehba's signing documents."""
    from django.contrib.contenttypes.models import ContentType

    from kvportal.ehba import services as ehba
    from kvportal.ehba.models import SignatureDocument

    doc = SignatureDocument.objects.get(
        content_type=ContentType.objects.get_for_model(Briefmappe),
        object_id=str(letter.mappe_id),
        key=document_key(letter),
    )
    return ehba.read_document(doc)


def receipt_report(receipt: Empfang) -> dict:
    """What the receiver sees: the verdict and, for a letter signed in the portal, the
    Prüfprotokoll of its QES (signer, time, certificate path, revocation)."""
    out: dict = {"gueltig": receipt.valid_qes, "ergebnis": receipt.verdict, "signaturen": []}
    report = receipt.letter.report if receipt.letter_id and receipt.letter.report_id else None
    if report is not None:
        out["geprueft_am"] = timezone.localtime(report.created_at).strftime("%d.%m.%Y %H:%M")
        for s in report.signatures.all():
            out["signaturen"].append(
                {
                    "unterzeichner": s.signer_name,
                    "telematik_id": s.telematik_id,
                    "zeitpunkt": str(s.signing_time or ""),
                    "pfad": " → ".join(s.certificate_path or []),
                    "ergebnis": s.verdict,
                    "sperrstatus": s.revocation_status,
                }
            )
    return out

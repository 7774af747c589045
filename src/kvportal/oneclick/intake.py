# 1ClickAbrechnung V2.1 / seed 001: a delivery over KIM is treated exactly like an upload —
# same billing right, checks, deadlines and receipt; every refusal is logged and says why.
"""Intake of a 1-Click delivery into billing's upload service.

`receive(...)` takes the Begleitdatei (parsed or as bytes), the attachments (file name →
bytes) and the sender's identity from the KIM message (Telematik-ID of the eHBA or SMC-B,
LANR, BSNR) and hands the billing file to `billing.services.receive_submission` (Echtdaten) or
`billing.testruns.receive_test_run` (Testdaten). The plain `.con` is used where the sender
includes it; otherwise the `.con.xkm` is stored for the KV as uploads do today (kvportal cannot
open the KBV crypto module's encryption).

The result is `Received` or `Refusal` (a code and German texts for the answer mail); nothing
raises for bad input.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from kvportal import audit
from kvportal.accounts.constants import AccountKind
from kvportal.audit.models import Activity
from kvportal.billing import rules as billing_rules
from kvportal.billing.models import Channel
from kvportal.billing.rules import FileKind
from kvportal.oneclick import begleitdatei as bd
from kvportal.oneclick import ese

#: deliveries over KIM show the channel "KIM" on the submission
CHANNEL = Channel.KIM


@dataclass(frozen=True)
class Sender:
    """Who sent the delivery, as the KIM message and its signature say."""

    telematik_id: str = ""  # eHBA (person) or SMC-B (practice)
    lanr: str = ""
    bsnr: str = ""
    kim_address: str = ""


@dataclass(frozen=True)
class Received:
    """Taken over by billing: `submission` (Echtabrechnung) or `test_run` (Testabrechnung)."""

    submission: Any = None
    test_run: Any = None
    notes: tuple[str, ...] = ()
    #: the electronic Sammelerklärung of the delivery (oneclick.Sammelerklaerung), if any
    ese: Any = None

    @property
    def is_test(self) -> bool:
        return self.test_run is not None


@dataclass(frozen=True)
class Refusal:
    """Not taken over; `texts` go into the answer mail (German)."""

    code: str  # unknown_sender | no_right | begleitdatei | attachment | billing | ese
    texts: tuple[str, ...]
    detail: dict = field(default_factory=dict)


def _member_account(person):
    from kvportal.accounts.models import User

    accounts = list(User.objects.filter(person=person, kind=AccountKind.MEMBER, is_active=True)[:2])
    return accounts[0] if len(accounts) == 1 else None


def resolve_sender(sender: Sender):
    """The member account that sent the delivery, or None when unknown.

    The eHBA's Telematik-ID names the person through their registered card; otherwise (an
    SMC-B sent it) the person comes from the LANR. The practice is the BSNR the KIM transport
    read from the SMC-B (`sender.bsnr`); the registry holds no SMC-B Telematik-IDs yet."""
    from kvportal.ehba.models import CardRegistration
    from kvportal.members.models import Person

    tid = sender.telematik_id.strip()
    if tid:
        card = CardRegistration.objects.active().filter(telematik_id=tid).first()
        if card is not None:
            return _member_account(card.person)
    if sender.lanr.strip():
        person = Person.objects.filter(lanr=sender.lanr.strip()).first()
        if person is not None:
            return _member_account(person)
    if sender.bsnr.strip():
        return _practice_sender(sender)
    return None


def _practice_sender(sender: Sender):
    """Decision (SMC-B sender): the SMC-B names the practice, not a person. The acting member is
    whoever requested the practice's sending KIM account, if they still hold the billing right
    for the BSNR; else the only member holding it. Several holders and none requested → unknown
    (the refusal asks to sign with the eHBA)."""
    from kvportal.accounts.constants import Right
    from kvportal.accounts.models import PortalRight
    from kvportal.kim.models import KimAccount

    holders = {
        r.user_id: r.user
        for r in PortalRight.objects.filter(
            betriebsstaette__bsnr=sender.bsnr.strip(),
            right=Right.BILLING,
            user__is_active=True,
            user__kind=AccountKind.MEMBER,
        ).select_related("user")
    }
    account = (
        KimAccount.objects.filter(
            address__iexact=sender.kim_address.strip(), betriebsstaette__bsnr=sender.bsnr.strip()
        ).first()
        if sender.kim_address.strip()
        else None
    )
    if account is not None and account.requested_by_id in holders:
        return holders[account.requested_by_id]
    if len(holders) == 1:
        return next(iter(holders.values()))
    return None


def _refuse(
    actor: Any, code: str, texts: list[str], *, bsnr: str = "", detail: dict | None = None
) -> Refusal:
    detail = dict(detail or {})
    with transaction.atomic():
        audit.record(
            actor=actor,
            activity=Activity.SUBMIT,
            bsnr=bsnr,
            object_type="oneclick.delivery",
            object_repr=str(detail.get("guid", ""))[:300],
            detail={"event": "oneclick.refused", "code": code, **detail},
        )
    return Refusal(code=code, texts=tuple(texts), detail=detail)


def _billing_file(begleitdatei: bd.Begleitdatei, attachments: Mapping[str, bytes]):
    """(name, kind) of the billing file: the plain `.con` if included, else the `.con.xkm`."""
    plain = encrypted = None
    for name in attachments:
        kind = billing_rules.parse_filename(name).kind
        if kind is FileKind.PLAIN and plain is None:
            plain = name
        elif kind is FileKind.ENCRYPTED and encrypted is None:
            encrypted = name
    return plain or encrypted


def receive(
    *,
    actor: Any = None,
    begleitdatei: bd.Begleitdatei | bytes,
    attachments: Mapping[str, bytes],
    sender: Sender,
    now: dt.datetime | None = None,
) -> Received | Refusal:
    """Hand a 1-Click delivery to billing. `actor` is the system job (None) that runs the
    intake; the acting member is resolved from `sender`."""
    from kvportal.billing import services, testruns
    from kvportal.members.models import Betriebsstaette
    from kvportal.oneclick import ese_services

    base = {"sender_telematik_id": sender.telematik_id, "sender_lanr": sender.lanr}
    if isinstance(begleitdatei, bytes | bytearray):
        try:
            begleitdatei = bd.parse(bytes(begleitdatei))
        except bd.BegleitdateiError as exc:
            return _refuse(
                actor,
                "begleitdatei",
                ["Die Begleitdatei ist fehlerhaft:", *exc.texts],
                bsnr=sender.bsnr,
                detail=base,
            )
    detail = {**base, "guid": begleitdatei.guid, "quarter": str(begleitdatei.quartal)}

    user = resolve_sender(sender)
    if user is None:
        return _refuse(
            actor,
            "unknown_sender",
            [
                "Der Absender ist im Portal nicht bekannt: Weder zur Telematik-ID seines eHBA "
                "noch zu seiner LANR gibt es genau ein aktives Mitgliedskonto. Bitte senden Sie "
                "die Abrechnung mit dem im Portal registrierten eHBA bzw. der LANR Ihres "
                "Portalkontos oder laden Sie sie im Portal hoch."
            ],
            bsnr=begleitdatei.bsnr,
            detail=detail,
        )
    practice = Betriebsstaette.objects.filter(bsnr=begleitdatei.bsnr).first()
    claimed = sender.bsnr.strip()
    if practice is None or (claimed and claimed != begleitdatei.bsnr):
        text = (
            f"Die Betriebsstätte {begleitdatei.bsnr} aus der Begleitdatei (Element "
            "einlieferung/bsnr) ist im Portal nicht bekannt."
            if practice is None
            else f"Die Begleitdatei nennt die BSNR {begleitdatei.bsnr}, gesendet wurde aber "
            f"für die Betriebsstätte {claimed} (SMC-B des Absenders)."
        )
        return _refuse(user, "no_right", [text], bsnr=begleitdatei.bsnr, detail=detail)

    names = list(attachments)
    problems = [
        f"Der Anhang „{name}“ ist in der Begleitdatei genannt, fehlt aber in der Nachricht."
        for name in bd.missing(begleitdatei, names)
    ]
    problems += [
        f"Der Anhang „{name}“ ist in der Begleitdatei (einlieferung/anhang) nicht genannt."
        for name in bd.unlisted(begleitdatei, names)
    ]
    billing_name = _billing_file(begleitdatei, attachments) if begleitdatei.with_billing else ""
    if billing_name is None:
        problems.append(
            "Die Lieferung enthält keine Abrechnungsdatei (.con oder .con.xkm), obwohl die "
            f"Begleitdatei „{begleitdatei.dokumenten_typ}“ angibt."
        )
    elif billing_name and not attachments[billing_name]:
        problems.append(f"Der Anhang „{billing_name}“ ist leer oder beschädigt.")
    ese_name = next((n for n in attachments if ese.is_ese_name(n)), None)
    if begleitdatei.with_sammelerklaerung and ese_name is None:
        problems.append(
            f"Die Begleitdatei gibt „{begleitdatei.dokumenten_typ}“ an, aber die Lieferung "
            "enthält keine Sammelerklärung (Anhang ese_….xml nach der eSE-Schnittstelle)."
        )
    if problems:
        return _refuse(user, "attachment", problems, bsnr=practice.bsnr, detail=detail)

    declarer = ese_doc = None
    qes: dict = {}
    if begleitdatei.with_sammelerklaerung:
        try:
            declarer, ese_doc, qes = ese_services.check_kim_ese(
                data=attachments[ese_name],
                practice=practice,
                signer_telematik_id=sender.telematik_id,
                pdf=attachments.get(ese_services.pdf_name_for(ese_name)),
                name=ese_services.pdf_name_for(ese_name),
            )
        except ese_services.EseRefused as refused:
            return _refuse(user, "ese", refused.texts, bsnr=practice.bsnr, detail=detail)
        if ese_doc.quarter != begleitdatei.quartal:
            return _refuse(
                user,
                "ese",
                [
                    f"Die Sammelerklärung gilt dem Quartal {ese_doc.quarter}, die Begleitdatei "
                    f"nennt das Quartal {begleitdatei.quartal}."
                ],
                bsnr=practice.bsnr,
                detail=detail,
            )

    if not begleitdatei.with_billing:  # the Sammelerklärung alone
        accepted = services.accepted_submission(practice, begleitdatei.quartal)
        if accepted is None or accepted.state != "accepted":
            return _refuse(
                user,
                "ese",
                [
                    f"Die Sammelerklärung für {practice.bsnr}, Quartal {begleitdatei.quartal}, "
                    "bezieht sich auf eine angenommene Abrechnung; für dieses Quartal liegt "
                    "noch keine vor. Senden Sie sie zusammen mit der Abrechnung "
                    "(ABRECHNUNG+SAMMELERKLÄRUNG) oder nach deren Annahme."
                ],
                bsnr=practice.bsnr,
                detail=detail,
            )
        try:
            obj = ese_services.accept_kim_ese(
                user=declarer,
                doc=ese_doc,
                data=attachments[ese_name],
                submission=accepted,
                signer=sender.telematik_id,
                qes=qes,
            )
        except (ese_services.EseRefused, services.Refused) as refused:
            return _refuse(user, "ese", list(refused.texts), bsnr=practice.bsnr, detail=detail)
        return Received(ese=obj)

    content = attachments[billing_name]
    try:
        if begleitdatei.testdaten:
            run = testruns.receive_test_run(
                actor=user,
                betriebsstaette=practice,
                quarter=begleitdatei.quartal,
                upload=io.BytesIO(content),
                filename=billing_name,
            )
            notes = (
                ("Eine Sammelerklärung zu einer Testabrechnung wird nicht abgegeben.",)
                if ese_doc is not None
                else ()
            )
            return Received(test_run=run, notes=notes)
        submission = services.receive_submission(
            actor=user,
            betriebsstaette=practice,
            quarter=begleitdatei.quartal,
            upload=io.BytesIO(content),
            filename=billing_name,
            channel=CHANNEL,
            now=now,
        )
    except services.Refused as refused:
        # billing has written its own access-log entry; ours ties it to the delivery
        return _refuse(
            user,
            "billing",
            list(refused.texts),
            bsnr=practice.bsnr,
            detail={**detail, "billing_codes": [p.code for p in refused.problems]},
        )
    obj = None
    if ese_doc is not None:  # takes effect when billing accepts the file
        obj = ese_services.accept_kim_ese(
            user=declarer,
            doc=ese_doc,
            data=attachments[ese_name],
            submission=submission,
            signer=sender.telematik_id,
            qes=qes,
        )
    return Received(submission=submission, ese=obj)

# Security: the KV as SMC-B card issuer confirms entitlement (staff Arztregister only);
# PINs, PUKs and initial KIM passwords exist in plain text only in the letters rendered once.
"""Writes of the KIM portal part: SMC-B orders, cards, KIM accounts, directory entries."""

from __future__ import annotations

import datetime as dt
import secrets
import string
from dataclasses import dataclass

from cryptography import x509
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from kvportal import audit
from kvportal.accounts import scope
from kvportal.accounts.constants import AccountKind as UserKind
from kvportal.accounts.constants import Right, StaffRole
from kvportal.accounts.models import PortalRight, User
from kvportal.audit.models import Activity
from kvportal.core.storage import private_storage
from kvportal.kim import rules, smcb
from kvportal.kim.models import (
    AccountKind,
    AccountState,
    DirectoryEntry,
    EntryKind,
    KimAccount,
    OrderState,
    SmcbCard,
    SmcbOrder,
)
from kvportal.kim.services_directory import record_version
from kvportal.members.models import Betriebsstaette, Person


def kim_domain() -> str:
    return str(settings.KIM_DOMAIN).lower()


def tsp() -> smcb.TestTsp:
    return smcb.TestTsp(settings.KIM_TSP_DIR)


def _require_staff(actor: User) -> None:
    if not scope.is_staff_role(actor, StaffRole.ARZTREGISTER):
        raise PermissionDenied("Nur das Arztregister der KV darf das.")


def _locked(model, pk: int):
    return model.objects.select_for_update().get(pk=pk)


def _move(transitions: dict, obj, target: str, what: str) -> None:
    if not rules.can_move(transitions, obj.state, target):
        raise ValidationError(
            f"{what} ist im Status „{obj.get_state_display()}“; das ist jetzt nicht möglich."
        )
    obj.state = target


# --- SMC-B -----------------------------------------------------------------------------------


def order_prefill(practice: Betriebsstaette) -> dict:
    """The order form prefilled from the register (Arztregister)."""
    return {
        "practice_name": practice.name,
        "street": practice.street,
        "postal_code": practice.postal_code,
        "city": practice.city,
        "contact_email": practice.email,
        "telematik_id": rules.practice_telematik_id(practice.bsnr),
    }


@transaction.atomic
def order_smcb(
    *,
    actor: User,
    betriebsstaette: Betriebsstaette,
    practice_name: str,
    street: str,
    postal_code: str,
    city: str,
    contact_email: str,
) -> SmcbOrder:
    """A member with the billing right for the BSNR orders the practice's SMC-B."""
    scope.require_right(actor, betriebsstaette, Right.BILLING)
    if SmcbOrder.objects.filter(
        betriebsstaette=betriebsstaette,
        state__in=[OrderState.REQUESTED, OrderState.CONFIRMED, OrderState.ISSUED],
    ).exists():
        raise ValidationError("Für diese Betriebsstätte läuft bereits eine SMC-B-Bestellung.")
    order = SmcbOrder.objects.create(
        betriebsstaette=betriebsstaette,
        practice_name=practice_name.strip(),
        street=street.strip(),
        postal_code=postal_code.strip(),
        city=city.strip(),
        contact_email=contact_email.strip(),
        telematik_id=rules.practice_telematik_id(betriebsstaette.bsnr),
        requested_by=actor,
    )
    audit.record(actor=actor, activity=Activity.SUBMIT, obj=order, detail={"kim": "smcb_order"})
    return order


@transaction.atomic
def confirm_order(*, actor: User, order: SmcbOrder) -> SmcbOrder:
    """The KV (Arztregister) confirms the applicant's entitlement as card issuer."""
    _require_staff(actor)
    order = _locked(SmcbOrder, order.pk)
    _move(rules.ORDER_TRANSITIONS, order, OrderState.CONFIRMED, "Die Bestellung")
    order.decided_by, order.decided_at = actor, timezone.now()
    order.save()
    audit.record(
        actor=actor, activity=Activity.DECISION, obj=order, detail={"decision": "confirmed"}
    )
    return order


@transaction.atomic
def refuse_order(*, actor: User, order: SmcbOrder, reason: str) -> SmcbOrder:
    _require_staff(actor)
    if not reason.strip():
        raise ValidationError({"reason": "Bitte geben Sie einen Ablehnungsgrund an."})
    order = _locked(SmcbOrder, order.pk)
    _move(rules.ORDER_TRANSITIONS, order, OrderState.REFUSED, "Die Bestellung")
    order.decided_by, order.decided_at = actor, timezone.now()
    order.refusal_reason = reason.strip()
    order.save()
    audit.record(
        actor=actor,
        activity=Activity.DECISION,
        obj=order,
        detail={"decision": "refused", "reason": order.refusal_reason},
    )
    return order


@dataclass(frozen=True)
class IssuedSmcb:
    card: SmcbCard
    pin: str
    puk: str


@transaction.atomic
def issue_card(*, actor: User, order: SmcbOrder) -> IssuedSmcb:
    """The (test) trust service provider produces the card after the KV's confirmation.

    Returns the transport PIN and PUK for the PIN letter; they are not stored."""
    _require_staff(actor)
    order = _locked(SmcbOrder, order.pk)
    _move(rules.ORDER_TRANSITIONS, order, OrderState.ISSUED, "Die Bestellung")
    issued = tsp().issue(
        telematik_id=order.telematik_id,
        holder_name=order.practice_name,
        city=order.city,
        email=order.contact_email or None,
    )
    path = private_storage.save(
        f"kim/smcb/{order.bsnr}-{issued.iccsn}.json", ContentFile(issued.card_file)
    )
    card = SmcbCard.objects.create(
        order=order,
        betriebsstaette=order.betriebsstaette,
        telematik_id=issued.telematik_id,
        iccsn=issued.iccsn,
        holder_name=order.practice_name,
        cert_aut=issued.pem("aut"),
        cert_enc=issued.pem("enc"),
        cert_osig=issued.pem("osig"),
        not_after=issued.certificates["enc"].not_valid_after_utc,
        card_file=path,
        pin_hash=make_password(issued.pin),
        puk_hash=make_password(issued.puk),
    )
    order.save()
    audit.record(
        actor=actor,
        activity=Activity.CREATE,
        obj=card,
        bsnr=order.bsnr,
        detail={"kim": "smcb_issued", "iccsn": issued.iccsn},
    )
    return IssuedSmcb(card, issued.pin, issued.puk)


class PinError(ValidationError):
    pass


def _save_counter(card: SmcbCard, counter: rules.PinCounter) -> None:
    card.pin_tries_left, card.puk_uses_left = counter.pin_tries_left, counter.puk_uses_left
    card.save(update_fields=["pin_tries_left", "puk_uses_left"])


def activate_card(*, actor: User, card: SmcbCard, transport_pin: str, new_pin: str) -> SmcbCard:
    """The practice activates its card with the transport PIN of the PIN letter and sets its
    own PIN.SMC. A wrong PIN costs one of three tries (kept even though the activation fails);
    after three the card is blocked until unblocked with the PUK."""
    error = rules.check_pin(new_pin)
    if error:
        raise PinError({"new_pin": error})
    with transaction.atomic():
        card = _locked(SmcbCard, card.pk)
        scope.require_right(actor, card.betriebsstaette, Right.BILLING)
        if card.activated_at:
            raise PinError("Diese SMC-B ist bereits freigeschaltet.")
        if card.counter.pin_blocked:
            raise PinError(
                {
                    "transport_pin": "Die PIN ist nach drei Fehlversuchen gesperrt. "
                    "Bitte entsperren Sie die Karte mit der PUK aus dem PIN-Brief."
                }
            )
        correct = check_password(transport_pin, card.pin_hash)
        _save_counter(card, rules.after_pin(card.counter, correct))
        if not correct:
            audit.record(
                actor=actor, activity=Activity.ERROR, obj=card, detail={"kim": "smcb_pin_wrong"}
            )
    if not correct:
        left = card.pin_tries_left
        raise PinError(
            {"transport_pin": f"Die Transport-PIN ist falsch. Verbleibende Versuche: {left}."}
        )
    return _finish_activation(
        actor=actor, card_id=card.pk, transport_pin=transport_pin, new_pin=new_pin
    )


@transaction.atomic
def _finish_activation(*, actor: User, card_id: int, transport_pin: str, new_pin: str) -> SmcbCard:
    card = _locked(SmcbCard, card_id)
    with private_storage.open(card.card_file, "rb") as fh:
        data = fh.read()
    try:
        data = smcb.change_pin(data, transport_pin, new_pin)
    except smcb.CardError as exc:
        raise PinError({"new_pin": str(exc)}) from exc
    private_storage.delete(card.card_file)
    card.card_file = private_storage.save(card.card_file, ContentFile(data))
    card.pin_hash = make_password(new_pin)
    card.activated_at, card.activated_by = timezone.now(), actor
    card.save()
    order = card.order
    _move(rules.ORDER_TRANSITIONS, order, OrderState.ACTIVATED, "Die Bestellung")
    order.save()
    publish_practice(actor=None, card=card)
    audit.record(actor=actor, activity=Activity.UPDATE, obj=card, detail={"kim": "smcb_activated"})
    return card


def unblock_pin(*, actor: User, card: SmcbCard, puk: str) -> SmcbCard:
    """PUK entry: every use costs one of ten; a right one gives three PIN tries again."""
    with transaction.atomic():
        card = _locked(SmcbCard, card.pk)
        scope.require_right(actor, card.betriebsstaette, Right.BILLING)
        if card.counter.puk_blocked:
            raise PinError({"puk": "Die PUK ist verbraucht; bitte bestellen Sie eine neue Karte."})
        correct = check_password(puk, card.puk_hash)
        _save_counter(card, rules.after_puk(card.counter, correct))
        audit.record(
            actor=actor,
            activity=Activity.UPDATE if correct else Activity.ERROR,
            obj=card,
            detail={"kim": "smcb_puk_ok" if correct else "smcb_puk_wrong"},
        )
    if not correct:
        raise PinError(
            {"puk": f"Die PUK ist falsch. Verbleibende Nutzungen: {card.puk_uses_left}."}
        )
    return card


# --- directory -------------------------------------------------------------------------------


@transaction.atomic
def publish_practice(*, actor: User | None, card: SmcbCard) -> DirectoryEntry:
    """The KV as card issuer writes the practice's base entry with the SMC-B ENC certificate."""
    practice = card.betriebsstaette
    entry, _ = DirectoryEntry.objects.update_or_create(
        kind=EntryKind.ORGANIZATION,
        betriebsstaette=practice,
        defaults={
            "telematik_id": card.telematik_id,
            "display_name": card.holder_name,
            "organization": card.holder_name,
            "street": practice.street,
            "postal_code": practice.postal_code,
            "city": practice.city,
            "specialty": _practice_specialties(practice),
            "enc_certificate": card.cert_enc,
            "enc_not_after": card.not_after,
            "active": True,
            "changed_at": timezone.now(),
        },
    )
    record_version(entry=entry, actor=actor, change="SMC-B freigeschaltet")
    audit.record(actor=actor, activity=Activity.UPDATE, obj=entry, bsnr=practice.bsnr)
    return entry


def _practice_specialties(practice: Betriebsstaette) -> str:
    names = (
        Person.objects.filter(taetigkeiten__in=practice.taetigkeiten.active())
        .exclude(fachgebiet="")
        .values_list("fachgebiet", flat=True)
        .distinct()
    )
    return ", ".join(sorted(set(names)))[:200]


@transaction.atomic
def consent_publication(
    *,
    actor: User,
    enc_certificate: str,
    department: str = "",
    description: str = "",
) -> DirectoryEntry:
    """Seed 003 „Veröffentlichung“: the doctor consents to publishing the eHBA ENC
    certificate and the personal KIM address in the directory."""
    person = actor.person
    if person is None:
        raise PermissionDenied(
            "Nur Ärztinnen/Ärzte und Psychotherapeut/-innen mit Eintrag im Arztregister."
        )
    try:
        cert = x509.load_pem_x509_certificate(enc_certificate.strip().encode())
    except ValueError as exc:
        raise ValidationError(
            {
                "enc_certificate": "Das ist kein Zertifikat im PEM-Format "
                "(-----BEGIN CERTIFICATE-----)."
            }
        ) from exc
    if cert.not_valid_after_utc <= timezone.now():
        raise ValidationError({"enc_certificate": "Das Zertifikat ist abgelaufen."})
    practice = Betriebsstaette.objects.filter(taetigkeiten__in=person.taetigkeiten.active()).first()
    now = timezone.now()
    entry, _ = DirectoryEntry.objects.update_or_create(
        kind=EntryKind.PRACTITIONER,
        person=person,
        defaults={
            "betriebsstaette": practice,
            "telematik_id": person.telematik_id or f"1-1{person.lanr or person.pk}",
            "display_name": person.full_name,
            "title": person.title,
            "given_name": person.first_name,
            "family_name": person.last_name,
            "organization": practice.name if practice else "",
            "street": practice.street if practice else "",
            "postal_code": practice.postal_code if practice else "",
            "city": practice.city if practice else "",
            "specialty": person.fachgebiet,
            "department": department.strip(),
            "description": description.strip(),
            "enc_certificate": cert.public_bytes(_pem()).decode(),
            "enc_not_after": cert.not_valid_after_utc,
            "consent_at": now,
            "consent_revoked_at": None,
            "active": True,
            "changed_at": now,
        },
    )
    record_version(entry=entry, actor=actor, change="Einwilligung")
    audit.record(actor=actor, activity=Activity.UPDATE, obj=entry, detail={"kim": "consent"})
    return entry


def _pem():
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.PEM


@transaction.atomic
def revoke_consent(*, actor: User) -> DirectoryEntry | None:
    """The doctor withdraws the consent: the entry disappears from search and API at once."""
    entry = DirectoryEntry.objects.filter(kind=EntryKind.PRACTITIONER, person=actor.person).first()
    if entry is None or entry.consent_revoked_at:
        return entry
    entry.consent_revoked_at = entry.changed_at = timezone.now()
    entry.save()
    record_version(entry=entry, actor=actor, change="Einwilligung widerrufen")
    audit.record(
        actor=actor, activity=Activity.UPDATE, obj=entry, detail={"kim": "consent_revoked"}
    )
    return entry


# --- KIM accounts ----------------------------------------------------------------------------


def _taken_locals(domain: str) -> set[str]:
    suffix = "@" + domain
    return {
        a[: -len(suffix)]
        for a in KimAccount.objects.filter(address__endswith=suffix).values_list(
            "address", flat=True
        )
    }


def suggest_address(name: str) -> str:
    domain = kim_domain()
    base = rules.local_part_for(name)
    return rules.address(rules.unique_local_part(base, _taken_locals(domain)), domain)


def _check_local(local: str) -> str:
    local = local.strip().lower()
    error = rules.check_local_part(local)
    if error:
        raise ValidationError({"local_part": error})
    address = rules.address(local, kim_domain())
    if KimAccount.objects.filter(address=address).exists():
        raise ValidationError({"local_part": f"Die Adresse {address} ist bereits vergeben."})
    return address


@transaction.atomic
def request_practice_account(
    *,
    actor: User,
    betriebsstaette: Betriebsstaette,
    local_part: str,
    department: str = "",
    description: str = "",
) -> KimAccount:
    """Billing-right holders request a KIM account for the practice (needs an active SMC-B)."""
    scope.require_right(actor, betriebsstaette, Right.BILLING)
    card = (
        SmcbCard.objects.filter(
            betriebsstaette=betriebsstaette, activated_at__isnull=False, revoked_at__isnull=True
        )
        .order_by("-activated_at")
        .first()
    )
    if card is None:
        raise ValidationError(
            "Für ein Praxis-Postfach braucht die Betriebsstätte eine freigeschaltete SMC-B."
        )
    address = _check_local(local_part)
    try:
        account = KimAccount.objects.create(
            kind=AccountKind.PRACTICE,
            betriebsstaette=betriebsstaette,
            smcb=card,
            address=address,
            department=department.strip(),
            description=description.strip(),
            requested_by=actor,
        )
    except IntegrityError as exc:
        raise ValidationError(
            {"local_part": f"Die Adresse {address} ist bereits vergeben."}
        ) from exc
    audit.record(
        actor=actor, activity=Activity.SUBMIT, obj=account, detail={"kim": "account_request"}
    )
    return account


@transaction.atomic
def request_personal_account(
    *, actor: User, local_part: str, department: str = "", description: str = ""
) -> KimAccount:
    """A doctor requests a personal account (eHBA) for themselves only."""
    if actor.kind != UserKind.MEMBER or actor.person_id is None:
        raise PermissionDenied("Ein persönliches KIM-Postfach gibt es nur für die eigene Person.")
    if KimAccount.objects.filter(
        person=actor.person,
        kind=AccountKind.PERSON,
        state__in=[AccountState.REQUESTED, AccountState.REGISTERED, AccountState.DEREGISTERING],
    ).exists():
        raise ValidationError(
            "Sie haben bereits ein persönliches KIM-Postfach (oder einen offenen Antrag)."
        )
    address = _check_local(local_part)
    account = KimAccount.objects.create(
        kind=AccountKind.PERSON,
        person=actor.person,
        owner=actor,
        address=address,
        department=department.strip(),
        description=description.strip(),
        requested_by=actor,
    )
    audit.record(
        actor=actor, activity=Activity.SUBMIT, obj=account, detail={"kim": "account_request"}
    )
    return account


@dataclass(frozen=True)
class IssuedCredentials:
    account: KimAccount
    password: str


def _new_password() -> str:
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(14))
    return core[:7] + "-" + core[7:]


def _new_reference() -> str:
    return "KIM-" + "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(10))


@transaction.atomic
def register_account(*, actor: User, account: KimAccount) -> IssuedCredentials:
    """The account manager registers the account: reference id and initial password (shown
    once in the credential letter), and the KIM address goes into the directory."""
    _require_staff(actor)
    account = _locked(KimAccount, account.pk)
    _move(rules.ACCOUNT_TRANSITIONS, account, AccountState.REGISTERED, "Das KIM-Konto")
    password = _new_password()
    account.reference_id = _new_reference()
    account.password_hash = make_password(password)
    account.must_change_password = True
    account.registered_by, account.registered_at = actor, timezone.now()
    account.save()
    if account.kind == AccountKind.PRACTICE and account.betriebsstaette is not None:
        _grant_mailbox_right(account.betriebsstaette)
    audit.record(
        actor=actor, activity=Activity.PASSWORD_ISSUED, obj=account, detail={"kim": "registered"}
    )
    return IssuedCredentials(account, password)


@transaction.atomic
def reissue_password(*, actor: User, account: KimAccount) -> IssuedCredentials:
    _require_staff(actor)
    account = _locked(KimAccount, account.pk)
    if account.state != AccountState.REGISTERED:
        raise ValidationError("Nur für registrierte KIM-Konten.")
    password = _new_password()
    account.password_hash = make_password(password)
    account.must_change_password = True
    account.save(update_fields=["password_hash", "must_change_password"])
    audit.record(
        actor=actor, activity=Activity.PASSWORD_ISSUED, obj=account, detail={"kim": "reissued"}
    )
    return IssuedCredentials(account, password)


def _grant_mailbox_right(practice: Betriebsstaette) -> None:
    """Billing-right holders of the BSNR get "KIM-Postfach der Praxis" and may delegate it."""
    from kvportal.accounts.services import grant_right

    holders = User.objects.filter(
        pk__in=PortalRight.objects.filter(betriebsstaette=practice, right=Right.BILLING).values(
            "user_id"
        ),
        kind=UserKind.MEMBER,
        is_active=True,
    )
    for user in holders:
        grant_right(actor=None, user=user, betriebsstaette=practice, right=Right.KIM_POSTFACH)


@transaction.atomic
def refuse_account(*, actor: User, account: KimAccount, reason: str) -> KimAccount:
    _require_staff(actor)
    if not reason.strip():
        raise ValidationError({"reason": "Bitte geben Sie einen Ablehnungsgrund an."})
    account = _locked(KimAccount, account.pk)
    _move(rules.ACCOUNT_TRANSITIONS, account, AccountState.REFUSED, "Das KIM-Konto")
    account.refusal_reason = reason.strip()
    # free the address for a new request
    account.address = f"abgelehnt-{account.pk}.{account.address}"[:254]
    account.save()
    audit.record(
        actor=actor,
        activity=Activity.DECISION,
        obj=account,
        detail={"decision": "refused", "reason": account.refusal_reason},
    )
    return account


def can_manage(user: User, account: KimAccount) -> bool:
    """Who may change limits, out-of-office and deregister: staff, the owner of a personal
    account, billing-right holders of a practice account."""
    if scope.is_staff_role(user, StaffRole.ARZTREGISTER):
        return True
    if account.kind == AccountKind.PERSON:
        return account.owner_id == user.pk
    if account.betriebsstaette_id is None:
        return False
    return scope.has_right(user, account.betriebsstaette_id, Right.BILLING)


def _require_manage(actor: User, account: KimAccount) -> None:
    if not can_manage(actor, account):
        raise PermissionDenied("Sie dürfen dieses KIM-Konto nicht verwalten.")


@transaction.atomic
def deregister_account(
    *, actor: User, account: KimAccount, now: dt.datetime | None = None, reason: str = ""
) -> KimAccount:
    """Deregistration with grace period: mail stays retrievable until the deregDate. A
    termination by the KV (Arztregister) is a staff decision and needs a reason (issue 14),
    which goes into the audit event; the holder's own termination may give one."""
    _require_manage(actor, account)
    reason = " ".join(reason.split())
    if not reason and scope.is_staff_role(actor, StaffRole.ARZTREGISTER):
        raise ValidationError({"reason": "Bitte geben Sie einen Kündigungsgrund an."})
    account = _locked(KimAccount, account.pk)
    _move(rules.ACCOUNT_TRANSITIONS, account, AccountState.DEREGISTERING, "Das KIM-Konto")
    now = now or timezone.now()
    account.deregistered_at = now
    account.deregistration_date = rules.deregistration_date(now)
    account.save()
    detail = {"kim": "deregistered", **({"reason": reason} if reason else {})}
    audit.record(actor=actor, activity=Activity.UPDATE, obj=account, detail=detail)
    return account


@transaction.atomic
def revoke_deregistration(*, actor: User, account: KimAccount) -> KimAccount:
    _require_manage(actor, account)
    account = _locked(KimAccount, account.pk)
    if not account.usable():
        raise ValidationError("Die Übergangsfrist ist abgelaufen; das Konto ist abgemeldet.")
    _move(rules.ACCOUNT_TRANSITIONS, account, AccountState.REGISTERED, "Das KIM-Konto")
    account.deregistered_at = account.deregistration_date = None
    account.save()
    audit.record(
        actor=actor, activity=Activity.UPDATE, obj=account, detail={"kim": "dereg_revoked"}
    )
    return account


@transaction.atomic
def update_limits(
    *, actor: User, account: KimAccount, max_mail_size: int, data_time_to_live: int, quota: int
) -> KimAccount:
    """Limits within AccountLimit.yaml's ranges; the quota only by the KV."""
    _require_manage(actor, account)
    account = _locked(KimAccount, account.pk)
    if quota != account.quota and not scope.is_staff_role(actor, StaffRole.ARZTREGISTER):
        raise ValidationError({"quota": "Das Speicherkontingent legt die KV fest."})
    limits = rules.Limits(max_mail_size, data_time_to_live, quota)
    errors = rules.check_limits(limits)
    if errors:
        raise ValidationError(errors)
    before = {
        "max_mail_size": account.max_mail_size,
        "data_time_to_live": account.data_time_to_live,
        "quota": account.quota,
    }
    account.max_mail_size, account.data_time_to_live, account.quota = (
        max_mail_size,
        data_time_to_live,
        quota,
    )
    account.save()
    audit.record(
        actor=actor,
        activity=Activity.UPDATE,
        obj=account,
        detail={
            "kim": "limits",
            "before": before,
            "after": {
                "max_mail_size": max_mail_size,
                "data_time_to_live": data_time_to_live,
                "quota": quota,
            },
        },
    )
    return account


@transaction.atomic
def update_out_of_office(
    *,
    actor: User,
    account: KimAccount,
    active: bool,
    start: dt.datetime | None,
    end: dt.datetime | None,
    message: str,
) -> KimAccount:
    _require_manage(actor, account)
    if start and end and end <= start:
        raise ValidationError({"out_of_office_end": "Das Ende muss nach dem Beginn liegen."})
    if active and not message.strip():
        raise ValidationError(
            {"out_of_office_message": "Bitte geben Sie einen Text für die Abwesenheitsnotiz ein."}
        )
    if len(message) > 2048:
        raise ValidationError({"out_of_office_message": "Höchstens 2048 Zeichen."})
    account = _locked(KimAccount, account.pk)
    account.out_of_office_active = active
    account.out_of_office_start, account.out_of_office_end = start, end
    account.out_of_office_message = message.strip()
    account.save()
    audit.record(
        actor=actor, activity=Activity.UPDATE, obj=account, detail={"kim": "out_of_office"}
    )
    return account


def finish_deregistrations(*, now: dt.datetime, dry_run: bool = False):
    """Purger: accounts past their deregDate become deregistered (idempotent)."""
    from kvportal.core.registry import PurgeResult

    due = KimAccount.objects.filter(state=AccountState.DEREGISTERING, deregistration_date__lte=now)
    result = PurgeResult(
        name="kim_deregistrations", items=list(due.values_list("address", flat=True))
    )
    result.count = len(result.items)
    if not dry_run:
        with transaction.atomic():
            for account in due.select_for_update():
                account.state = AccountState.DEREGISTERED
                account.save(update_fields=["state"])
                audit.record(
                    actor=None, activity=Activity.UPDATE, obj=account, detail={"kim": "dereg_done"}
                )
    return result

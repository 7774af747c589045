# Security: a card is registered to the person of a password-authenticated account, by
# Telematik-ID; ending a registration is audited.
"""Card registration, second factor, end of a registration, purge of old challenges."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kvportal import audit
from kvportal.accounts.constants import AccountKind
from kvportal.accounts.models import User
from kvportal.audit.models import Activity
from kvportal.ehba.models import CardRegistration, ChallengePurpose, LoginChallenge, RegistrationEnd
from kvportal.ehba.services.card_login import CardOutcome, _refuse, _verify_token, names_match
from kvportal.ehba.services.challenges import _claim_challenge
from kvportal.ehba.services.refusals import AGENT_ERRORS, CardRefused, refusal_message


def can_register(user: User) -> bool:
    return bool(
        getattr(user, "pk", None)
        and user.kind == AccountKind.MEMBER
        and user.person is not None
        and user.person.profession in ("arzt", "psychotherapeut")
    )


def active_registration(user: User) -> CardRegistration | None:
    if not getattr(user, "pk", None):
        return None
    return CardRegistration.objects.active().filter(user=user).first()


@transaction.atomic
def register_card(
    *,
    actor: User,
    session_key: str,
    audience: str,
    token: str = "",
    agent_error: str = "",
    second_factor: bool = False,
    now: dt.datetime | None = None,
) -> CardOutcome:
    """Register (or re-register after a card change) the eHBA of the logged-in member.

    The registration is keyed by person + Telematik-ID; a new registration of the same person
    (follow-up card) supersedes the earlier one."""
    purpose = ChallengePurpose.REGISTER.value
    now = now or timezone.now()
    identity = None
    try:
        if not can_register(actor):
            raise CardRefused("not_member")
        if agent_error:
            raise CardRefused(AGENT_ERRORS.get(agent_error, "agent_error"), agent_error=agent_error)
        if not token.strip():
            raise CardRefused("malformed")
        row = _claim_challenge(token=token, session_key=session_key, purpose=purpose, now=now)
        if row.user_id != actor.pk:
            raise CardRefused("wrong_challenge")
        identity = _verify_token(
            token.strip(), challenge=row._challenge, audience=audience, now=now
        )
        person = actor.person
        assert person is not None  # can_register() required it
        if not names_match(
            card_given=identity.given_name,
            card_surname=identity.surname,
            given=person.first_name,
            surname=person.last_name,
        ):
            raise CardRefused(
                "other_person",
                refusal_message(
                    "other_person",
                    card=f"{identity.given_name} {identity.surname}",
                    person=f"{person.first_name} {person.last_name}",
                ),
            )
        if str(identity.profession) != person.profession:
            raise CardRefused("profession_mismatch")
        taken = (
            CardRegistration.objects.active()
            .filter(telematik_id=identity.telematik_id)
            .exclude(person=person)
            .exists()
        )
        if taken:
            raise CardRefused("taken")
    except CardRefused as exc:
        return _refuse(
            actor=actor,
            purpose=purpose,
            exc=exc,
            session_key=session_key,
            now=now,
            identity=identity,
        )
    previous = list(
        CardRegistration.objects.active().filter(
            models.Q(user=actor) | models.Q(telematik_id=identity.telematik_id)
        )
    )
    for old in previous:
        old.ended_at = now
        old.end_reason = RegistrationEnd.SUPERSEDED
        old.confirmed = False
        old.save(update_fields=["ended_at", "end_reason", "confirmed"])
    registration = CardRegistration.objects.create(
        user=actor,
        name="eHBA",
        confirmed=True,
        person=actor.person,
        telematik_id=identity.telematik_id,
        profession=str(identity.profession),
        holder_name=f"{identity.given_name} {identity.surname}",
        card_serial=identity.serial or "",
        certificate_fingerprint=identity.fingerprint,
        certificate_not_after=identity.not_after,
        issuer=identity.issuer or "",
        second_factor=second_factor,
        registered_at=now,
    )
    LoginChallenge.objects.filter(pk=row.pk).update(outcome="ok")
    audit.record(
        actor=actor,
        activity=Activity.OTP_ENABLED,
        obj=registration,
        object_repr=_("eHBA registriert (Telematik-ID %(tid)s)") % {"tid": identity.telematik_id},
        detail={
            "method": "ehba",
            "telematik_id": identity.telematik_id,
            "card": identity.serial,
            "superseded": [r.pk for r in previous],
            "second_factor": second_factor,
            # the registry may still hold the Telematik-ID of an earlier card (GS-A_4958)
            "registry_telematik_id_differs": bool(
                person.telematik_id and person.telematik_id != identity.telematik_id
            ),
        },
    )
    return CardOutcome(ok=True, identity=identity, registration=registration, user=actor)


@transaction.atomic
def set_second_factor(*, actor: User, registration: CardRegistration, required: bool) -> None:
    if registration.user_id != actor.pk or not registration.is_active:
        raise PermissionDenied(_("Diese Registrierung gehört nicht zu Ihrem Konto."))
    registration.second_factor = required
    registration.save(update_fields=["second_factor"])
    audit.record(
        actor=actor,
        activity=Activity.ACCOUNT_CHANGED,
        obj=registration,
        detail={"method": "ehba", "second_factor": required},
    )


@transaction.atomic
def end_registration(
    *, actor: User, registration: CardRegistration, reason: RegistrationEnd | str
) -> None:
    """The member removes his registration (or staff end it)."""
    reason = RegistrationEnd(reason)
    if reason == RegistrationEnd.REMOVED and registration.user_id != actor.pk:
        raise PermissionDenied(_("Diese Registrierung gehört nicht zu Ihrem Konto."))
    if reason == RegistrationEnd.STAFF and actor.kind != AccountKind.STAFF:
        raise PermissionDenied(_("Nur die KV kann Registrierungen anderer Mitglieder beenden."))
    if registration.ended_at is not None:
        return
    registration.ended_at = timezone.now()
    registration.end_reason = reason
    registration.confirmed = False
    registration.save(update_fields=["ended_at", "end_reason", "confirmed"])
    audit.record(
        actor=actor,
        activity=Activity.OTP_DISABLED,
        obj=registration,
        detail={
            "method": "ehba",
            "reason": reason.value,
            "telematik_id": registration.telematik_id,
        },
    )


def purge_challenges(*, now: dt.datetime, dry_run: bool = False):
    """Challenges are only needed while they can be answered; keep one day for diagnosis."""
    from kvportal.core.registry import PurgeResult

    old = LoginChallenge.objects.filter(created_at__lt=now - dt.timedelta(days=1))
    count = old.count()
    if not dry_run:
        old.delete()
    return PurgeResult(name="ehba_challenges", count=count)

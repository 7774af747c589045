# Security: the card maps to the person via its Telematik-ID, never its serial; every refusal is
# written to the access log.
"""The card check and card login (verify the card's answer to a challenge)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kvportal import audit
from kvportal.accounts.models import User
from kvportal.audit.models import Activity
from kvportal.ehba.models import CardRegistration, ChallengePurpose, LoginChallenge
from kvportal.ehba.services.challenges import _b64decode, _claim_challenge, _consume_pending
from kvportal.ehba.services.refusals import AGENT_ERRORS, REFUSALS, CardRefused, refusal_message
from kvportal.ehba.services.trust import ImproperlyConfiguredTrust, get_trust


@dataclass
class CardOutcome:
    ok: bool
    code: str = ""
    message: str = ""
    identity: Any = None
    registration: CardRegistration | None = None
    user: User | None = None
    detail: dict[str, Any] = field(default_factory=dict)


#: Token errors raised only after the signature and the chain were verified: the certificate
#: is genuine, so the refusal may name the card holder in the access log.
_AUTHENTIC_CERT_ERRORS = {
    "expired",
    "not_yet_valid",
    "wrong_key_usage",
    "wrong_policy",
    "wrong_profession",
    "revoked",
    "revocation_unknown",
    "wrong_challenge",
}


def _certificate_identity(token: str) -> dict[str, str]:
    from cryptography import x509

    from kvportal.cardlib import certs

    try:
        header = json.loads(_b64decode(token.split(".")[0]))
        cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
        profile = certs.parse_card_certificate(cert)
    except (ValueError, KeyError, TypeError, IndexError):
        return {}
    return {"telematik_id": profile.telematik_id or "", "card": profile.serial_number or ""}


def _verify_token(token: str, *, challenge: str, audience: str, now: dt.datetime):
    from kvportal.cardlib import tokens

    try:
        trust = get_trust()
    except ImproperlyConfiguredTrust as exc:
        raise CardRefused("not_configured", trust_dir=str(exc)) from exc
    try:
        return tokens.verify_login_token(
            token,
            expected_challenge=challenge,
            audience=audience,
            trust_anchors=trust.login_anchors,
            now=now,
            revocation_check=trust.revocation_check,
        )
    except tokens.LoginTokenError as exc:
        code = exc.code if exc.code in REFUSALS else "bad_signature"
        detail = {"token_error": exc.code}
        if exc.code in _AUTHENTIC_CERT_ERRORS:
            detail.update(_certificate_identity(token))
        raise CardRefused(code, refusal_message(code), **detail) from exc


def _normalise_name(text: str) -> str:
    text = text.casefold().replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).split())


def names_match(*, card_given: str, card_surname: str, given: str, surname: str) -> bool:
    """Surname equal and the card's first given name among the registry's given names (a
    hyphenated given name counts as its parts on the card as in the registry: "Hans-Peter")."""
    if _normalise_name(card_surname) != _normalise_name(surname):
        return False
    card_first = _normalise_name(card_given).replace("-", " ").split()[:1]
    return bool(card_first) and card_first[0] in _normalise_name(given).replace("-", " ").split()


def _refuse(
    *,
    actor: User | None,
    purpose: str,
    exc: CardRefused,
    session_key: str,
    now: dt.datetime,
    identity: Any = None,
) -> CardOutcome:
    _consume_pending(session_key=session_key, purpose=purpose, outcome=exc.code, now=now)
    detail = {"method": "ehba", "purpose": purpose, "reason": exc.code, **exc.detail}
    if identity is not None:
        detail["telematik_id"] = identity.telematik_id
        detail["card"] = identity.serial
    activity = (
        Activity.OTP_FAILED
        if purpose == ChallengePurpose.SECOND_FACTOR
        else (Activity.LOGIN_FAILED if purpose == ChallengePurpose.LOGIN else Activity.ERROR)
    )
    audit.record(
        actor=actor,
        activity=activity,
        object_type="ehba.cardregistration",
        object_repr=_("eHBA-Anmeldung abgelehnt: %(code)s") % {"code": exc.code},
        detail=detail,
    )
    return CardOutcome(
        ok=False, code=exc.code, message=exc.message, identity=identity, detail=detail
    )


@transaction.atomic
def verify_card_response(
    *,
    actor: User | None,
    session_key: str,
    purpose: ChallengePurpose | str,
    audience: str,
    token: str = "",
    agent_error: str = "",
    now: dt.datetime | None = None,
) -> CardOutcome:
    """Check the card's answer to a challenge of this session.

    ``purpose`` login: maps the card to its registration (actor None); second_factor: the card
    must belong to ``actor``. Returns a CardOutcome; refusals are written to the access log in
    the same (committed) transaction and the session's pending challenges are consumed.
    """
    purpose = ChallengePurpose(purpose).value
    now = now or timezone.now()
    identity = None
    try:
        if agent_error:
            code = AGENT_ERRORS.get(agent_error, "agent_error")
            raise CardRefused(code, agent_error=agent_error)
        if not token.strip():
            raise CardRefused("malformed")
        row = _claim_challenge(token=token, session_key=session_key, purpose=purpose, now=now)
        identity = _verify_token(
            token.strip(), challenge=row._challenge, audience=audience, now=now
        )
        registration = (
            CardRegistration.objects.active()
            .select_related("user", "person")
            .filter(telematik_id=identity.telematik_id)
            .first()
        )
        if registration is None:
            raise CardRefused("unknown_card")
        user = registration.user
        if not user.is_active or user.person_id != registration.person_id:
            raise CardRefused("account_disabled")
        if purpose == ChallengePurpose.SECOND_FACTOR and (
            actor is None or row.user_id != actor.pk or user.pk != actor.pk
        ):
            raise CardRefused("other_account")
    except CardRefused as exc:
        actor_for_log = actor
        tid = identity.telematik_id if identity is not None else exc.detail.get("telematik_id")
        if actor_for_log is None and tid:
            reg = CardRegistration.objects.active().filter(telematik_id=tid).first()
            actor_for_log = reg.user if reg else None
        return _refuse(
            actor=actor_for_log,
            purpose=purpose,
            exc=exc,
            session_key=session_key,
            now=now,
            identity=identity,
        )
    LoginChallenge.objects.filter(pk=row.pk).update(outcome="ok")
    registration.last_login_at = now
    registration.card_serial = identity.serial or registration.card_serial
    registration.save(update_fields=["last_login_at", "card_serial"])
    if purpose == ChallengePurpose.SECOND_FACTOR:
        audit.record(
            actor=user,
            activity=Activity.LOGIN,
            obj=registration,
            detail={"method": "ehba", "purpose": purpose, "card": identity.serial},
        )
    return CardOutcome(
        ok=True,
        identity=identity,
        registration=registration,
        user=user,
        detail={"card": identity.serial},
    )

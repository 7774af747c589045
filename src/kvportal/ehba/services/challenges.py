# Security (gematik IDP, gemSpec_PKI GS-A_4958): challenges are single-use, short-lived and
# bound to the browser session.
"""Login/registration challenges: issue, claim, consume."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from kvportal.accounts.models import User
from kvportal.ehba.models import ChallengePurpose, LoginChallenge
from kvportal.ehba.services.common import _HMAC_SALT, CHALLENGE_AUDIENCE, challenge_seconds
from kvportal.ehba.services.refusals import CardRefused, refusal_message


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def session_hash(session_key: str) -> str:
    return _sha256(f"ehba-session:{session_key}")


def _mac(signing_input: str) -> bytes:
    return salted_hmac(_HMAC_SALT, signing_input, algorithm="sha256").digest()


def _challenge_mac_ok(challenge: str) -> bool:
    parts = challenge.split(".")
    if len(parts) != 3:
        return False
    try:
        given = _b64decode(parts[2])
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(given, _mac(f"{parts[0]}.{parts[1]}"))


@transaction.atomic
def issue_challenge(
    *,
    actor: User | None,
    session_key: str,
    purpose: ChallengePurpose | str,
    audience: str,
    now: dt.datetime | None = None,
) -> str:
    """A new challenge (compact JWT, HMAC by the portal) bound to this browser session.

    Not an access-log event by itself: its outcome is (login, refusal, registration)."""
    if not session_key:
        raise ValueError("Eine Anmeldeanfrage setzt eine Browsersitzung voraus.")
    purpose = ChallengePurpose(purpose)
    if purpose != ChallengePurpose.LOGIN and not getattr(actor, "pk", None):
        raise PermissionDenied(_("Bitte melden Sie sich zuerst mit Ihrem Passwort an."))
    now = now or timezone.now()
    expires = now + dt.timedelta(seconds=challenge_seconds())
    header = {"alg": "HS256", "typ": "JWT", "kid": "kvportal-challenge"}
    claims = {
        "iss": audience,
        "aud": CHALLENGE_AUDIENCE,
        "jti": secrets.token_urlsafe(24),
        "snc": secrets.token_urlsafe(16),
        "purpose": purpose.value,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    signing_input = (
        f"{_b64(json.dumps(header, separators=(',', ':')).encode())}."
        f"{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
    )
    challenge = f"{signing_input}.{_b64(_mac(signing_input))}"
    LoginChallenge.objects.create(
        challenge_hash=_sha256(challenge),
        purpose=purpose,
        session_hash=session_hash(session_key),
        user=actor if getattr(actor, "pk", None) else None,
        audience=audience,
        created_at=now,
        expires_at=expires,
    )
    return challenge


def _token_claims(token: str) -> dict[str, Any]:
    """Payload of a compact JWS *without* verifying it (only to find the challenge)."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise CardRefused("malformed")
    try:
        payload = json.loads(_b64decode(parts[1]))
    except (ValueError, TypeError) as exc:
        raise CardRefused("malformed") from exc
    if not isinstance(payload, dict):
        raise CardRefused("malformed")
    return payload


def _consume_pending(*, session_key: str, purpose: str, outcome: str, now: dt.datetime) -> None:
    LoginChallenge.objects.filter(
        session_hash=session_hash(session_key), purpose=purpose, used_at__isnull=True
    ).update(used_at=now, outcome=outcome[:40])


def _claim_challenge(
    *, token: str, session_key: str, purpose: str, now: dt.datetime
) -> LoginChallenge:
    """Find and consume (single use) the challenge the token claims to answer."""
    claims = _token_claims(token)
    challenge = claims.get("challenge") or claims.get("njwt")
    if not isinstance(challenge, str) or not challenge:
        raise CardRefused("malformed")
    row = LoginChallenge.objects.filter(challenge_hash=_sha256(challenge)).first()
    if row is None or not _challenge_mac_ok(challenge):
        raise CardRefused("wrong_challenge")
    if row.used_at is not None:
        raise CardRefused("replayed_challenge")
    if row.session_hash != session_hash(session_key) or row.purpose != purpose:
        raise CardRefused(
            "wrong_challenge",
            _(
                "Die signierte Anmeldeanfrage gehört zu einer anderen Browsersitzung oder "
                "einem anderen Vorgang (Signatur über etwas anderes). Bitte starten Sie die "
                "Anmeldung erneut."
            ),
        )
    claimed = LoginChallenge.objects.filter(pk=row.pk, used_at__isnull=True).update(
        used_at=now, outcome="pending"
    )
    if not claimed:
        raise CardRefused("replayed_challenge")
    row.refresh_from_db()
    if row.expires_at < now:
        raise CardRefused("expired_challenge", refusal_message("expired_challenge"))
    row._challenge = challenge
    return row

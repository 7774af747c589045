# Security: secret confirmation links and one-time e-mail codes are stored only as hashes; limits
# against guessing (attempts) and mail bombing (resend pause, codes per day) are the same for all.
"""One confirmation primitive: "secret link + one-time e-mail code".

Used by the access application (every named person confirms) and by admission (signatories
without a portal login). Links are 32 random bytes (URL-safe), stored as SHA-256; codes are six
digits, stored as HMAC-SHA-256 under ``SECRET_KEY`` bound to a purpose and the row they belong
to. Limits come from the settings ``CONFIRMATION_*``. Every refusal is a German sentence.

The callers keep the state on their own rows (hash, sent at, attempts, codes per day); the
functions here decide and compute, the caller saves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Limits:
    token_bytes: int
    code_digits: int
    max_attempts: int
    code_validity: dt.timedelta
    resend_after: dt.timedelta
    max_codes_per_day: int


def limits() -> Limits:
    return Limits(
        token_bytes=int(settings.CONFIRMATION_TOKEN_BYTES),
        code_digits=int(settings.CONFIRMATION_CODE_DIGITS),
        max_attempts=int(settings.CONFIRMATION_MAX_ATTEMPTS),
        code_validity=dt.timedelta(minutes=int(settings.CONFIRMATION_CODE_MINUTES)),
        resend_after=dt.timedelta(seconds=int(settings.CONFIRMATION_RESEND_SECONDS)),
        max_codes_per_day=int(settings.CONFIRMATION_MAX_CODES_PER_DAY),
    )


# --- links --------------------------------------------------------------------------------------


def hash_token(raw: str) -> str:
    """SHA-256 of a link token (the form both apps always stored: old links keep working)."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh secret link token: (raw for the e-mail, hash for the database)."""
    raw = secrets.token_urlsafe(limits().token_bytes)
    return raw, hash_token(raw)


def token_matches(stored_hash: str, raw: str) -> bool:
    return bool(raw and stored_hash) and hmac.compare_digest(stored_hash, hash_token(raw))


# --- codes --------------------------------------------------------------------------------------


def new_code() -> str:
    digits = limits().code_digits
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def hash_code(code: str, *, purpose: str, key: object) -> str:
    """HMAC of a one-time code, bound to its purpose (e.g. "access") and row (`key`)."""
    message = f"kvportal.confirmation:{purpose}:{key}:{code.strip()}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def code_matches(
    stored_hash: str, code: str, *, purpose: str, key: object, legacy: Iterable[str] = ()
) -> bool:
    """Does `code` match the stored hash? `legacy` are hashes of the same code computed the
    way the app stored it before this primitive (codes mailed before the update still work)."""
    if not stored_hash or not code.strip():
        return False
    candidates = [hash_code(code, purpose=purpose, key=key), *legacy]
    return any(hmac.compare_digest(stored_hash, c) for c in candidates)


RENEW = "Bitte fordern Sie einen neuen Code an."


def attempt_refusal(
    *, attempts: int, sent_at: dt.datetime | None, now: dt.datetime, renew: str = RENEW
) -> str:
    """Why a code may not be checked now ("" when it may). `sent_at` None: no expiry of its
    own (the code lives as long as its link). `renew` tells how to get a new code."""
    if attempts >= limits().max_attempts:
        return f"Zu viele Fehlversuche: Der Code wurde zu oft falsch eingegeben. {renew}"
    if sent_at is not None and now - sent_at > limits().code_validity:
        return f"Der Code ist abgelaufen. {renew}"
    return ""


def wrong_code_message(attempts: int, *, renew: str = RENEW) -> str:
    """The message after a wrong code; `attempts` counts the failed ones including this."""
    left = limits().max_attempts - attempts
    if left > 0:
        return f"Der Code ist falsch. Verbleibende Versuche: {left}."
    return f"Der Code ist falsch. {renew}"


@dataclass(frozen=True)
class Sending:
    """The per-day counter after a permitted send: store `day` and `count` on the row."""

    day: dt.date
    count: int


def resend_refusal(
    *, last_sent: dt.datetime | None, day: dt.date | None, sent_on_day: int, now: dt.datetime
) -> str:
    """Why no new code may be sent now ("" when it may): once a minute, N a day."""
    rules = limits()
    if last_sent is not None and now - last_sent < rules.resend_after:
        return (
            "Ein Code wurde gerade erst gesendet. Bitte warten Sie eine Minute, bevor Sie einen "
            "neuen Code anfordern."
        )
    if _sent_today(day=day, sent_on_day=sent_on_day, now=now) >= rules.max_codes_per_day:
        return (
            f"Heute wurden bereits {rules.max_codes_per_day} Codes gesendet. Bitte fordern Sie "
            "morgen einen neuen Code an."
        )
    return ""


def count_sending(*, day: dt.date | None, sent_on_day: int, now: dt.datetime) -> Sending:
    today = _local_day(now)
    return Sending(day=today, count=_sent_today(day=day, sent_on_day=sent_on_day, now=now) + 1)


def _local_day(now: dt.datetime) -> dt.date:
    from django.utils import timezone

    return timezone.localdate(now)


def _sent_today(*, day: dt.date | None, sent_on_day: int, now: dt.datetime) -> int:
    return sent_on_day if day == _local_day(now) else 0

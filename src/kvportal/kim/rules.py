# gematik AccountLimit.yaml/AccountManager.yaml limits, gemSpec_PKI Telematik-ID, PIN.SMC rules.
"""Pure rules of the portal's KIM part (no Django): addresses, limits, deregistration, retention,
PIN/PUK counters, order and account states."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

# --- limits (AccountLimit.yaml 1.1.x, AccountManager.yaml) ---------------------------------
MAX_MAIL_SIZE_MIN = 734_003_200  # bytes (700 MiB, KIM 1.5)
DATA_TTL_MIN, DATA_TTL_MAX, DATA_TTL_DEFAULT = 10, 365, 90  # days
QUOTA_UNLIMITED = -1
DEFAULT_QUOTA = 160_000_000_000  # bytes, the sample's value
DEREGISTRATION_GRACE_DAYS = 30  # decision: POP3 stays usable 30 days after deregistration

# --- SMC-B PINs (decision: PIN.SMC 6–8 digits, 3 tries; PUK 8 digits, 10 uses) -------------
PIN_TRIES = 3
PUK_USES = 10
PIN_LENGTH = (6, 8)
PUK_LENGTH = 8
CERT_YEARS = 5  # SMC-B certificates are valid 5 years

_LOCAL_PART = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,62}[a-z0-9])?$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_UMLAUTS = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"}
)


def local_part_for(name: str) -> str:
    """A KIM local part from a name: `Praxis Dr. Müller` → `praxis-dr-mueller`."""
    text = name.translate(_UMLAUTS)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:64].rstrip("-") or "kim"


def check_local_part(local: str) -> str | None:
    """German error for a local part that cannot be used, else None."""
    if not _LOCAL_PART.match(local or ""):
        return (
            "Der Name vor dem @ darf nur Kleinbuchstaben, Ziffern, Punkt und Bindestrich "
            "enthalten (höchstens 64 Zeichen) und muss mit einem Buchstaben oder einer Ziffer "
            "beginnen und enden."
        )
    if ".." in local:
        return "Der Name vor dem @ darf keine zwei Punkte hintereinander enthalten."
    return None


def check_domain(domain: str) -> str | None:
    if not _DOMAIN.match(domain or ""):
        return f"„{domain}“ ist keine gültige Domain für KIM-Adressen."
    return None


def address(local: str, domain: str) -> str:
    for error in (check_local_part(local), check_domain(domain)):
        if error:
            raise ValueError(error)
    return f"{local}@{domain}"


def unique_local_part(base: str, taken: set[str]) -> str:
    """`base`, or `base-2`, `base-3` … — the first one not in `taken`."""
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


@dataclass(frozen=True)
class Limits:
    max_mail_size: int = MAX_MAIL_SIZE_MIN
    data_time_to_live: int = DATA_TTL_DEFAULT
    quota: int = DEFAULT_QUOTA


def check_limits(limits: Limits) -> dict[str, str]:
    """Field → German error for limits outside AccountLimit.yaml's ranges."""
    errors: dict[str, str] = {}
    if limits.max_mail_size < MAX_MAIL_SIZE_MIN:
        errors["max_mail_size"] = (
            f"Die maximale Mailgröße muss mindestens {MAX_MAIL_SIZE_MIN} Byte (700 MiB) betragen."
        )
    if not DATA_TTL_MIN <= limits.data_time_to_live <= DATA_TTL_MAX:
        errors["data_time_to_live"] = (
            f"Die Aufbewahrungsdauer muss zwischen {DATA_TTL_MIN} und {DATA_TTL_MAX} Tagen liegen."
        )
    if limits.quota != QUOTA_UNLIMITED and limits.quota < limits.max_mail_size:
        errors["quota"] = (
            "Das Speicherkontingent muss mindestens so groß wie die maximale Mailgröße sein "
            "(oder -1 für unbegrenzt)."
        )
    return errors


def deregistration_date(
    requested_at: dt.datetime, grace_days: int = DEREGISTRATION_GRACE_DAYS
) -> dt.datetime:
    """AccountManager deregDate: the account stays usable (POP3) until this moment."""
    return requested_at + dt.timedelta(days=grace_days)


def retention_cutoff(now: dt.datetime, data_time_to_live: int) -> dt.datetime:
    """Messages received before this moment are past the account's dataTimeToLive."""
    return now - dt.timedelta(days=data_time_to_live)


def is_expired(received_at: dt.datetime, now: dt.datetime, data_time_to_live: int) -> bool:
    return received_at < retention_cutoff(now, data_time_to_live)


# --- states ---------------------------------------------------------------------------------


class OrderState(StrEnum):
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    REFUSED = "refused"
    ISSUED = "issued"
    ACTIVATED = "activated"


ORDER_TRANSITIONS = {
    OrderState.REQUESTED: {OrderState.CONFIRMED, OrderState.REFUSED},
    OrderState.CONFIRMED: {OrderState.ISSUED},
    OrderState.ISSUED: {OrderState.ACTIVATED},
    OrderState.REFUSED: set(),
    OrderState.ACTIVATED: set(),
}


class AccountState(StrEnum):
    REQUESTED = "requested"
    REGISTERED = "registered"
    DEREGISTERING = "deregistering"  # deregistered, within the grace period
    DEREGISTERED = "deregistered"
    REFUSED = "refused"


ACCOUNT_TRANSITIONS = {
    AccountState.REQUESTED: {AccountState.REGISTERED, AccountState.REFUSED},
    AccountState.REGISTERED: {AccountState.DEREGISTERING},
    AccountState.DEREGISTERING: {AccountState.REGISTERED, AccountState.DEREGISTERED},
    AccountState.DEREGISTERED: set(),
    AccountState.REFUSED: set(),
}


def can_move(transitions: dict, current: str, target: str) -> bool:
    return target in transitions.get(current, set())


def account_usable(state: str, dereg_date: dt.datetime | None, now: dt.datetime) -> bool:
    """Mail server may log in/deliver: registered, or deregistering before deregDate."""
    if state == AccountState.REGISTERED:
        return True
    return state == AccountState.DEREGISTERING and dereg_date is not None and now < dereg_date


# --- PIN.SMC / PUK -------------------------------------------------------------------------


def check_pin(pin: str) -> str | None:
    low, high = PIN_LENGTH
    if not (pin.isdigit() and low <= len(pin) <= high):
        return f"Die PIN muss aus {low} bis {high} Ziffern bestehen."
    if len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210":
        return "Die PIN darf keine Ziffernfolge wie 123456 und keine gleichen Ziffern sein."
    return None


@dataclass(frozen=True)
class PinCounter:
    pin_tries_left: int = PIN_TRIES
    puk_uses_left: int = PUK_USES

    @property
    def pin_blocked(self) -> bool:
        return self.pin_tries_left <= 0

    @property
    def puk_blocked(self) -> bool:
        return self.puk_uses_left <= 0


def after_pin(counter: PinCounter, correct: bool) -> PinCounter:
    """A PIN entry: a wrong one costs a try, a right one (while not blocked) resets them."""
    if counter.pin_blocked:
        return counter
    if correct:
        return PinCounter(PIN_TRIES, counter.puk_uses_left)
    return PinCounter(counter.pin_tries_left - 1, counter.puk_uses_left)


def after_puk(counter: PinCounter, correct: bool) -> PinCounter:
    """PUK entry: every use (right or wrong) costs one; a right one resets the PIN tries."""
    if counter.puk_blocked:
        return counter
    uses = counter.puk_uses_left - 1
    return PinCounter(PIN_TRIES if correct else counter.pin_tries_left, uses)


# --- Telematik-ID ---------------------------------------------------------------------------


def practice_telematik_id(bsnr: str) -> str:
    """Decision: KV-issued SMC-B get prefix 1 (Ärzteschaft, gemSpec_PKI Tab_PKI_101) and
    `2` + BSNR as suffix; a replacement card keeps it."""
    if not (bsnr.isdigit() and len(bsnr) == 9):
        raise ValueError("Die BSNR muss aus 9 Ziffern bestehen.")
    return f"1-2{bsnr}"


def check_telematik_id(value: str) -> str | None:
    """GS-A_4587: prefix, '-', suffix, at most 128 characters."""
    if len(value) > 128 or not re.match(r"^[0-9]{1,2}-[0-9A-Za-z.\-]+$", value or ""):
        return "Die Telematik-ID hat nicht die Form Präfix-Suffix (höchstens 128 Zeichen)."
    return None

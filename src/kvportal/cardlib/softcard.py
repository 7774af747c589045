# Seed 003 (medisign FAQ): 3 PIN tries, PUK, transport PIN, batch of 254 per PIN.QES.
"""A software eHBA that behaves like the real card.

PIN.CH protects the AUT/ENC keys (login), PIN.QES the QES key (signatures). Both start in
transport state and must be changed before first use (3 wrong transport PINs make the card
unusable for good). A personal PIN blocks after 3 wrong entries; its PUK (3 tries, at most
10 uses) unblocks it (PIN.CH may get a new value, PIN.QES keeps its old one). One PIN.QES
entry allows up to ``batch_size`` signatures (EF.SSEC, 254 by default).

One JSON file per card under ``<dir>/cards/``; every operation re-reads it under a lock so
the portal, the ``card`` command and the agent see the same state. Keys are unencrypted:
test card only.
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .certs import Profession, _aware, cert_from_pem, cert_to_pem, pss_mechanism
from .storage import atomic_write, default_ehba_dir, locked
from .testpki import KeyAlgorithm, PrivateKey, TestPKI, generate_key, key_from_pem, key_to_pem

MAX_TRIES = 3
PUK_MAX_USES = 10
DEFAULT_BATCH_SIZE = 254
_PIN_RE = re.compile(r"^\d{6,8}$")
_PBKDF2_ROUNDS = 2000  # a test card: fast on purpose


class PinType(StrEnum):
    CH = "ch"
    QES = "qes"

    @property
    def label(self) -> str:
        return "PIN.CH" if self is PinType.CH else "PIN.QES"


# --- exceptions -------------------------------------------------------------------------------


class CardError(Exception):
    code = "card_error"

    def __init__(self, message_de: str):
        super().__init__(message_de)
        self.message_de = message_de

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message_de}


class TransportPinActive(CardError):
    code = "transport_pin_active"

    def __init__(self, pin: PinType):
        self.pin = pin
        super().__init__(
            f"Die {pin.label} ist noch die Transport-PIN. Bitte ändern Sie sie zuerst in eine "
            "persönliche PIN."
        )


class WrongPin(CardError):
    code = "wrong_pin"

    #: tries left; None where the card does not say (a PKCS#11 token, `Pkcs11WrongPin`)
    remaining: int | None

    def __init__(self, pin: PinType, remaining: int):
        self.pin = pin
        self.remaining = remaining
        word = "Versuch" if remaining == 1 else "Versuche"
        super().__init__(f"Falsche {pin.label}. Verbleibend: {remaining} {word}.")

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "remaining": self.remaining, "pin": str(self.pin)}


class WrongTransportPin(WrongPin):
    code = "wrong_transport_pin"

    def __init__(self, pin: PinType, remaining: int):
        super().__init__(pin, remaining)
        word = "Versuch" if remaining == 1 else "Versuche"
        self.message_de = (
            f"Falsche Transport-PIN für die {pin.label}. Verbleibend: {remaining} {word}; "
            "danach ist die Karte dauerhaft unbrauchbar."
        )
        self.args = (self.message_de,)


class PinBlocked(CardError):
    code = "pin_blocked"

    def __init__(self, pin: PinType):
        self.pin = pin
        super().__init__(
            f"Die {pin.label} ist nach drei Fehleingaben gesperrt. Entsperren Sie sie mit der PUK."
        )


class WrongPuk(CardError):
    code = "wrong_puk"

    def __init__(self, pin: PinType, remaining: int):
        self.pin = pin
        self.remaining = remaining
        word = "Versuch" if remaining == 1 else "Versuche"
        super().__init__(f"Falsche PUK für die {pin.label}. Verbleibend: {remaining} {word}.")

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "remaining": self.remaining, "pin": str(self.pin)}


class PukBlocked(CardError):
    code = "puk_blocked"

    def __init__(self, pin: PinType, *, exhausted: bool = False):
        self.pin = pin
        reason = (
            "wurde bereits zehnmal verwendet"
            if exhausted
            else "ist nach drei Fehleingaben gesperrt"
        )
        super().__init__(f"Die PUK für die {pin.label} {reason}. Die Karte muss ersetzt werden.")


class CardUnusable(CardError):
    code = "card_unusable"

    def __init__(self):
        super().__init__(
            "Die Karte ist nach drei falschen Transport-PINs dauerhaft unbrauchbar. "
            "Bitte beantragen Sie eine Ersatzkarte."
        )


class CardRevoked(CardError):
    code = "card_revoked"

    def __init__(self):
        super().__init__(
            "Die Zertifikate dieser Karte sind gesperrt (widerrufen). Eine Sperrung kann nicht "
            "rückgängig gemacht werden; bitte beantragen Sie eine Ersatzkarte."
        )


class CardExpired(CardError):
    code = "card_expired"

    def __init__(self, not_after: dt.datetime):
        self.not_after = not_after
        super().__init__(
            f"Die Zertifikate dieser Karte sind am {not_after:%d.%m.%Y} abgelaufen. "
            "Bitte verwenden Sie Ihre Folgekarte."
        )


class CardNotYetValid(CardError):
    code = "card_not_yet_valid"

    def __init__(self, not_before: dt.datetime):
        self.not_before = not_before
        super().__init__(f"Die Zertifikate dieser Karte gelten erst ab {not_before:%d.%m.%Y}.")


class InvalidPinFormat(CardError):
    code = "invalid_pin_format"

    def __init__(self, detail: str = ""):
        super().__init__(
            "Die neue PIN muss aus 6 bis 8 Ziffern bestehen und darf nicht die Transport-PIN sein."
            + (f" {detail}" if detail else "")
        )


class PinChangeNotAllowed(CardError):
    code = "pin_change_not_allowed"

    def __init__(self, message_de: str):
        super().__init__(message_de)


class BatchLimitExceeded(CardError):
    code = "batch_limit"

    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(
            f"Mit einer PIN-Eingabe können höchstens {limit} Dokumente signiert werden. "
            "Bitte geben Sie die PIN.QES erneut ein."
        )


class SessionClosed(CardError):
    code = "session_closed"

    def __init__(self):
        super().__init__("Die Signatursitzung ist beendet. Bitte geben Sie die PIN.QES erneut ein.")


class CardNotFound(CardError):
    code = "card_not_found"

    def __init__(self, ref: str):
        self.ref = ref
        super().__init__(f"Keine Testkarte „{ref}“ gefunden (Karten-ID oder LANR).")


# --- status objects ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PinInfo:
    status: str  # "transport" | "verifiable" | "blocked" | "dead"
    remaining_tries: int

    STATUS_DE = {
        "transport": "Transport-PIN (noch nicht geändert)",
        "verifiable": "aktiv",
        "blocked": "gesperrt (mit PUK entsperren)",
        "dead": "dauerhaft unbrauchbar",
    }


@dataclass(frozen=True)
class PukInfo:
    remaining_tries: int
    remaining_uses: int


@dataclass(frozen=True)
class CardStatus:
    card_id: str
    state: str  # transport | active | unusable | revoked | expired | not_yet_valid
    lanr: str
    given_name: str
    surname: str
    telematik_id: str
    profession: str
    algorithm: str
    batch_size: int
    not_before: dt.datetime
    not_after: dt.datetime
    revoked_at: dt.datetime | None
    pins: dict[PinType, PinInfo]
    puks: dict[PinType, PukInfo]
    predecessor_id: str | None
    successor_id: str | None

    STATE_DE = {
        "transport": "noch nicht in Betrieb genommen (Transport-PIN aktiv)",
        "active": "einsatzbereit",
        "unusable": "dauerhaft unbrauchbar (Transport-PIN dreimal falsch)",
        "revoked": "gesperrt (Zertifikate widerrufen)",
        "expired": "abgelaufen",
        "not_yet_valid": "noch nicht gültig",
    }

    def to_dict(self) -> dict[str, Any]:
        return {
            "card_id": self.card_id,
            "state": self.state,
            "state_de": self.STATE_DE[self.state],
            "lanr": self.lanr,
            "given_name": self.given_name,
            "surname": self.surname,
            "telematik_id": self.telematik_id,
            "profession": self.profession,
            "algorithm": self.algorithm,
            "batch_size": self.batch_size,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "pins": {
                str(k): {"status": v.status, "remaining_tries": v.remaining_tries}
                for k, v in self.pins.items()
            },
            "puks": {
                str(k): {"remaining_tries": v.remaining_tries, "remaining_uses": v.remaining_uses}
                for k, v in self.puks.items()
            },
            "predecessor_id": self.predecessor_id,
            "successor_id": self.successor_id,
        }

    def text_de(self) -> str:
        lines = [
            f"Karte {self.card_id}: {self.STATE_DE[self.state]}",
            f"  Inhaber: {self.given_name} {self.surname} (LANR {self.lanr}, {self.profession})",
            f"  Telematik-ID: {self.telematik_id}",
            f"  Gültig: {self.not_before:%d.%m.%Y} bis {self.not_after:%d.%m.%Y}",
            f"  Stapelsignatur: bis zu {self.batch_size} Dokumente je PIN-Eingabe",
        ]
        if self.revoked_at:
            lines.append(f"  Gesperrt seit: {self.revoked_at:%d.%m.%Y %H:%M} UTC")
        for pin in PinType:
            info, puk = self.pins[pin], self.puks[pin]
            lines.append(
                f"  {pin.label}: {PinInfo.STATUS_DE[info.status]}, "
                f"{info.remaining_tries} Versuche übrig; PUK: {puk.remaining_tries} Versuche, "
                f"{puk.remaining_uses} Verwendungen übrig"
            )
        if self.predecessor_id:
            lines.append(f"  Folgekarte von: {self.predecessor_id}")
        if self.successor_id:
            lines.append(f"  Ersetzt durch: {self.successor_id}")
        return "\n".join(lines)


@dataclass(frozen=True)
class IssuedSecrets:
    """The PIN letter of a new card."""

    transport_pin_ch: str
    transport_pin_qes: str
    puk_ch: str
    puk_qes: str

    def text_de(self) -> str:
        return (
            f"Transport-PIN PIN.CH: {self.transport_pin_ch}\n"
            f"Transport-PIN PIN.QES: {self.transport_pin_qes}\n"
            f"PUK PIN.CH: {self.puk_ch}\n"
            f"PUK PIN.QES: {self.puk_qes}"
        )


# --- helpers ---------------------------------------------------------------------------------


def _hash(secret: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", secret.encode(), bytes.fromhex(salt), _PBKDF2_ROUNDS).hex()


def _new_secret(secret: str) -> dict[str, str]:
    salt = secrets.token_hex(16)
    return {"salt": salt, "hash": _hash(secret, salt)}


def _matches(entry: dict[str, Any], secret: str) -> bool:
    return hmac.compare_digest(_hash(secret, entry["salt"]), entry["hash"])


def _random_digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


def new_card_id() -> str:
    """ICCSN-like: 80 (health) 276 (DE) 00101 (test issuer) + 10 digits."""
    return "8027600101" + _random_digits(10)


def generate_telematik_id(profession: Profession | str) -> str:
    """Test Telematik-ID: Arzt ``1-1<Kammer><Nr>`` (Kammer 14 = Sachsen (test)), PT ``4-…``."""
    if Profession(profession) is Profession.ARZT:
        return "1-114" + _random_digits(10)
    return "4-14" + _random_digits(10)


def cards_dir(directory: Path | str | None) -> Path:
    base = Path(directory) if directory is not None else default_ehba_dir()
    return base / "cards"


# --- the card --------------------------------------------------------------------------------


class SoftCard:
    """A software eHBA persisted in ``path`` (JSON)."""

    def __init__(self, path: Path, *, enforce_validity: bool = True):
        self.path = Path(path)
        self.enforce_validity = enforce_validity
        self._data = self._read()

    # -- persistence
    def _read(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            raise CardNotFound(self.path.stem) from None

    def _write(self, data: dict[str, Any]) -> None:
        atomic_write(self.path, json.dumps(data, indent=1).encode())
        self._data = data

    def _update(self, func: Callable[[dict[str, Any]], Any]) -> Any:
        """Read-modify-write under the card lock. ``func`` may raise after mutating: the
        mutation (e.g. a consumed PIN try) is stored before the exception propagates."""
        with locked(self.path):
            data = self._read()
            try:
                result = func(data)
            except CardError:
                self._write(data)
                raise
            self._write(data)
            return result

    def refresh(self) -> SoftCard:
        self._data = self._read()
        return self

    # -- construction
    @classmethod
    def issue(
        cls,
        pki: TestPKI,
        *,
        lanr: str,
        given_name: str,
        surname: str,
        profession: Profession | str,
        telematik_id: str | None = None,
        algorithm: KeyAlgorithm = "brainpool",
        directory: Path | str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        valid_days: int = 1826,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        now: dt.datetime | None = None,
        transport_pins: dict[PinType, str] | None = None,
        puks: dict[PinType, str] | None = None,
        predecessor_id: str | None = None,
        email: str | None = None,
    ) -> tuple[SoftCard, IssuedSecrets]:
        if batch_size < 1:
            raise ValueError("Die Stapelgröße muss mindestens 1 sein.")
        profession = Profession(profession)
        telematik_id = telematik_id or generate_telematik_id(profession)
        now = _aware(now)
        not_before = _aware(not_before) if not_before else now - dt.timedelta(minutes=5)
        not_after = _aware(not_after) if not_after else not_before + dt.timedelta(days=valid_days)
        base = Path(directory) if directory is not None else pki.directory.parent
        card_id = new_card_id()
        keys = {k: generate_key(algorithm) for k in ("aut", "enc", "qes")}
        certs = pki.issue_card_certificates(
            given_name=given_name,
            surname=surname,
            telematik_id=telematik_id,
            profession=profession,
            card_serial=card_id,
            aut_key=keys["aut"],
            enc_key=keys["enc"],
            qes_key=keys["qes"],
            not_before=not_before,
            not_after=not_after,
            email=email,
        )
        tp = {p: (transport_pins or {}).get(p) or _random_digits(6) for p in PinType}
        pk = {p: (puks or {}).get(p) or _random_digits(8) for p in PinType}
        for value in (*tp.values(), *pk.values()):
            if not re.fullmatch(r"\d{6,8}", value):
                raise InvalidPinFormat("Transport-PINs und PUKs: 6 bis 8 Ziffern.")
        data = {
            "version": 1,
            "card_id": card_id,
            "lanr": lanr,
            "given_name": given_name,
            "surname": surname,
            "telematik_id": telematik_id,
            "profession": str(profession),
            "algorithm": algorithm,
            "batch_size": batch_size,
            "pki_dir": str(pki.directory.resolve()),
            "issued_at": now.isoformat(),
            "keys": {k: key_to_pem(v).decode() for k, v in keys.items()},
            "certs": {
                "aut": cert_to_pem(certs.aut),
                "enc": cert_to_pem(certs.enc),
                "qes": cert_to_pem(certs.qes),
            },
            "pins": {
                str(p): {**_new_secret(tp[p]), "state": "transport", "tries_left": MAX_TRIES}
                for p in PinType
            },
            "puks": {
                str(p): {**_new_secret(pk[p]), "tries_left": MAX_TRIES, "uses_left": PUK_MAX_USES}
                for p in PinType
            },
            "unusable": False,
            "revoked_at": None,
            "predecessor": predecessor_id,
            "successor": None,
        }
        path = cards_dir(base) / f"{card_id}.json"
        atomic_write(path, json.dumps(data, indent=1).encode())
        secrets_ = IssuedSecrets(tp[PinType.CH], tp[PinType.QES], pk[PinType.CH], pk[PinType.QES])
        return cls(path), secrets_

    @classmethod
    def load(cls, ref: str | Path, *, directory: Path | str | None = None, **kw) -> SoftCard:
        path = Path(ref)
        if path.suffix != ".json":
            path = cards_dir(directory) / f"{ref}.json"
        if not path.exists():
            raise CardNotFound(str(ref))
        return cls(path, **kw)

    @classmethod
    def list(cls, directory: Path | str | None = None) -> list[SoftCard]:
        folder = cards_dir(directory)
        if not folder.is_dir():
            return []
        cards = [cls(p) for p in sorted(folder.glob("*.json"))]
        return sorted(cards, key=lambda c: c._data["issued_at"])

    @classmethod
    def find(cls, ref: str, *, directory: Path | str | None = None, **kw) -> SoftCard:
        """By card id, or by LANR (the newest card of that person)."""
        path = cards_dir(directory) / f"{ref}.json"
        if path.exists():
            return cls(path, **kw)
        matching = [c for c in cls.list(directory) if c.lanr == ref]
        if not matching:
            raise CardNotFound(ref)
        card = matching[-1]
        card.enforce_validity = kw.get("enforce_validity", True)
        return card

    # -- properties
    @property
    def card_id(self) -> str:
        return self._data["card_id"]

    @property
    def lanr(self) -> str:
        return self._data["lanr"]

    @property
    def telematik_id(self) -> str:
        return self._data["telematik_id"]

    @property
    def given_name(self) -> str:
        return self._data["given_name"]

    @property
    def surname(self) -> str:
        return self._data["surname"]

    @property
    def profession(self) -> Profession:
        return Profession(self._data["profession"])

    @property
    def algorithm(self) -> KeyAlgorithm:
        return self._data["algorithm"]

    @property
    def batch_size(self) -> int:
        return int(self._data["batch_size"])

    @property
    def aut_certificate(self) -> x509.Certificate:
        return cert_from_pem(self._data["certs"]["aut"])

    @property
    def enc_certificate(self) -> x509.Certificate:
        return cert_from_pem(self._data["certs"]["enc"])

    @property
    def qes_certificate(self) -> x509.Certificate:
        return cert_from_pem(self._data["certs"]["qes"])

    @property
    def pki_dir(self) -> Path:
        return Path(self._data["pki_dir"])

    def pki(self) -> TestPKI:
        return TestPKI.load(self.pki_dir)

    def ca_chain(self, kind: str = "qes") -> builtins.list[x509.Certificate]:
        pki = self.pki()
        return [pki.qes_ca_cert if kind == "qes" else pki.hba_ca_cert, pki.root_cert]

    # -- status
    def status(self, now: dt.datetime | None = None) -> CardStatus:
        d = self.refresh()._data
        now = _aware(now)
        cert = self.aut_certificate
        revoked_at = dt.datetime.fromisoformat(d["revoked_at"]) if d["revoked_at"] else None
        if d["unusable"]:
            state = "unusable"
        elif revoked_at is not None:
            state = "revoked"
        elif now > cert.not_valid_after_utc:
            state = "expired"
        elif now < cert.not_valid_before_utc:
            state = "not_yet_valid"
        elif any(d["pins"][str(p)]["state"] == "transport" for p in PinType):
            state = "transport"
        else:
            state = "active"
        return CardStatus(
            card_id=d["card_id"],
            state=state,
            lanr=d["lanr"],
            given_name=d["given_name"],
            surname=d["surname"],
            telematik_id=d["telematik_id"],
            profession=d["profession"],
            algorithm=d["algorithm"],
            batch_size=int(d["batch_size"]),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            revoked_at=revoked_at,
            pins={
                p: PinInfo(d["pins"][str(p)]["state"], d["pins"][str(p)]["tries_left"])
                for p in PinType
            },
            puks={
                p: PukInfo(d["puks"][str(p)]["tries_left"], d["puks"][str(p)]["uses_left"])
                for p in PinType
            },
            predecessor_id=d["predecessor"],
            successor_id=d["successor"],
        )

    # -- PIN management
    @staticmethod
    def _check_new_pin(new: str, transport_entry: dict[str, Any] | None = None) -> None:
        if not _PIN_RE.fullmatch(new or ""):
            raise InvalidPinFormat()
        if transport_entry is not None and _matches(transport_entry, new):
            raise InvalidPinFormat()

    def change_pin(self, pin: PinType | str, old: str, new: str) -> None:
        """Change a PIN; in transport state ``old`` is the transport PIN."""
        pin = PinType(pin)

        def op(d: dict[str, Any]) -> None:
            if d["unusable"]:
                raise CardUnusable()
            entry = d["pins"][str(pin)]
            if entry["state"] == "transport":
                if not _matches(entry, old):
                    entry["tries_left"] -= 1
                    if entry["tries_left"] <= 0:
                        entry["state"] = "dead"
                        d["unusable"] = True
                        raise CardUnusable()
                    raise WrongTransportPin(pin, entry["tries_left"])
                self._check_new_pin(new, entry)
                entry.update(_new_secret(new), state="verifiable", tries_left=MAX_TRIES)
                return
            self._verify_entry(entry, pin, old)
            self._check_new_pin(new)
            entry.update(_new_secret(new), tries_left=MAX_TRIES)

        self._update(op)

    @staticmethod
    def _verify_entry(entry: dict[str, Any], pin: PinType, value: str) -> None:
        if entry["state"] == "transport":
            raise TransportPinActive(pin)
        if entry["state"] == "dead":
            raise CardUnusable()
        if entry["state"] == "blocked":
            raise PinBlocked(pin)
        if not _matches(entry, value or ""):
            entry["tries_left"] -= 1
            if entry["tries_left"] <= 0:
                entry["tries_left"] = 0
                entry["state"] = "blocked"
                raise PinBlocked(pin)
            raise WrongPin(pin, entry["tries_left"])
        entry["tries_left"] = MAX_TRIES

    def unblock_pin(self, pin: PinType | str, puk: str, new_pin: str | None = None) -> None:
        """Reset the retry counter with the PUK. PIN.CH may get ``new_pin``; PIN.QES keeps its
        old value (like the real card)."""
        pin = PinType(pin)
        if pin is PinType.QES and new_pin is not None:
            raise PinChangeNotAllowed(
                "Die PIN.QES kann mit der PUK nur entsperrt, nicht neu gesetzt werden. "
                "Die bisherige PIN.QES gilt weiter."
            )
        if new_pin is not None:
            self._check_new_pin(new_pin)

        def op(d: dict[str, Any]) -> None:
            if d["unusable"]:
                raise CardUnusable()
            entry = d["pins"][str(pin)]
            if entry["state"] == "transport":
                raise TransportPinActive(pin)
            p = d["puks"][str(pin)]
            if p["tries_left"] <= 0:
                raise PukBlocked(pin)
            if p["uses_left"] <= 0:
                raise PukBlocked(pin, exhausted=True)
            if not _matches(p, puk or ""):
                p["tries_left"] -= 1
                if p["tries_left"] <= 0:
                    raise PukBlocked(pin)
                raise WrongPuk(pin, p["tries_left"])
            p["tries_left"] = MAX_TRIES
            p["uses_left"] -= 1
            entry.update(state="verifiable", tries_left=MAX_TRIES)
            if new_pin is not None:
                entry.update(_new_secret(new_pin))

        self._update(op)

    def set_transport_pin(self, pin: PinType | str, transport_pin: str) -> None:
        """Test/demo helper: put a PIN back into transport state with the given value."""
        pin = PinType(pin)
        if not _PIN_RE.fullmatch(transport_pin or ""):
            raise InvalidPinFormat()

        def op(d: dict[str, Any]) -> None:
            if d["unusable"]:
                raise CardUnusable()
            d["pins"][str(pin)].update(
                _new_secret(transport_pin), state="transport", tries_left=MAX_TRIES
            )

        self._update(op)

    # -- lifecycle
    def check_usable(self, now: dt.datetime | None = None) -> None:
        d = self.refresh()._data
        if d["unusable"]:
            raise CardUnusable()
        if not self.enforce_validity:
            return
        now = _aware(now)
        if d["revoked_at"] and dt.datetime.fromisoformat(d["revoked_at"]) <= now:
            raise CardRevoked()
        cert = self.aut_certificate
        if now > cert.not_valid_after_utc:
            raise CardExpired(cert.not_valid_after_utc)
        if now < cert.not_valid_before_utc:
            raise CardNotYetValid(cert.not_valid_before_utc)

    def revoke(self, pki: TestPKI | None = None, *, now: dt.datetime | None = None) -> None:
        """Revoke all three certificates at the PKI. Irreversible."""
        pki = pki or self.pki()
        now = _aware(now)
        for cert in (self.aut_certificate, self.enc_certificate, self.qes_certificate):
            pki.revoke(cert, at=now)

        def op(d: dict[str, Any]) -> None:
            if d["revoked_at"] is None:
                d["revoked_at"] = now.isoformat()

        self._update(op)

    def follow_up(
        self, pki: TestPKI | None = None, *, telematik_id: str | None = None, **issue_kwargs
    ) -> tuple[SoftCard, IssuedSecrets]:
        """Issue a follow-up card (Folgekarte): same person, new keys and certificates. The
        Telematik-ID is kept unless a new one is given (GS-A_4958 allows a new one)."""
        pki = pki or self.pki()
        d = self._data
        kwargs: dict[str, Any] = {
            "lanr": d["lanr"],
            "given_name": d["given_name"],
            "surname": d["surname"],
            "profession": d["profession"],
            "telematik_id": telematik_id or d["telematik_id"],
            "algorithm": d["algorithm"],
            "batch_size": d["batch_size"],
            "directory": self.path.parent.parent,
        }
        kwargs.update(issue_kwargs)
        new, secrets_ = SoftCard.issue(pki, predecessor_id=self.card_id, **kwargs)

        def op(data: dict[str, Any]) -> None:
            data["successor"] = new.card_id

        self._update(op)
        return new, secrets_

    # -- crypto
    def _key(self, kind: str) -> PrivateKey:
        return key_from_pem(self._data["keys"][kind].encode())

    def verify_pin(self, pin: PinType | str, value: str) -> None:
        pin = PinType(pin)

        def op(d: dict[str, Any]) -> None:
            if d["unusable"]:
                raise CardUnusable()
            self._verify_entry(d["pins"][str(pin)], pin, value)

        self._update(op)

    def sign_authentication(
        self, pin: str, data: bytes, *, now: dt.datetime | None = None
    ) -> bytes:
        """PIN.CH, then sign ``data`` with the AUT key. ECDSA: raw r||s (JOSE); RSA: PSS/SHA-256."""
        self.check_usable(now)
        self.verify_pin(PinType.CH, pin)
        key = self._key("aut")
        if isinstance(key, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
            size = (key.curve.key_size + 7) // 8
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        return key.sign(
            data,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )

    def decrypt_enc(
        self, pin: str, ciphertext: bytes, pad: Any, *, now: dt.datetime | None = None
    ) -> bytes:
        """PIN.CH, then decrypt with the ENC key (RSA only: KIM's RSAES-OAEP, issue 15)."""
        self.check_usable(now)
        self.verify_pin(PinType.CH, pin)
        key = self._key("enc")
        if not isinstance(key, rsa.RSAPrivateKey):
            raise CardError("Der ENC-Schlüssel dieser Karte ist kein RSA-Schlüssel.")
        return key.decrypt(ciphertext, pad)

    def open_qes_session(self, pin: str, *, now: dt.datetime | None = None) -> QesSession:
        """Verify PIN.QES once; the session then allows ``batch_size`` signatures."""
        self.check_usable(now)
        self.verify_pin(PinType.QES, pin)
        return QesSession(self, self._key("qes"), self.batch_size)


@dataclass
class QesSession:
    """Security state after one PIN.QES entry (the card's SSEC counter)."""

    card: SoftCard
    _key: PrivateKey = field(repr=False)
    limit: int
    used: int = 0
    closed: bool = False

    @property
    def remaining(self) -> int:
        return self.limit - self.used

    def __enter__(self) -> QesSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True
        self._key = None  # type: ignore[assignment]

    def sign(self, data: bytes, digest_algorithm: str = "sha256") -> bytes:
        """Sign ``data`` (hashing it) with the QES key. ECDSA: DER; RSA: PSS."""
        if self.closed:
            raise SessionClosed()
        if self.used >= self.limit:
            raise BatchLimitExceeded(self.limit)
        self.used += 1
        h = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[
            digest_algorithm.lower()
        ]
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(h))
        assert isinstance(self._key, rsa.RSAPrivateKey)
        return self._key.sign(data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)

    def pyhanko_signer(self) -> Signer:
        return SoftCardSigner(self)


class SoftCardSigner(Signer):
    """pyHanko signer whose raw signatures come from a :class:`QesSession`."""

    def __init__(self, session: QesSession):
        card = session.card
        cert = asn1_x509.Certificate.load(
            card.qes_certificate.public_bytes(serialization.Encoding.DER)
        )
        chain = [
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
            for c in card.ca_chain("qes")
        ]
        self._is_ec = isinstance(card.qes_certificate.public_key(), ec.EllipticCurvePublicKey)
        super().__init__(
            signing_cert=cert,
            cert_registry=SimpleCertificateStore.from_certs([cert, *chain]),
            signature_mechanism=None if self._is_ec else pss_mechanism(),
        )
        self.session = session

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run=False) -> bytes:
        if dry_run:
            # size estimate only: do not use up a signature of the batch
            return bytes(72 if self._is_ec else 256)
        return self.session.sign(data, digest_algorithm)

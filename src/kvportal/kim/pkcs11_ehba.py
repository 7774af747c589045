# Security rule (gemSpec_Krypt, gemSMIME_KOMLE): the eHBA's C.HP.ENC and C.HP.QES private keys
# never leave the PKCS#11 token; ENC decrypts with raw RSA on the token and OAEP-SHA-256 decoding
# here (SoftHSM2 2.6 offers OAEP with SHA-1 only), QES signs RSASSA-PSS on the token with one
# PIN entry per message; ENC keeps the token login for the agent's session (the card's
# security state after PIN.CH). No Django.
"""The eHBA of `kvportal card agent --pkcs11-lib …` as KIM card of the web mailbox and the
client module (`agent_endpoints.card_agent_routes`): the same shape as the software eHBA."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any, cast

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from pkcs11 import Attribute, ObjectClass
from pkcs11 import exceptions as p11_exc

from kvportal.kim.agent_endpoints import NO_RSA_EHBA, AgentError
from kvportal.kim.pkcs11card import CardKeyError, Pkcs11RsaKey

#: label of the C.HP.ENC key and certificate on the token (the QES label is the agent's
#: `--pkcs11-key`)
ENC_LABEL = os.environ.get("KVPORTAL_KIM_PKCS11_ENC_LABEL", "ENC")


def _card_error(exc: Exception, pin_name: str) -> AgentError:
    if isinstance(exc, p11_exc.PinIncorrect):
        return AgentError("card", f"Falsche {pin_name}.", HTTPStatus.FORBIDDEN)
    if isinstance(exc, (p11_exc.PinLocked, p11_exc.PinExpired)):
        return AgentError("card", f"{pin_name} ist gesperrt.", HTTPStatus.FORBIDDEN)
    if isinstance(exc, CardKeyError):
        return AgentError("card", str(exc), HTTPStatus.FORBIDDEN)
    return AgentError(
        "card", f"Der eHBA (PKCS#11) hat abgelehnt: {type(exc).__name__}.", HTTPStatus.FORBIDDEN
    )


def _certificate(session, label: str) -> x509.Certificate:
    objs = list(
        session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: label})
    )
    if not objs:
        raise AgentError(
            "no_card",
            f"Auf dem eHBA (PKCS#11) fehlt das Zertifikat „{label}“.",
            HTTPStatus.SERVICE_UNAVAILABLE,
        )
    return x509.load_der_x509_certificate(bytes(objs[0][Attribute.VALUE]))


class _EncKey:
    """C.HP.ENC: PIN.CH is asked once and kept for the agent's session (like the card's
    security state after PIN.CH, and like the software eHBA); each decryption logs in, decrypts
    on the token and closes the session, so no login lingers on the token."""

    def __init__(self, card: Pkcs11EhbaCard):
        self._card = card
        self._verified: str | None = None
        self._lock = threading.Lock()

    def decrypt(self, ciphertext: bytes, pad) -> bytes:
        with self._lock:
            pin = self._verified or self._card.pin("PIN.CH", "KIM-Nachricht entschlüsseln (eHBA)")
            size = self._card.key_size("enc")
            try:
                session = self._card.token().open(user_pin=pin)
            except pkcs11.PKCS11Error as exc:
                raise _card_error(exc, "PIN.CH") from exc
            with session:
                self._verified = pin
                try:
                    key = session.get_key(
                        object_class=ObjectClass.PRIVATE_KEY, label=self._card.enc_label
                    )
                except pkcs11.PKCS11Error as exc:
                    raise _card_error(exc, "PIN.CH") from exc
                # CardKeyError (a ValueError) passes: komle then tries the next recipient info
                return Pkcs11RsaKey(key, size_bits=size, lock=threading.Lock()).decrypt(
                    ciphertext, pad
                )


class _QesKey:
    """C.HP.QES signs the KIM transport signature (the eHBA has no OSIG key): PIN.QES per
    message, the session is closed right after."""

    def __init__(self, card: Pkcs11EhbaCard):
        self._card = card

    def sign(self, data: bytes, pad, algorithm) -> bytes:
        pin = self._card.pin("PIN.QES", "KIM-Nachricht signieren (eHBA)")
        size = self._card.key_size("osig")
        try:
            with self._card.token().open(user_pin=pin) as session:
                key = session.get_key(
                    object_class=ObjectClass.PRIVATE_KEY, label=self._card.qes_label
                )
                return Pkcs11RsaKey(key, size_bits=size, lock=threading.Lock()).sign(
                    data, pad, algorithm
                )
        except (pkcs11.PKCS11Error, CardKeyError) as exc:
            raise _card_error(exc, "PIN.QES") from exc


class Pkcs11EhbaCard:
    """`token` is the agent's `kvportal.cardlib.pkcs11.Pkcs11Token` (library, token label, QES
    key label, CA chain of the QES certificate)."""

    kind = "eHBA"

    def __init__(
        self,
        token: Any,
        *,
        pin: Callable[[str, str], str],
        trust: Sequence[x509.Certificate] = (),
        enc_label: str | None = None,
    ):
        self._p11 = token
        self.pin = pin
        self.enc_label = enc_label or ENC_LABEL
        self.qes_label = token.key_label
        try:
            with self.token().open() as session:  # certificates are public objects
                enc = _certificate(session, self.enc_label)
                qes = _certificate(session, self.qes_label)
        except pkcs11.PKCS11Error as exc:
            raise AgentError(
                "no_card",
                f"eHBA (PKCS#11) „{token.token_label}“ nicht lesbar ({type(exc).__name__}).",
                HTTPStatus.SERVICE_UNAVAILABLE,
            ) from exc
        if not isinstance(enc.public_key(), rsa.RSAPublicKey) or not isinstance(
            qes.public_key(), rsa.RSAPublicKey
        ):
            raise AgentError("no_card", NO_RSA_EHBA, HTTPStatus.SERVICE_UNAVAILABLE)
        self.certificates = {"enc": enc, "osig": qes}
        self.keys = {"enc": _EncKey(self), "osig": _QesKey(self)}
        self.chain = list(token.ca_chain or [])
        self.ca = self.chain[-1] if self.chain else qes
        self.trust = [*trust, *self.chain]
        self.card_id = ("pkcs11", token.lib_path, token.token_label)

    def key_size(self, kind: str) -> int:
        return cast(rsa.RSAPublicKey, self.certificates[kind].public_key()).key_size

    def token(self):
        from kvportal.cardlib.pkcs11 import load_lib

        try:
            return load_lib(self._p11.lib_path).get_token(token_label=self._p11.token_label)
        except pkcs11.PKCS11Error as exc:
            raise AgentError(
                "no_card",
                f"eHBA (PKCS#11) „{self._p11.token_label}“ nicht gefunden.",
                HTTPStatus.SERVICE_UNAVAILABLE,
            ) from exc

    def describe(self) -> dict[str, Any]:
        until = self.certificates["enc"].not_valid_after_utc.isoformat()
        return {"karte": "eHBA (PKCS#11)", "token": self._p11.token_label, "gueltig_bis": until}

# TUC_KON_154 via PKCS#11: one C_Login (PIN.QES) per batch part of at most batch_size.
"""A QES token behind a PKCS#11 module (real card middleware, or SoftHSM2 in tests).

:class:`Pkcs11Token` implements the :class:`~kvportal.cardlib.signing.QesToken` protocol, so
:func:`~kvportal.cardlib.signing.sign_pdfs` works unchanged: each batch part opens a PKCS#11
session and logs in with the PIN the user typed (C_Login), then signs at most
``batch_size`` documents through pyHanko's ``PKCS11Signer``. PIN errors are mapped to the
card exceptions (``WrongPin``, ``PinBlocked``). Note: SoftHSM2 never blocks a PIN; real
tokens report it through ``CKR_PIN_LOCKED``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pkcs11
from asn1crypto import core as asn1
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11 import exceptions as p11_exc
from pkcs11.util.ec import encode_ec_public_key
from pyhanko.sign.pkcs11 import PKCS11Signer

from .certs import Profession
from .softcard import (
    DEFAULT_BATCH_SIZE,
    BatchLimitExceeded,
    CardError,
    PinBlocked,
    PinType,
    SessionClosed,
    WrongPin,
)
from .testpki import TestPKI

if TYPE_CHECKING:
    # python-pkcs11 0.10: `pkcs11.lib` is a caching factory function; the class is `_pkcs11.lib`
    from pkcs11._pkcs11 import lib as Pkcs11Lib

BRAINPOOL_P256R1_OID = "1.3.36.3.3.2.8.1.1.7"


class TokenError(CardError):
    code = "token_error"


class Pkcs11WrongPin(WrongPin):
    """Wrong PIN on a PKCS#11 token; ``remaining`` is None when the token does not say."""

    def __init__(self, remaining: int | None):
        super().__init__(PinType.QES, remaining if remaining is not None else 0)
        self.remaining = remaining
        if remaining is None:
            self.message_de = "Falsche PIN.QES."
            self.args = (self.message_de,)


_LIBS: dict[str, Pkcs11Lib] = {}


def load_lib(path: str) -> Pkcs11Lib:
    """python-pkcs11 allows one loaded module per path; keep it."""
    if path not in _LIBS:
        _LIBS[path] = pkcs11.lib(path)
    return _LIBS[path]


def _remaining_tries(token: pkcs11.Token) -> int | None:
    flags = token.flags
    if flags & pkcs11.TokenFlag.USER_PIN_FINAL_TRY:
        return 1
    return None


class _CountingSigner(PKCS11Signer):
    def __init__(self, *args: Any, session_state: Pkcs11QesSession, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._state = session_state

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run=False) -> bytes:
        if not dry_run:
            if self._state.closed:
                raise SessionClosed()
            if self._state.used >= self._state.limit:
                raise BatchLimitExceeded(self._state.limit)
            self._state.used += 1
        return await super().async_sign_raw(data, digest_algorithm, dry_run=dry_run)


@dataclass
class Pkcs11QesSession:
    token: Pkcs11Token
    session: Any = field(repr=False)
    limit: int
    used: int = 0
    closed: bool = False

    def pyhanko_signer(self) -> PKCS11Signer:
        cert = asn1_x509.Certificate.load(
            self.token.qes_certificate.public_bytes(serialization.Encoding.DER)
        )
        chain = [
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
            for c in self.token.ca_chain
        ]
        return _CountingSigner(
            self.session,
            key_label=self.token.key_label,
            signing_cert=cert,
            ca_chain=chain,
            prefer_pss=True,
            # SoftHSM2 and most cards only offer raw CKM_ECDSA: pyHanko hashes first
            use_raw_mechanism=isinstance(
                self.token.qes_certificate.public_key(), ec.EllipticCurvePublicKey
            ),
            session_state=self,
        )

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.session.close()

    def __enter__(self) -> Pkcs11QesSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Pkcs11Token:
    """QES key (and certificate) on a PKCS#11 token, found by token and key label."""

    lib_path: str
    token_label: str
    key_label: str = "QES"
    certificate: x509.Certificate | None = None  # read from the token (same label) if None
    ca_chain: list[x509.Certificate] = field(default_factory=list)
    batch_size: int = DEFAULT_BATCH_SIZE

    def _token(self) -> pkcs11.Token:
        try:
            return load_lib(self.lib_path).get_token(token_label=self.token_label)
        except (p11_exc.NoSuchToken, p11_exc.PKCS11Error) as exc:
            raise TokenError(f"Token „{self.token_label}“ nicht gefunden.") from exc

    @property
    def qes_certificate(self) -> x509.Certificate:
        if self.certificate is None:
            with self._token().open() as session:
                objs = list(
                    session.get_objects(
                        {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: self.key_label}
                    )
                )
                if not objs:
                    raise TokenError(f"Kein Zertifikat „{self.key_label}“ auf dem Token.")
                self.certificate = x509.load_der_x509_certificate(objs[0][Attribute.VALUE])
        return self.certificate

    def open_qes_session(self, pin: str, **_ignored: Any) -> Pkcs11QesSession:
        token = self._token()
        try:
            session = token.open(user_pin=pin)
        except p11_exc.PinIncorrect as exc:
            raise Pkcs11WrongPin(_remaining_tries(token)) from exc
        except (p11_exc.PinLocked, p11_exc.PinExpired) as exc:
            raise PinBlocked(PinType.QES) from exc
        except p11_exc.PKCS11Error as exc:
            raise TokenError(f"Anmeldung am Token fehlgeschlagen: {type(exc).__name__}") from exc
        _ = self.qes_certificate
        return Pkcs11QesSession(self, session, self.batch_size)


def provision_token(
    lib_path: str,
    *,
    token_label: str,
    pin: str,
    pki: TestPKI,
    given_name: str,
    surname: str,
    telematik_id: str,
    profession: Profession | str,
    card_serial: str,
    key_label: str = "QES",
) -> x509.Certificate:
    """Generate a brainpoolP256r1 key pair on an initialised token, certify it as C.HP.QES
    by the test PKI and store the certificate next to it (same label/ID)."""
    token = load_lib(lib_path).get_token(token_label=token_label)
    with token.open(user_pin=pin, rw=True) as session:
        params = session.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: asn1.ObjectIdentifier(BRAINPOOL_P256R1_OID).dump()},
            local=True,
        )
        key_id = card_serial.encode()[-8:]
        pub, _priv = params.generate_keypair(
            store=True, label=key_label, id=key_id, private_template={Attribute.SENSITIVE: True}
        )
        public_key = serialization.load_der_public_key(encode_ec_public_key(pub))
        if not isinstance(public_key, ec.EllipticCurvePublicKey):  # asked for brainpoolP256r1
            raise TokenError("Das Token hat keinen EC-Schlüssel erzeugt.")
        cert = pki.issue_qes_certificate(
            public_key,
            given_name=given_name,
            surname=surname,
            telematik_id=telematik_id,
            profession=profession,
            card_serial=card_serial,
        )
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.LABEL: key_label,
                Attribute.ID: key_id,
                Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
                Attribute.SUBJECT: cert.subject.public_bytes(),
            }
        )
    return cert

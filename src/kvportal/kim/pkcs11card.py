"""The practice card through PKCS#11 for the client module (no Django).

# Security rule (gemSpec_Krypt, gemSMIME_KOMLE): the ENC and OSIG private keys never leave the
# token. Decryption is raw RSA on the token with RSAES-OAEP SHA-256/MGF1-SHA-256 decoding here
# (SoftHSM2 2.6 only offers OAEP with SHA-1); the OAEP check does not reveal which step failed.

`Pkcs11Card.open(lib, token_label=…, pin=…)` gives a `Card` for `clientmodule` whose keys have
the two methods komle needs: `.decrypt(ciphertext, padding)` and `.sign(data, padding, hash)`.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from typing import Any

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding as apadding
from cryptography.hazmat.primitives.asymmetric import rsa
from pkcs11 import MGF, Attribute, Mechanism, ObjectClass

_HASHES = {"sha256": (hashlib.sha256, Mechanism.SHA256, MGF.SHA256)}


class CardKeyError(ValueError):
    """Decryption on the card failed (message German, no detail about the failing step)."""


def _mgf1(seed: bytes, length: int, digest=hashlib.sha256) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += digest(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


def oaep_decode(em: bytes, k: int, *, label: bytes = b"", digest=hashlib.sha256) -> bytes:
    """RFC 8017 7.1.2 step 3: EME-OAEP decoding of the k-byte block `em` (raw RSA output)."""
    h_len = digest().digest_size
    em = em.rjust(k, b"\x00")  # tokens may strip leading zero bytes
    if len(em) != k or k < 2 * h_len + 2:
        raise CardKeyError("Entschlüsselung fehlgeschlagen (OAEP).")
    y, masked_seed, masked_db = em[0], em[1 : 1 + h_len], em[1 + h_len :]
    seed = bytes(a ^ b for a, b in zip(masked_seed, _mgf1(masked_db, h_len, digest), strict=True))
    db = bytes(a ^ b for a, b in zip(masked_db, _mgf1(seed, k - h_len - 1, digest), strict=True))
    l_hash_ok = hmac.compare_digest(db[:h_len], digest(label).digest())
    rest = db[h_len:]
    # find the 0x01 separator without branching on secret data position
    index, found, bad_padding = 0, 0, 0
    for i, byte in enumerate(rest):
        is_one = int(byte == 1)
        is_zero = int(byte == 0)
        take = is_one & (1 - found)
        index = index + (i - index) * take
        bad_padding |= (1 - found) & (1 - is_one) & (1 - is_zero)
        found |= is_one
    if y != 0 or not l_hash_ok or not found or bad_padding:
        raise CardKeyError("Entschlüsselung fehlgeschlagen (OAEP).")
    return rest[index + 1 :]


def _hash_name(algorithm) -> str:
    return getattr(algorithm, "name", "").lower()


class Pkcs11RsaKey:
    """A private RSA key object on the token; thread-safe through one lock per session."""

    def __init__(self, key, *, size_bits: int, lock: threading.Lock):
        self._key = key
        self._k = (size_bits + 7) // 8
        self._lock = lock
        self.key_size = size_bits

    def decrypt(self, ciphertext: bytes, padding) -> bytes:
        if not isinstance(padding, apadding.OAEP):
            raise CardKeyError("Nur RSAES-OAEP wird unterstützt.")
        name = _hash_name(padding._algorithm)
        if name not in _HASHES or _hash_name(padding._mgf._algorithm) != name:
            raise CardKeyError(f"OAEP mit {name} wird nicht unterstützt.")
        if len(ciphertext) != self._k:
            raise CardKeyError("Entschlüsselung fehlgeschlagen (Länge).")
        try:
            with self._lock:
                em = self._key.decrypt(ciphertext, mechanism=Mechanism.RSA_X_509)
        except pkcs11.PKCS11Error as exc:
            raise CardKeyError("Die Karte hat die Entschlüsselung abgelehnt.") from exc
        label = padding._label or b""
        return oaep_decode(bytes(em), self._k, label=label, digest=_HASHES[name][0])

    def sign(self, data: bytes, padding, algorithm) -> bytes:
        name = _hash_name(algorithm)
        if not isinstance(padding, apadding.PSS) or name not in _HASHES:
            raise CardKeyError("Die Karte signiert nur RSASSA-PSS mit SHA-256.")
        _digest, mech_hash, mgf = _HASHES[name]
        salt = padding._salt_length
        if not isinstance(salt, int):
            salt = hashes.SHA256.digest_size
        with self._lock:
            return bytes(
                self._key.sign(
                    data, mechanism=Mechanism.SHA256_RSA_PKCS_PSS,
                    mechanism_param=(mech_hash, mgf, salt),
                )
            )  # fmt: skip


@dataclass
class Pkcs11Card:
    """SMC-B on a PKCS#11 token: keys and certificates found by label (OSIG, ENC)."""

    osig_key: Pkcs11RsaKey
    osig_cert: x509.Certificate
    enc: list[tuple[x509.Certificate, Pkcs11RsaKey]]
    chain: list[x509.Certificate] = field(default_factory=list)
    session: Any = None

    @classmethod
    def open(cls, lib_path: str, *, token_label: str, pin: str, osig_label: str = "OSIG",
             enc_label: str = "ENC", chain=()) -> Pkcs11Card:  # fmt: skip
        try:
            token = pkcs11.lib(lib_path).get_token(token_label=token_label)
            session = token.open(user_pin=pin)
        except pkcs11.PKCS11Error as exc:
            raise CardKeyError(
                f"Karte „{token_label}“ nicht verfügbar oder PIN falsch ({type(exc).__name__})."
            ) from exc
        lock = threading.Lock()

        def pair(label: str):
            try:
                key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
                cert_obj = next(
                    session.get_objects(
                        {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: label}
                    )
                )
            except (pkcs11.PKCS11Error, StopIteration) as exc:
                raise CardKeyError(f"Auf der Karte fehlt Schlüssel/Zertifikat „{label}“.") from exc
            cert = x509.load_der_x509_certificate(bytes(cert_obj[Attribute.VALUE]))
            public = cert.public_key()
            if not isinstance(public, rsa.RSAPublicKey):
                raise CardKeyError(f"„{label}“ auf der Karte ist kein RSA-Schlüssel (KIM).")
            return cert, Pkcs11RsaKey(key, size_bits=public.key_size, lock=lock)

        osig_cert, osig_key = pair(osig_label)
        enc_cert, enc_key = pair(enc_label)
        return cls(osig_key=osig_key, osig_cert=osig_cert, enc=[(enc_cert, enc_key)],
                   chain=list(chain), session=session)  # fmt: skip

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

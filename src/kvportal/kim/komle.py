"""gemSMIME_KOMLE: KOM-LE/KIM message format, encrypt+sign and decrypt+verify (no Django).

# Security rule (gemSMIME_KOMLE): outer AuthEnvelopedData AES-256-GCM, recipients
# RSAES-OAEP SHA-256/MGF1-SHA-256, recipient-emails attribute; inner SignedData RSASSA-PSS.

Built on asn1crypto for the ASN.1 and `cryptography` primitives for the maths.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from asn1crypto import algos, cms, core, x509
from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kvportal.cardlib.certs import PSS_SALT_LENGTH, pss_mechanism, sha256_mgf1_params

from .asn1 import AES256_GCM_OID, RECIPIENT_EMAILS_OID, GCMParameters, RecipientEmail

KOMLE_VERSION = "1.0"
DEFAULT_DIENSTKENNUNG = "KIM-Mail;Default;V1.0"


class KomleError(Exception):
    """Any refusal; the message is German and safe to show."""


class NotARecipientError(KomleError):
    pass


class TamperedError(KomleError):
    pass


class FormatError(KomleError):
    pass


def _oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def _oaep_algorithm() -> cms.KeyEncryptionAlgorithm:
    return cms.KeyEncryptionAlgorithm(
        {
            "algorithm": "rsaes_oaep",
            "parameters": algos.RSAESOAEPParams(sha256_mgf1_params()),
        }
    )


def _asn1_cert(cert: cx509.Certificate | x509.Certificate) -> x509.Certificate:
    if isinstance(cert, x509.Certificate):
        return cert
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.Certificate.load(cert.public_bytes(Encoding.DER))


def _crypto_cert(cert: x509.Certificate) -> cx509.Certificate:
    return cx509.load_der_x509_certificate(cert.dump())


def _issuer_serial(cert: x509.Certificate) -> cms.IssuerAndSerialNumber:
    return cms.IssuerAndSerialNumber({"issuer": cert.issuer, "serial_number": cert.serial_number})


def _recipient_emails_attr(recipients: Sequence[tuple[str, x509.Certificate]]) -> cms.CMSAttribute:
    values = [
        RecipientEmail({"email": email, "issuer_and_serial": _issuer_serial(cert)})
        for email, cert in recipients
    ]
    return cms.CMSAttribute({"type": RECIPIENT_EMAILS_OID, "values": values})


# --- outer layer: AuthEnvelopedData -------------------------------------------------------


def encrypt(content: bytes, recipients: Sequence[tuple[str, object]]) -> bytes:
    """AuthEnvelopedData (ContentInfo, DER) of `content` for each (email, ENC certificate)."""
    if not recipients:
        raise KomleError("Keine Empfänger angegeben.")
    certs = [(email, _asn1_cert(cert)) for email, cert in recipients]
    cek = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    sealed = AESGCM(cek).encrypt(nonce, content, b"")  # no authAttrs → empty AAD
    ciphertext, tag = sealed[:-16], sealed[-16:]
    infos = []
    for _email, cert in certs:
        public_key = _crypto_cert(cert).public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise KomleError(
                "Das Verschlüsselungszertifikat eines Empfängers ist kein RSA-Zertifikat."
            )
        infos.append(
            cms.RecipientInfo(
                name="ktri",
                value=cms.KeyTransRecipientInfo(
                    {
                        "version": "v0",
                        "rid": cms.RecipientIdentifier(
                            name="issuer_and_serial_number", value=_issuer_serial(cert)
                        ),
                        "key_encryption_algorithm": _oaep_algorithm(),
                        "encrypted_key": public_key.encrypt(cek, _oaep()),
                    }
                ),
            )
        )
    params = GCMParameters({"aes_nonce": nonce, "aes_icvlen": 16})
    eci = cms.EncryptedContentInfo(
        {
            "content_type": "data",
            "content_encryption_algorithm": {
                "algorithm": AES256_GCM_OID,
                "parameters": core.Any.load(params.dump()),
            },
            "encrypted_content": ciphertext,
        }
    )
    aed = cms.AuthEnvelopedData(
        {
            "version": "v0",
            "recipient_infos": infos,
            "auth_encrypted_content_info": eci,
            "mac": tag,
            "unauth_attrs": [_recipient_emails_attr(certs)],
        }
    )
    return cms.ContentInfo({"content_type": "authenticated_enveloped_data", "content": aed}).dump()


@dataclass
class Decrypted:
    content: bytes
    recipient_emails: list[str]
    recipient_index: int


def _load_content_info(der: bytes, expected: str) -> cms.ContentInfo:
    try:
        info = cms.ContentInfo.load(der, strict=False)
        ctype = info["content_type"].native
        info["content"].native  # noqa: B018 (force a full parse)
    except Exception as exc:  # asn1crypto raises ValueError/TypeError on bad DER
        raise FormatError(
            "Die Daten sind keine lesbare CMS-Struktur (ASN.1/DER fehlerhaft)."
        ) from exc
    if ctype != expected:
        raise FormatError(f"Erwartet wurde „{expected}“, gefunden „{ctype}“.")
    return info


def content_type(der: bytes) -> str | None:
    """The CMS content type of `der` (e.g. 'signed_data'), or None if it is no ContentInfo."""
    try:
        return cms.ContentInfo.load(der, strict=False)["content_type"].native
    except Exception:
        return None


def _recipient_emails(attrs) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    if not attrs:
        return out
    for attr in attrs:
        if attr["type"].dotted == RECIPIENT_EMAILS_OID:
            for value in attr["values"]:
                out.append(
                    (value["email"].native, value["issuer_and_serial"]["serial_number"].native)
                )
    return out


def decrypt(der: bytes, private_key: rsa.RSAPrivateKey, certificate=None) -> Decrypted:
    """Open an AuthEnvelopedData with the recipient's ENC key (cert optional, to pick the RI)."""
    info = _load_content_info(der, "authenticated_enveloped_data")
    aed = info["content"]
    eci = aed["auth_encrypted_content_info"]
    alg = eci["content_encryption_algorithm"]
    if alg["algorithm"].dotted != AES256_GCM_OID:
        raise FormatError(
            f"Inhaltsverschlüsselung „{alg['algorithm'].native}“ ist nicht AES-256-GCM "
            "(gemSMIME_KOMLE)."
        )
    params = GCMParameters.load(alg["parameters"].dump())
    nonce = params["aes_nonce"].native
    tag = aed["mac"].native
    if params["aes_icvlen"].native != 16 or len(tag) != 16 or len(nonce) != 12:
        raise FormatError("GCM-Parameter ungültig (erwartet: 12 Byte Nonce, 16 Byte Tag).")
    ciphertext = eci["encrypted_content"].native or b""
    # RFC 5083: authAttrs, if present, are the AAD with their SET OF tag; else the AAD is empty
    aad = b"\x31" + aed["auth_attrs"].dump()[1:] if aed["auth_attrs"] else b""
    wanted = _asn1_cert(certificate) if certificate is not None else None
    cek = None
    index = -1
    for i, ri in enumerate(aed["recipient_infos"]):
        if ri.name != "ktri":
            continue
        ktri = ri.chosen
        rid = ktri["rid"].chosen
        if wanted is not None and (
            rid.native.get("serial_number") != wanted.serial_number
            or rid["issuer"] != wanted.issuer
        ):
            continue
        if ktri["key_encryption_algorithm"]["algorithm"].native != "rsaes_oaep":
            continue
        try:
            candidate = private_key.decrypt(ktri["encrypted_key"].native, _oaep())
        except ValueError:
            continue
        if len(candidate) == 32:
            cek, index = candidate, i
            break
    if cek is None:
        raise NotARecipientError(
            "Der angegebene Schlüssel gehört zu keinem Empfänger dieser Nachricht."
        )
    try:
        content = AESGCM(cek).decrypt(nonce, ciphertext + tag, aad)
    except InvalidTag as exc:
        raise TamperedError(
            "Die Nachricht wurde verändert: die Prüfsumme (GCM-Tag) stimmt nicht."
        ) from exc
    emails = [email for email, _serial in _recipient_emails(aed["unauth_attrs"])]
    return Decrypted(content=content, recipient_emails=emails, recipient_index=index)


# --- inner layer: SignedData with RSASSA-PSS ----------------------------------------------


def sign(
    content: bytes,
    private_key: rsa.RSAPrivateKey,
    certificate,
    *,
    chain: Sequence[object] = (),
    recipients: Sequence[tuple[str, object]] = (),
    signing_time: dt.datetime | None = None,
) -> bytes:
    """SignedData (ContentInfo, DER) with the content embedded, RSASSA-PSS SHA-256."""
    cert = _asn1_cert(certificate)
    when = signing_time or dt.datetime.now(dt.UTC)
    digest_alg = cms.DigestAlgorithm({"algorithm": "sha256"})
    sig_alg = pss_mechanism()
    attrs = [
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute(
            {"type": "signing_time", "values": [cms.Time(name="utc_time", value=when)]}
        ),
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]}),
        cms.CMSAttribute(
            {
                "type": "cms_algorithm_protection",
                "values": [
                    cms.CMSAlgorithmProtection(
                        {"digest_algorithm": digest_alg, "signature_algorithm": sig_alg}
                    )
                ],
            }
        ),
        cms.CMSAttribute(
            {
                "type": "signing_certificate_v2",
                "values": [
                    {
                        "certs": [
                            {
                                "cert_hash": hashlib.sha256(cert.dump()).digest(),
                                "issuer_serial": {
                                    "issuer": [
                                        x509.GeneralName(name="directory_name", value=cert.issuer)
                                    ],
                                    "serial_number": cert.serial_number,
                                },
                            }
                        ]
                    }
                ],
            }
        ),
    ]
    if recipients:
        attrs.append(_recipient_emails_attr([(e, _asn1_cert(c)) for e, c in recipients]))
    signed_attrs = cms.CMSAttributes(attrs)
    signature = private_key.sign(
        signed_attrs.dump(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH),
        hashes.SHA256(),
    )
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number", value=_issuer_serial(cert)
            ),
            "digest_algorithm": digest_alg,
            "signed_attrs": signed_attrs,
            "signature_algorithm": sig_alg,
            "signature": signature,
        }
    )
    sd = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [digest_alg],
            "encap_content_info": {"content_type": "data", "content": content},
            "certificates": [cert] + [_asn1_cert(c) for c in chain],
            "signer_infos": [signer],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump()


@dataclass
class Verified:
    content: bytes
    signature_valid: bool
    signer_subject: str
    signing_time: dt.datetime | None
    chain_valid: bool
    chain_messages: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _signer_padding(sig_alg) -> tuple[padding.AsymmetricPadding, hashes.HashAlgorithm]:
    name = sig_alg["algorithm"].native
    if name == "rsassa_pss":
        params = sig_alg["parameters"]
        hash_name = params["hash_algorithm"]["algorithm"].native
        hash_alg = {
            "sha256": hashes.SHA256(),
            "sha384": hashes.SHA384(),
            "sha512": hashes.SHA512(),
        }.get(hash_name)
        if hash_alg is None:
            raise FormatError(f"Hashverfahren „{hash_name}“ wird nicht unterstützt.")
        return (
            padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=params["salt_length"].native),
            hash_alg,
        )
    if name in ("sha256_rsa", "rsassa_pkcs1v15"):
        return padding.PKCS1v15(), hashes.SHA256()
    raise FormatError(f"Signaturverfahren „{name}“ wird nicht unterstützt.")


def _signed_attrs_der(attrs) -> bytes:
    """The DER the signature covers: the signed attributes with their SET OF tag (RFC 5652 5.4)."""
    raw = attrs.dump()
    return b"\x31" + raw[1:]


def verify(
    der: bytes,
    *,
    trust: Sequence[cx509.Certificate] = (),
    at: dt.datetime | None = None,
) -> Verified:
    """Check the signature of a SignedData and the signer's certificate against `trust`."""
    info = _load_content_info(der, "signed_data")
    sd = info["content"]
    content = sd["encap_content_info"]["content"].native
    if content is None:
        raise FormatError("Die Signatur enthält keinen Inhalt (abgesetzte Signatur).")
    if len(sd["signer_infos"]) != 1:
        raise FormatError("Erwartet wird genau eine Signatur (SignerInfo).")
    si = sd["signer_infos"][0]
    certs = [c.chosen for c in sd["certificates"] or [] if c.name == "certificate"]
    sid = si["sid"].chosen
    signer = None
    for cert in certs:
        if si["sid"].name == "issuer_and_serial_number":
            if cert.serial_number == sid["serial_number"].native and cert.issuer == sid["issuer"]:
                signer = cert
        elif cert.key_identifier == sid.native:
            signer = cert
    if signer is None:
        raise FormatError("Das Zertifikat des Unterzeichners fehlt in der Signatur.")
    problems: list[str] = []
    valid = False
    signing_time = None
    attrs = si["signed_attrs"]
    if not attrs:
        raise FormatError(
            "Die Signatur hat keine signierten Attribute (gemSMIME_KOMLE verlangt sie)."
        )
    digests = {a["type"].native: a["values"][0].native for a in attrs if len(a["values"])}
    digest_name = si["digest_algorithm"]["algorithm"].native
    if digest_name != "sha256":
        problems.append(f"Hashverfahren „{digest_name}“ statt SHA-256.")
    elif digests.get("message_digest") != hashlib.sha256(content).digest():
        problems.append("Der Hashwert des Inhalts stimmt nicht (Inhalt verändert).")
    signing_time = digests.get("signing_time")
    pad, hash_alg = _signer_padding(si["signature_algorithm"])
    if si["signature_algorithm"]["algorithm"].native != "rsassa_pss":
        problems.append("Signaturverfahren ist nicht RSASSA-PSS (gemSMIME_KOMLE).")
    try:
        public_key = _crypto_cert(signer).public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            problems.append("Der Schlüssel des Signierers ist kein RSA-Schlüssel (gemSMIME_KOMLE).")
            raise InvalidSignature
        public_key.verify(si["signature"].native, _signed_attrs_der(attrs), pad, hash_alg)
        sig_ok = True
    except InvalidSignature:
        sig_ok = False
        problems.append("Die Signatur ist mathematisch ungültig.")
    valid = sig_ok and not problems
    chain_valid, chain_messages = _check_chain(signer, certs, trust, at or dt.datetime.now(dt.UTC))
    return Verified(
        content=content,
        signature_valid=valid,
        signer_subject=signer.subject.human_friendly,
        signing_time=signing_time,
        chain_valid=chain_valid,
        chain_messages=chain_messages,
        problems=problems,
    )


def _check_chain(signer, certs, trust, at) -> tuple[bool, list[str]]:
    """Walk issuer links from the signer to a trust anchor; each link signed and valid at `at`."""
    messages: list[str] = []
    pool = [_crypto_cert(c) for c in certs] + list(trust)
    anchors = {t.fingerprint(hashes.SHA256()) for t in trust}
    current = _crypto_cert(signer)
    for _depth in range(8):
        if not (current.not_valid_before_utc <= at <= current.not_valid_after_utc):
            messages.append(
                f"Zertifikat „{current.subject.rfc4514_string()}“ ist zum Prüfzeitpunkt "
                "nicht gültig "
                f"(gültig {current.not_valid_before_utc:%d.%m.%Y} bis "
                f"{current.not_valid_after_utc:%d.%m.%Y})."
            )
        if current.fingerprint(hashes.SHA256()) in anchors:
            return not messages, messages
        issuer = None
        for candidate in pool:
            if candidate.subject == current.issuer and candidate != current:
                try:
                    current.verify_directly_issued_by(candidate)
                except (ValueError, TypeError, InvalidSignature):
                    continue
                issuer = candidate
                break
        if issuer is None:
            messages.append(
                "Kette nicht prüfbar: Aussteller „"
                f"{current.issuer.rfc4514_string()}“ ist kein angegebener Vertrauensanker "
                "(--trust)."
            )
            return False, messages
        current = issuer
    messages.append("Kette nicht prüfbar: zu lang.")
    return False, messages

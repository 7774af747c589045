# Security (gematik IDP, gemSpec_PKI GS-A_4958; § 36a SGB I): challenges are single-use,
# short-lived and bound to the browser session; the card maps to the person via its
# Telematik-ID, never its serial; every refusal is written to the access log; QES uploads are
# accepted only when every signature verifies against the trusted qualified CA.
"""eHBA services: login challenges, card registration, card login, QES verification."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from kvportal import audit
from kvportal.accounts.constants import AccountKind
from kvportal.accounts.models import User
from kvportal.audit.models import Activity
from kvportal.cardlib.origins import normalise_origin
from kvportal.core.storage import private_storage
from kvportal.ehba.models import (
    CardRegistration,
    ChallengePurpose,
    LoginChallenge,
    RegistrationEnd,
    SignatureCheck,
    SignatureDocument,
    Verdict,
    VerificationReport,
)

CHALLENGE_AUDIENCE = "kvportal-ehba"
_HMAC_SALT = "kvportal.ehba.challenge"


def challenge_seconds() -> int:
    return int(getattr(settings, "EHBA_CHALLENGE_SECONDS", 120))


# --- refusal reasons ------------------------------------------------------------------------

#: Every reason a card login/registration is refused, with the German message the user sees.
REFUSALS: dict[str, str] = {
    "unknown_card": (
        "Diese Karte ist im Portal nicht registriert. Bitte melden Sie sich einmal mit "
        "Benutzername und Passwort an und registrieren Sie Ihren eHBA unter „eHBA registrieren“ "
        "(nach einem Kartenwechsel ist die Folgekarte erneut zu registrieren)."
    ),
    "wrong_ca": (
        "Das Kartenzertifikat stammt nicht von einer vom Portal anerkannten "
        "Heilberufsausweis-CA. Bitte verwenden Sie Ihren elektronischen Heilberufsausweis."
    ),
    "expired": (
        "Das Zertifikat Ihres eHBA ist abgelaufen. Bitte verwenden Sie Ihre Folgekarte und "
        "registrieren Sie sie nach der Anmeldung mit Passwort erneut."
    ),
    "not_yet_valid": "Das Zertifikat Ihres eHBA ist noch nicht gültig.",
    "revoked": (
        "Ihr eHBA ist gesperrt (Zertifikat widerrufen). Eine gesperrte Karte kann nicht mehr "
        "verwendet werden; bitte nutzen Sie Ihre Ersatz- oder Folgekarte."
    ),
    "revocation_unknown": (
        "Der Sperrstatus Ihres eHBA konnte nicht geprüft werden. Bitte versuchen Sie es später "
        "erneut."
    ),
    "wrong_key_usage": (
        "Die Karte hat nicht mit ihrem Authentisierungsschlüssel (C.HP.AUT) signiert. Bitte "
        "verwenden Sie die Anmeldefunktion des Signatur-Agenten."
    ),
    "wrong_policy": (
        "Das Kartenzertifikat ist kein Authentisierungszertifikat eines Heilberufsausweises "
        "(C.HP.AUT)."
    ),
    "wrong_profession": (
        "Die Berufsgruppe auf der Karte ist für das Mitgliederportal nicht zugelassen (nur "
        "Ärztinnen/Ärzte und Psychotherapeutinnen/Psychotherapeuten)."
    ),
    "bad_signature": "Die Kartensignatur ist ungültig.",
    "malformed": "Die Antwort der Karte ist unvollständig oder beschädigt.",
    "wrong_challenge": (
        "Die Karte hat nicht die Anmeldeanfrage dieser Sitzung signiert (Signatur über "
        "etwas anderes). Bitte starten Sie die Anmeldung erneut."
    ),
    "replayed_challenge": (
        "Diese Anmeldeanfrage wurde bereits verwendet. Jede Anfrage gilt nur einmal – bitte "
        "starten Sie die Anmeldung erneut."
    ),
    "expired_challenge": (
        "Die Anmeldeanfrage ist abgelaufen (gültig {seconds} Sekunden). Bitte starten Sie die "
        "Anmeldung erneut."
    ),
    "no_challenge": (
        "Es liegt keine Anmeldeanfrage für diese Sitzung vor. Bitte starten Sie die Anmeldung "
        "erneut."
    ),
    "pin_blocked": (
        "Die PIN Ihres eHBA ist nach drei Fehleingaben gesperrt. Entsperren Sie sie mit der "
        "PUK (Signatur-Agent bzw. Kartensoftware); erst danach ist eine Anmeldung möglich."
    ),
    "pin_wrong": "Die PIN war falsch. Bitte versuchen Sie es erneut.",
    "transport_pin": (
        "Ihr eHBA ist noch mit der Transport-PIN geschützt. Bitte ändern Sie zuerst die "
        "Transport-PIN in eine persönliche PIN."
    ),
    "card_unusable": "Ihr eHBA ist dauerhaft unbrauchbar. Bitte beantragen Sie eine Ersatzkarte.",
    "no_card": "Der Signatur-Agent hat keinen eHBA gefunden. Bitte stecken Sie die Karte.",
    "cancelled": "Die Anmeldung wurde am Signatur-Agenten abgebrochen.",
    "agent_unreachable": (
        "Der Signatur-Agent ist nicht erreichbar. Bitte starten Sie „kvportal card agent“ "
        "auf diesem Rechner."
    ),
    "agent_error": "Der Signatur-Agent hat einen Fehler gemeldet.",
    "account_disabled": "Das Nutzerkonto zu dieser Karte ist deaktiviert.",
    "not_configured": (
        "Die Anmeldung mit eHBA ist in diesem Portal derzeit nicht eingerichtet (keine "
        "Vertrauensanker). Bitte melden Sie sich mit Benutzername und Passwort an."
    ),
    "other_account": "Diese Karte gehört nicht zu dem angemeldeten Nutzerkonto.",
    "not_member": (
        "Nur Ärztinnen/Ärzte und Psychotherapeutinnen/Psychotherapeuten mit eigenem "
        "Mitgliedskonto können einen eHBA registrieren."
    ),
    "other_person": (
        "Der Name auf der Karte ({card}) passt nicht zu Ihrem Eintrag im Arztregister "
        "({person}). Bitte registrieren Sie Ihren eigenen eHBA."
    ),
    "profession_mismatch": (
        "Die Berufsgruppe auf der Karte passt nicht zu Ihrem Eintrag im Arztregister."
    ),
    "taken": (
        "Diese Karte (Telematik-ID) ist bereits für eine andere Person registriert. Bitte "
        "wenden Sie sich an das Arztregister der KV."
    ),
}

#: Codes the agent may report (agent.AgentError.CODES) → refusal code.
AGENT_ERRORS = {
    "pin_blocked": "pin_blocked",
    "pin_wrong": "pin_wrong",
    "transport_pin": "transport_pin",
    "card_unusable": "card_unusable",
    "no_card": "no_card",
    "cancelled": "cancelled",
    "agent_unreachable": "agent_unreachable",
}


def refusal_message(code: str, **kwargs: Any) -> str:
    text = REFUSALS.get(code, REFUSALS["agent_error"])
    if code == "expired_challenge":
        kwargs.setdefault("seconds", challenge_seconds())
    return _(text).format(**kwargs) if kwargs else _(text)


class CardRefused(Exception):
    def __init__(self, code: str, message: str | None = None, **detail: Any):
        self.code = code
        self.message = message or refusal_message(code)
        self.detail = detail
        super().__init__(self.message)


# --- trust configuration --------------------------------------------------------------------


@dataclass
class Trust:
    """What the portal trusts: login CA(s), QES roots, and how revocation is checked."""

    login_anchors: list
    qes_roots: list
    revocation_check: Callable[..., Any]
    source: str


def testpki_dir() -> Path:
    """Directory of the test PKI the demo/test switch ``EHBA_TEST_PKI`` trusts."""
    configured = getattr(settings, "EHBA_TEST_PKI_DIR", None)
    return Path(configured) if configured else Path(settings.EHBA_DIR) / "pki"


@lru_cache(maxsize=8)
def _test_pki(directory: str, mtime: float):
    from kvportal.cardlib import testpki

    return testpki.TestPKI.load(directory)


@lru_cache(maxsize=8)
def _pem_anchors(paths: tuple[str, ...], mtimes: tuple[float, ...]) -> list:
    from kvportal.cardlib import certs

    return certs.load_pem_certificates(paths)


def _configured_anchors(setting: str) -> list:
    """The certificates of the PEM files named in ``setting`` (production trust anchors)."""
    paths = tuple(str(p) for p in getattr(settings, setting, None) or ())
    try:
        mtimes = tuple(Path(p).stat().st_mtime for p in paths)
        return _pem_anchors(paths, mtimes)
    except FileNotFoundError as exc:
        raise ImproperlyConfiguredTrust(f"{setting}: Datei {exc.filename} nicht gefunden.") from exc
    except (OSError, ValueError) as exc:
        raise ImproperlyConfiguredTrust(f"{setting}: {exc}") from exc


def _ocsp_check(cert, issuer=None, **kwargs):
    """Real OCSP round trip; EHBA_OCSP_URL overrides the AIA address (like the TSL's mapping
    of public OCSP addresses to TI addresses)."""
    from kvportal.cardlib import ocsp

    url = getattr(settings, "EHBA_OCSP_URL", "") or None
    return ocsp.ocsp_revocation_check(cert, issuer, url=url, **kwargs)


def _combined_check(test_pki) -> Callable[..., Any]:
    """Revocation from the test PKI's own state for its certificates, OCSP for all others."""

    def check(cert, issuer=None, **kwargs):
        if test_pki.issuer_of(cert) is not None:
            return test_pki.revocation_check(cert, issuer, **kwargs)
        return _ocsp_check(cert, issuer, **kwargs)

    return check


def get_trust() -> Trust:
    """Production trust anchors from ``EHBA_LOGIN_TRUST_ANCHORS`` / ``EHBA_QES_TRUST_ANCHORS``
    (PEM files, revocation by OCSP); with the demo/test switch ``EHBA_TEST_PKI`` also the test
    PKI in ``EHBA_TEST_PKI_DIR`` (its revocation state, or OCSP with ``EHBA_REVOCATION=ocsp``)."""
    login = _configured_anchors("EHBA_LOGIN_TRUST_ANCHORS")
    qes = _configured_anchors("EHBA_QES_TRUST_ANCHORS")
    sources = ["PEM-Dateien"] if login or qes else []
    check: Callable[..., Any] = _ocsp_check
    if getattr(settings, "EHBA_TEST_PKI", False):
        directory = testpki_dir()
        marker = directory / "root.cert.pem"
        if not (directory / "state.json").exists() or not marker.exists():
            raise ImproperlyConfiguredTrust(
                f"EHBA_TEST_PKI ist eingeschaltet, aber in {directory} liegt keine Test-PKI "
                "(kvportal card pki init)."
            )
        test_pki = _test_pki(str(directory), marker.stat().st_mtime)
        login = [*test_pki.trust_anchors_login, *login]
        qes = [*test_pki.trust_roots, *qes]
        sources.insert(0, f"Test-PKI {directory}")
        if getattr(settings, "EHBA_REVOCATION", "local") != "ocsp":
            check = _combined_check(test_pki)
    if not login and not qes:
        raise ImproperlyConfiguredTrust(
            "Kein Vertrauensanker für eHBA konfiguriert (EHBA_LOGIN_TRUST_ANCHORS, "
            "EHBA_QES_TRUST_ANCHORS leer, EHBA_TEST_PKI aus)."
        )
    return Trust(login, qes, check, ", ".join(sources))


class ImproperlyConfiguredTrust(Exception):
    """The trust configuration is missing or unreadable; the text names the setting."""


# --- challenges -----------------------------------------------------------------------------


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
    row._challenge = challenge  # type: ignore[attr-defined]
    return row


# --- the card check ---------------------------------------------------------------------------


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
    """Surname equal and the card's first given name among the registry's given names."""
    if _normalise_name(card_surname) != _normalise_name(surname):
        return False
    card_first = _normalise_name(card_given).split(" ")[:1]
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


# --- registration -----------------------------------------------------------------------------


def can_register(user: User) -> bool:
    return bool(
        getattr(user, "pk", None)
        and user.kind == AccountKind.MEMBER
        and user.person_id
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
                actor.person.telematik_id and actor.person.telematik_id != identity.telematik_id
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


# --- QES verification -------------------------------------------------------------------------


def required_signer(
    *,
    given_name: str = "",
    surname: str = "",
    telematik_id: str = "",
    label: str = "",
    name: str = "",
    person: Any = None,
):
    """Build a validation.RequiredSigner from a registry Person, separate names or one name.

    A registry person's active eHBA registration supplies the Telematik-ID."""
    from kvportal.cardlib import validation

    if person is not None:
        given_name = given_name or person.first_name
        surname = surname or person.last_name
        if not telematik_id:
            reg = CardRegistration.objects.active().filter(person=person).first()
            telematik_id = reg.telematik_id if reg else ""
    elif name and not surname:
        given_name, surname = split_name(name)
    return validation.RequiredSigner(
        given_name=given_name, surname=surname, telematik_id=telematik_id, label=label
    )


_TITLES = {
    "dr.",
    "med.",
    "dr",
    "prof.",
    "prof",
    "dipl.-psych.",
    "dipl.",
    "psych.",
    "mult.",
    "rer.",
    "nat.",
    "phil.",
    "habil.",
    "dent.",
    "pd",
    "m.sc.",
    "b.sc.",
}


def split_name(name: str) -> tuple[str, str]:
    """ "Dr. med. Erika Muster" → ("Erika", "Muster"); "Muster, Erika" → ("Erika", "Muster")."""
    if "," in name:
        surname, given = (p.strip() for p in name.split(",", 1))
        return given, surname
    words = [w for w in name.split() if w.casefold() not in _TITLES]
    if not words:
        return "", ""
    if len(words) == 1:
        return "", words[0]
    return " ".join(words[:-1]), words[-1]


def _aware(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return value


def _problem_texts(problems: Sequence[Any]) -> list[dict[str, str]]:
    out = []
    for problem in problems:
        if isinstance(problem, dict):
            out.append(
                {"code": str(problem.get("code", "")), "message": str(problem.get("message", ""))}
            )
        else:
            code, message = problem
            out.append({"code": str(code), "message": str(message)})
    return out


@transaction.atomic
def validate_signed_application_pdf(
    *,
    actor: User | None,
    original_pdf: bytes,
    signed_pdf: bytes,
    required_signers: Sequence[Any],
    application: models.Model,
    document: SignatureDocument | None = None,
    document_title: str = "",
    accepted: bool = False,
    now: dt.datetime | None = None,
) -> VerificationReport:
    """Validate every signature of ``signed_pdf`` (pyHanko via ehba.validation) and store the
    Prüfprotokoll linked to ``application``.

    Checks: original bytes unchanged, each signature intact, signer certificate a QES
    certificate of the trusted qualified CA, not revoked at signing time, signer one of
    ``required_signers`` (validation.RequiredSigner, see :func:`required_signer`)."""
    from kvportal.cardlib import validation

    trust = get_trust()
    result = validation.validate_pdf_signatures(
        signed_pdf,
        original=original_pdf,
        trust_roots=trust.qes_roots,
        revocation_check=trust.revocation_check,
        now=now,
        required_signers=(
            required_signers if callable(required_signers) else list(required_signers)
        ),
    )
    verdict = result.verdict if result.verdict in Verdict.values else Verdict.INDETERMINATE
    raw = result.to_dict()
    missing = [
        getattr(s, "label", "")
        or f"{getattr(s, 'given_name', '')} {getattr(s, 'surname', '')}".strip()
        for s in result.missing_signers
    ]
    all_problems: list[dict[str, str]] = _problem_texts(result.problems)
    for sig in result.signatures:
        all_problems.extend(_problem_texts(sig.problems))
    report = VerificationReport.objects.create(
        content_type=ContentType.objects.get_for_model(application),
        object_id=str(application.pk),
        document=document,
        document_title=document_title or (document.title if document else ""),
        actor=actor if getattr(actor, "pk", None) else None,
        signed_sha256=hashlib.sha256(signed_pdf).hexdigest(),
        original_sha256=hashlib.sha256(original_pdf).hexdigest(),
        verdict=verdict,
        complete=bool(result.complete),
        accepted=accepted,
        missing_signers=missing,
        problems=all_problems,
        raw=raw,
    )
    for position, sig in enumerate(result.signatures):
        revocation = sig.revocation or {}
        matched = sig.matched_signer or {}
        SignatureCheck.objects.create(
            report=report,
            position=position,
            field_name=sig.field_name or "",
            signer_name=sig.signer_name or "",
            telematik_id=sig.telematik_id or "",
            signing_time=_aware(sig.signing_time),
            certificate_path=list(sig.certificate_path or []),
            certificate_fingerprint=sig.certificate_fingerprint or "",
            issuer=sig.issuer or "",
            revocation_status=revocation.get("status") or "",
            revoked_at=_aware(revocation.get("revoked_at")),
            revocation_source=revocation.get("source") or "",
            matched_signer=(
                matched.get("label")
                or f"{matched.get('given_name', '')} {matched.get('surname', '')}".strip()
            ),
            verdict=sig.verdict,
            problems=_problem_texts(sig.problems),
        )
    audit.record(
        actor=actor,
        activity=Activity.SIGN,
        obj=application,
        object_repr=f"{report.document_title or application}"[:300],
        detail={
            "ehba_report": report.pk,
            "verdict": verdict,
            "signatures": len(result.signatures),
            "missing": len(missing),
        },
    )
    return report


# --- signing applications ---------------------------------------------------------------------


class AnyOf(list):
    """Required signers where ONE valid signature of any of them suffices (e.g. the
    Erklärung zur Abrechnung); passed to the validator as a predicate."""

    def __call__(self, signature) -> bool:
        return any(signer.matches(signature) for signer in self)


@dataclass(frozen=True)
class SignableDocumentSpec:
    key: str
    title: str
    render: Callable[[], bytes]


@dataclass
class Signable:
    """How an app's application takes part in QES signing (registered in its ready())."""

    label: str
    #: the application's documents to sign
    documents: Callable[[Any], list[SignableDocumentSpec]]
    #: validation.RequiredSigner list for the application
    required_signers: Callable[[Any], list[Any]]
    #: applications the member may see (selector; scoped)
    queryset_for: Callable[[User], Any]
    #: applications staff may see (None: staff see none)
    staff_queryset_for: Callable[[User], Any] | None = None
    #: called after each accepted upload: on_accepted(actor=, application=, report=)
    on_accepted: Callable[..., None] | None = None
    #: called once when every document carries all required valid signatures
    on_complete: Callable[..., None] | None = None
    #: URL of the application's own page (link back)
    detail_url: Callable[[Any], str] | None = None
    #: may documents still be (re)signed? (e.g. False once the application is decided)
    is_open: Callable[[Any], bool] = lambda obj: True


_signables: dict[str, Signable] = {}


def register_signable(model_label: str, signable: Signable) -> None:
    """``model_label`` like "admission.application" (app_label.model_name, lower case)."""
    _signables[model_label.lower()] = signable


def signable_for(model_label: str) -> Signable | None:
    return _signables.get(model_label.lower())


def signables() -> dict[str, Signable]:
    return dict(_signables)


def label_of(obj: models.Model) -> str:
    return obj._meta.label_lower


def _store(path: str, content: bytes) -> str:
    return private_storage.save(path, ContentFile(content))


def read_document(document: SignatureDocument, *, original: bool = False) -> bytes:
    with private_storage.open(document.original_path if original else document.current_path) as fh:
        return fh.read()


def documents_of(application: models.Model):
    return SignatureDocument.objects.filter(
        content_type=ContentType.objects.get_for_model(application),
        object_id=str(application.pk),
    ).order_by("key")


def reports_of(application: models.Model):
    return VerificationReport.objects.filter(
        content_type=ContentType.objects.get_for_model(application),
        object_id=str(application.pk),
    ).prefetch_related("signatures")


@transaction.atomic
def prepare_documents(*, actor: User, application: models.Model) -> list[SignatureDocument]:
    """Freeze the portal PDFs of the application (first time only) as the originals to sign."""
    signable = signable_for(label_of(application))
    if signable is None:
        raise ValidationError(_("Für diesen Antrag ist keine Signatur vorgesehen."))
    ct = ContentType.objects.get_for_model(application)
    existing = {d.key: d for d in documents_of(application)}
    created = []
    for spec in signable.documents(application):
        if spec.key in existing:
            continue
        pdf = spec.render()
        digest = hashlib.sha256(pdf).hexdigest()
        path = _store(
            f"ehba/{ct.app_label}/{ct.model}/{application.pk}/{spec.key}-original.pdf", pdf
        )
        doc = SignatureDocument.objects.create(
            content_type=ct,
            object_id=str(application.pk),
            key=spec.key,
            title=spec.title,
            original_path=path,
            original_sha256=digest,
            current_path=path,
            current_sha256=digest,
        )
        created.append(doc)
    if created:
        audit.record(
            actor=actor,
            activity=Activity.CREATE,
            obj=application,
            detail={"ehba_documents": [d.key for d in created]},
        )
    return current_documents(application)


class UploadRejected(ValidationError):
    """The upload was checked but not taken over; ``report`` holds the Prüfprotokoll."""

    def __init__(self, message: str, report: VerificationReport | None = None):
        super().__init__(message)
        self.report = report


def submit_signed_document(
    *, actor: User, document: SignatureDocument, signed_pdf: bytes, now: dt.datetime | None = None
) -> VerificationReport:
    """Check an uploaded signed PDF; if every signature is valid it becomes the current version.

    Raises UploadRejected (with the stored report where one was made). The report is stored
    even when the upload is rejected (own transaction), so applicant and staff see why."""
    application = document.application
    signable = signable_for(label_of(application))
    if signable is None or not signable.is_open(application):
        raise UploadRejected(_("Dieser Antrag kann nicht mehr signiert werden."))
    if not signed_pdf.startswith(b"%PDF-"):
        raise UploadRejected(_("Die hochgeladene Datei ist keine PDF-Datei."))
    current = read_document(document)
    if signed_pdf == current:
        raise UploadRejected(
            _("Die hochgeladene Datei enthält keine neue Signatur (unveränderte Fassung).")
        )
    if not signed_pdf.startswith(current):
        raise UploadRejected(
            _(
                "Die Datei baut nicht auf der aktuellen Fassung von „%(title)s“ auf – "
                "vermutlich hat inzwischen jemand anderes signiert. Bitte laden Sie die "
                "aktuelle Fassung herunter und signieren Sie erneut."
            )
            % {"title": document.title}
        )
    original = read_document(document, original=True)
    required = signable.required_signers(application)
    try:
        get_trust()
    except ImproperlyConfiguredTrust as exc:
        raise UploadRejected(
            _(
                "Die Signaturprüfung ist in diesem Portal derzeit nicht eingerichtet (keine "
                "Vertrauensanker). Bitte wenden Sie sich an die KV."
            )
        ) from exc
    report = validate_signed_application_pdf(
        actor=actor,
        original_pdf=original,
        signed_pdf=signed_pdf,
        required_signers=required,
        application=application,
        document=document,
        now=now,
    )
    bad = [c for c in report.signatures.all() if c.verdict != "valid"]
    if report.verdict not in (Verdict.VALID, Verdict.INCOMPLETE) or bad:
        codes = {p.get("code") for p in report.problems}
        if "unsigned_revision" in codes:
            raise UploadRejected(
                _(
                    "„%(title)s“: Nach dem vom Portal erzeugten Dokument dürfen nur Signaturen "
                    "folgen. Die Datei enthält nach der letzten Signatur weitere, nicht signierte "
                    "Änderungen oder angehängte Daten und wurde nicht übernommen."
                )
                % {"title": document.title},
                report,
            )
        if "unreadable_signature" in codes:
            raise UploadRejected(
                _(
                    "„%(title)s“: Eine Signatur in der Datei ist beschädigt und kann nicht gelesen "
                    "werden; die Datei wurde nicht übernommen. Bitte signieren Sie die aktuelle "
                    "Fassung erneut."
                )
                % {"title": document.title},
                report,
            )
        if bad and any(p.get("code") == "wrong_signer" for c in bad for p in c.problems):
            raise UploadRejected(
                _(
                    "%(name)s gehört nicht zu den Unterzeichnenden dieses Antrags; die Datei "
                    "wurde nicht übernommen."
                )
                % {"name": bad[0].signer_name or _("Die signierende Person")},
                report,
            )
        raise UploadRejected(
            _("Die Signaturprüfung ist fehlgeschlagen; die Datei wurde nicht übernommen."), report
        )
    _accept(actor=actor, document=document, signed_pdf=signed_pdf, report=report, signable=signable)
    return report


@transaction.atomic
def _accept(*, actor, document, signed_pdf, report, signable) -> None:
    doc = SignatureDocument.objects.select_for_update().get(pk=document.pk)
    if doc.current_sha256 != document.current_sha256:
        raise UploadRejected(
            _("Das Dokument wurde gerade von jemand anderem signiert. Bitte erneut versuchen.")
        )
    ct = doc.content_type
    n = report.signatures.count()
    doc.current_path = _store(
        f"ehba/{ct.app_label}/{ct.model}/{doc.object_id}/{doc.key}-signiert-{n}.pdf", signed_pdf
    )
    doc.current_sha256 = report.signed_sha256
    doc.signature_count = n
    doc.complete = report.complete and report.verdict == Verdict.VALID
    doc.updated_at = timezone.now()
    doc.save()
    report.accepted = True
    report.save(update_fields=["accepted"])
    document.__dict__.update(
        {
            k: getattr(doc, k)
            for k in ("current_path", "current_sha256", "signature_count", "complete", "updated_at")
        }
    )
    application = doc.application
    audit.record(
        actor=actor,
        activity=Activity.SUBMIT,
        obj=application,
        detail={"ehba_document": doc.key, "signatures": n, "complete": doc.complete},
    )
    if signable.on_accepted:
        signable.on_accepted(actor=actor, application=application, report=report)
    if application_complete(application) and signable.on_complete:
        signable.on_complete(actor=actor, application=application)


def current_documents(application: models.Model) -> list[SignatureDocument]:
    """The prepared documents of the application's current content (earlier versions of a
    re-opened application keep their reports but no longer count)."""
    signable = signable_for(label_of(application))
    docs = list(documents_of(application))
    if signable is None:
        return docs
    keys = [spec.key for spec in signable.documents(application)]
    return sorted((d for d in docs if d.key in keys), key=lambda d: keys.index(d.key))


def application_complete(application: models.Model) -> bool:
    docs = current_documents(application)
    return bool(docs) and all(d.complete for d in docs)


# --- demo -------------------------------------------------------------------------------------

DEMO_PINS = {"PIN.CH": "123456", "PIN.QES": "654321"}


def seed_demo(world: dict, out: Callable[[str], None]) -> None:
    """Test PKI + software eHBA for the demo doctors of the BAG (Hahn, Richter) and the MVZ's
    Ärztliche Leiterin (Berger); Hahn's card is registered (card login works at once)."""
    from kvportal.cardlib import softcard, testpki, tokens

    if not getattr(settings, "EHBA_TEST_PKI", False):
        out("eHBA-Demo übersprungen: Test-PKI nicht eingeschaltet (KVPORTAL_EHBA_TEST_PKI=1).")
        return
    directory = Path(settings.EHBA_DIR)
    test_pki = testpki.TestPKI.load_or_create(testpki_dir())
    issued = []
    for key in ("hahn", "richter", "leiterin"):
        person = world.get("persons", {}).get(key)
        user = world.get("users", {}).get(key)
        if person is None or user is None:
            continue
        existing = [c for c in softcard.SoftCard.list(directory) if c.lanr == (person.lanr or "")]
        if existing:
            card = existing[-1]
        else:
            card, _secrets = softcard.SoftCard.issue(
                test_pki,
                lanr=person.lanr or "",
                given_name=person.first_name,
                surname=person.last_name,
                profession=person.profession,
                telematik_id=person.telematik_id or None,
                directory=directory,
                transport_pins={softcard.PinType.CH: "000001", softcard.PinType.QES: "000002"},
            )
            card.change_pin(softcard.PinType.CH, "000001", DEMO_PINS["PIN.CH"])
            card.change_pin(softcard.PinType.QES, "000002", DEMO_PINS["PIN.QES"])
        issued.append((user, card))
    if not issued:
        return
    user, card = issued[0]
    if active_registration(user) is None:
        audience = normalise_origin(settings.PORTAL_URL)
        session_key = f"demo-{secrets.token_hex(8)}"
        challenge = issue_challenge(
            actor=user,
            session_key=session_key,
            purpose=ChallengePurpose.REGISTER,
            audience=audience,
        )
        token = tokens.sign_login_challenge(card, DEMO_PINS["PIN.CH"], challenge, audience)
        register_card(actor=user, session_key=session_key, audience=audience, token=token)
    out(f"eHBA-Demo (Software-Karten, Test-PKI in {directory}):")
    for user, card in issued:
        out(f"  {user.username}: Karte {card.card_id}, Telematik-ID {card.telematik_id}")
    out(
        f"  PIN.CH {DEMO_PINS['PIN.CH']}, PIN.QES {DEMO_PINS['PIN.QES']}; Agent starten: "
        f"kvportal card agent --card <LANR> --test-pin "
        f"{DEMO_PINS['PIN.CH']},{DEMO_PINS['PIN.QES']}"
    )

# gemSpec_FD_KOMLE (issue 15): the web mailbox submits like a client module — SMTP submission
# over TLS as the sending account, only the ciphertext the local agent built; the portal never
# holds the account's password, so it logs in with a short-lived signed submission token that
# only the portal's account source accepts (same secret), for that one address.
"""Web-mailbox submission to the Fachdienst (`KVPORTAL_KIM_SUBMISSION_URL`)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core import signing
from django.utils.crypto import constant_time_compare

TOKEN_PREFIX = "kvportal-web:"
TOKEN_MAX_AGE = 120  # seconds: one submission, not a standing password
_SALT = "kvportal.kim.web-submission"


def submission_password(address: str) -> str:
    """A password for one SMTP login as `address`, valid for TOKEN_MAX_AGE seconds."""
    return TOKEN_PREFIX + signing.TimestampSigner(salt=_SALT).sign(address.strip().lower())


def is_submission_token(password: str) -> bool:
    return password.startswith(TOKEN_PREFIX)


def check_submission_password(address: str, password: str) -> bool:
    """True if `password` is an unexpired token the portal issued for exactly `address`."""
    if not is_submission_token(password):
        return False
    try:
        value = signing.TimestampSigner(salt=_SALT).unsign(
            password[len(TOKEN_PREFIX) :], max_age=TOKEN_MAX_AGE
        )
    except signing.BadSignature:  # includes SignatureExpired
        return False
    return constant_time_compare(value, address.strip().lower())


class SubmissionConfigError(ValueError):
    """A bad `KVPORTAL_KIM_SUBMISSION_URL`; the message is German."""


class SubmissionRefused(Exception):
    """The Fachdienst refused the mail (nothing was sent); `message` is German."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    implicit_tls: bool


def parse_url(url: str) -> Endpoint:
    """`smtps://host[:465]` (implicit TLS) or `smtp://host[:587]` (STARTTLS required)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise SubmissionConfigError(
            f"KVPORTAL_KIM_SUBMISSION_URL „{url}“: erwartet smtps://HOST[:PORT] oder "
            "smtp://HOST[:PORT] (STARTTLS)."
        )
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 587)
    except ValueError as exc:
        raise SubmissionConfigError(f"KVPORTAL_KIM_SUBMISSION_URL „{url}“: Port ungültig.") from exc
    return Endpoint(parts.hostname, port, parts.scheme == "smtps")


def tls_context(cafile: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def submit(
    endpoint: Endpoint,
    *,
    sender: str,
    recipients: list[str],
    data: bytes,
    tls: ssl.SSLContext,
    timeout: float = 60.0,
) -> None:
    """Submit one KOM-LE mail as `sender` (token login). All or nothing at the envelope: if the
    Fachdienst refuses any recipient, the transaction is reset and nothing is sent."""
    where = f"{endpoint.host}:{endpoint.port}"
    try:
        if endpoint.implicit_tls:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                endpoint.host, endpoint.port, timeout=timeout, context=tls
            )
        else:
            conn = smtplib.SMTP(endpoint.host, endpoint.port, timeout=timeout)
            conn.starttls(context=tls)  # never in the clear
        with conn:
            conn.ehlo()
            conn.login(sender, submission_password(sender))
            size = [f"SIZE={len(data)}"] if conn.has_extn("size") else []
            code, text = conn.mail(sender, size)
            if code != 250:
                raise SubmissionRefused(_refusal("Absender", sender, code, text))
            refused = []
            for rcpt in recipients:
                code, text = conn.rcpt(rcpt)
                if code not in (250, 251):
                    refused.append(_refusal("Empfänger", rcpt, code, text))
            if refused:
                conn.rset()
                raise SubmissionRefused(" ".join(refused))
            code, text = conn.data(data)
            if code != 250:
                raise SubmissionRefused(
                    f"Der KIM-Fachdienst hat die Nachricht abgelehnt: {code} {_text(text)}"
                )
    except SubmissionRefused:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise SubmissionRefused(
            f"Der KIM-Fachdienst hat die Anmeldung als {sender} abgelehnt ({exc.smtp_code})."
        ) from exc
    except smtplib.SMTPResponseException as exc:
        raise SubmissionRefused(
            f"Der KIM-Fachdienst hat die Nachricht abgelehnt: {exc.smtp_code} "
            f"{_text(exc.smtp_error)}"
        ) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise SubmissionRefused(
            f"Der KIM-Fachdienst {where} ist nicht erreichbar ({type(exc).__name__}); "
            "die Nachricht wurde nicht versendet."
        ) from exc


def _text(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _refusal(what: str, address: str, code: int, text: bytes | str) -> str:
    return f"{what} {address} abgelehnt: {code} {_text(text)}."

"""KIM error reports: delivery status notifications (RFC 3464) and wrapper mails (no Django).

# Rule (gemSpec_CM_KOMLE A_20650): error messages carry `X-KIM-Fehlermeldung` with the code
# of Tab_Fehlercodes_KOMLE-Clientmodule; send errors go back to the sender as an unsigned,
# unencrypted DSN (RFC 3461-3464), receive errors to the recipient as a wrapper mail.
"""

from __future__ import annotations

import email.utils
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from . import mail

# Tab_Fehlercodes_KOMLE-Clientmodule (gemSpec_CM_KOMLE) and 4018 (KIM 1.5.x, account limit)
WRONG_KIM_VERSION = 4001
KAS_UPLOAD_FAILED = 4002
NO_UNIQUE_CERTIFICATE = 4003
NOT_ENCRYPTABLE_FOR_ALL = 4004
SEVERAL_TELEMATIK_IDS = 4005
KAS_DOWNLOAD_FAILED = 4006
ATTACHMENT_DECRYPTION_FAILED = 4007
VERSION_NOT_SUPPORTED = 4008
KEY_NOT_AVAILABLE = 4009
WRONG_FORMAT = 4010
KONNEKTOR_UNAVAILABLE = 4011
ATTACHMENT_HASH_MISMATCH = 4012
KAS_TOO_MANY_REQUESTS = 4013
MANIPULATED_AFTER_ENCRYPTION = 4014
RECIPIENTS_MANIPULATED = 4015
PKCS12_UPDATE_FAILED = 4016
CLIENT_MODULE_OUTDATED = 4017
SIZE_OVER_LIMIT = 4018

TEXTS = {
    4001: "Empfänger entfernt, wegen falscher KIM-Version",
    4002: "Anhang konnte nicht zum KOM-LE-Attachment-Service übertragen werden",
    4003: "keine eindeutige Telematik-ID mit Verschlüsselungszertifikat gefunden",
    4004: "Nachricht nicht für alle Empfänger verschlüsselbar",
    4005: "Für einen Empfänger existieren mehrere Verschlüsselungszertifikate mit "
    "unterschiedlichen Telematik-IDs",
    4006: "Anhang konnte nicht vom KOM-LE-Attachment-Service geladen werden",
    4007: "beim Entschlüsseln eines Anhangs ist ein Fehler aufgetreten",
    4008: "Das verwendete Client-Modul unterstützt die in der Mail verwendete Version nicht",
    4009: "Die KIM-Nachricht konnte auf Grund eines nicht verfügbaren Schlüssels nicht "
    "entschlüsselt werden",
    4010: "Die KIM-Nachricht konnte aufgrund des falschen Formats nicht entschlüsselt werden",
    4011: "Der Konnektor steht für die Entschlüsselung nicht zur Verfügung",
    4012: "Die Prüfsumme des Anhangs stimmt nicht mit der dem Anhang beigefügten Prüfsumme "
    "überein. Der empfangene Anhang entspricht eventuell nicht dem originalen Anhang",
    4013: "Anhang konnte nicht heruntergeladen werden, da durch zu häufigen Zugriff der "
    "KOM-LE-Attachment-Service den Abruf verweigert.",
    4014: "Die Prüfung der Nachricht hat ergeben, dass die Nachricht nach dem Verschlüsseln "
    "manipuliert wurde. Möglicherweise wurde die verschlüsselte Nachricht auch an einen nicht "
    "empfangsberechtigten Personenkreis versendet.",
    4015: "Die Prüfung der Signatur der Nachricht hat ergeben, dass die Nachricht manipuliert "
    "wurde, um einem anderen Nutzer das Entschlüsseln der Nachricht mit einem Schlüssel, der "
    "nicht in seinem Besitz ist, zu ermöglichen.",
    4016: "Bei der Aktualisierung der PKCS#12-Datei ist ein Fehler aufgetreten",
    4017: "Die KIM-Version des Client-Moduls ist kleiner als die im Verzeichnisdienst zu "
    "seinem Eintrag hinterlegte Version",
    4018: "Die Nachricht überschreitet die für das Konto zulässige Größe (maxMailSize)",
}


@dataclass(frozen=True)
class RecipientFailure:
    address: str
    status: str  # RFC 3463 enhanced status code, e.g. "5.1.1"
    diagnostic: str  # e.g. "550 Empfänger unbekannt" (reported as `smtp; …`)
    kim_code: int | None = None


def is_error_report(data: bytes) -> bool:
    """True for a KIM error report: multipart/report (RFC 3462) with X-KIM-Fehlermeldung."""
    try:
        part = mail.split(data[:65536])
    except Exception:
        return False
    code = (part.get("X-KIM-Fehlermeldung") or "").strip()
    return part.content_type == "multipart/report" and code.isdigit()


def _header_value(text: str) -> str:
    return " ".join(text.split())


_ASCII = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
)


def _ascii(text: str) -> str:
    """message/delivery-status is US-ASCII (RFC 3464): German letters transliterated."""
    return _header_value(text).translate(_ASCII).encode("ascii", "replace").decode()


def _headers_of(original: bytes) -> bytes:
    try:
        end = mail.split(original)
    except Exception:
        return b""
    raw = original[: len(original) - len(end.body)].rstrip(b"\r\n")
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + b"\r\n"


def _envelope(
    *, sender: str, to: str, subject: str, code: int | None, content_type: str
) -> list[str]:
    lines = [
        f"From: KIM-Fachdienst <{sender}>",
        f"To: <{to}>",
        mail.header_line("Subject", subject),
        f"Date: {email.utils.formatdate(localtime=False)}",
        f"Message-ID: <{uuid.uuid4()}@kim-fachdienst>",
        "MIME-Version: 1.0",
        "Auto-Submitted: auto-replied",
        content_type,
    ]
    if code is not None:
        lines.insert(5, f"X-KIM-Fehlermeldung: {code}")
    return lines


def delivery_report(
    *,
    reporting_mta: str,
    sender: str,
    original: bytes,
    failures: Sequence[RecipientFailure],
    kim_code: int | None = None,
    postmaster: str | None = None,
) -> bytes:
    """multipart/report; report-type=delivery-status for `failures`, to `sender`.

    Parts: German explanation, message/delivery-status (per-message and per-recipient fields),
    text/rfc822-headers of the original (never its body: it may be plain text at the CM).
    `kim_code` defaults to the first failure's code.
    """
    if not failures:
        raise ValueError("a DSN needs at least one failed recipient")
    code = kim_code or next((f.kim_code for f in failures if f.kim_code), None)
    boundary = f"=_kim_dsn_{uuid.uuid4().hex}"
    original_id = (mail.split(original).get("Message-ID") or "").strip() if original else ""
    human = [
        "Ihre KIM-Nachricht konnte nicht an alle Empfänger zugestellt werden.",
        "",
    ]
    for failure in failures:
        human.append(f"  {failure.address}: {failure.diagnostic}")
        if failure.kim_code:
            human.append(f"    KIM-Fehler {failure.kim_code}: {TEXTS.get(failure.kim_code, '')}")
    if original_id:
        human += ["", f"Betroffene Nachricht: {original_id}"]
    human += ["", "Diese Nachricht wurde automatisch erzeugt; sie ist nicht signiert."]
    status = [
        f"Reporting-MTA: dns; {reporting_mta}",
        f"Arrival-Date: {email.utils.formatdate(localtime=False)}",
    ]
    if original_id:
        status.append(f"X-Original-Message-ID: {original_id}")
    per_recipient = []
    for failure in failures:
        per_recipient.append(
            "\r\n".join(
                [
                    f"Final-Recipient: rfc822; {failure.address}",
                    "Action: failed",
                    f"Status: {failure.status}",
                    f"Diagnostic-Code: smtp; {_ascii(failure.diagnostic)}",
                ]
            )
        )
    head = _envelope(
        sender=postmaster or f"mailer-daemon@{reporting_mta}",
        to=sender,
        subject="Unzustellbar: KIM-Nachricht",
        code=code,
        content_type="Content-Type: multipart/report; report-type=delivery-status; "
        f'boundary="{boundary}"',
    )
    parts = [
        "\r\n".join(head),
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "\r\n".join(human),
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        "\r\n".join(status),
        "",
        "\r\n\r\n".join(per_recipient),
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "",
    ]
    tail = f"\r\n--{boundary}--\r\n".encode()
    return "\r\n".join(parts).encode("utf-8") + b"\r\n" + _headers_of(original) + tail


def wrapper_mail(
    *,
    original: bytes,
    code: int,
    detail: str = "",
    recipient: str | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
    subject: str | None = None,
    with_code: bool = True,
) -> bytes:
    """multipart/mixed for the practice software: explanation + the received mail as rfc822.

    Header fields From/To/Cc/Date/Reply-To/Sender are taken from the received mail (A_19370).
    """
    outer = mail.split(original)
    boundary = f"=_kim_wrap_{uuid.uuid4().hex}"
    lines = []
    for name in ("Date", "From", "Sender", "Reply-To", "To", "Cc"):
        value = outer.get(name)
        if value:
            lines.append(mail.header_line(name, value))
    if recipient and not outer.get("To"):
        lines.append(f"To: <{recipient}>")
    lines += [
        mail.header_line(
            "Subject", subject or f"KIM-Nachricht konnte nicht geöffnet werden (Fehler {code})"
        ),
        f"Message-ID: <{uuid.uuid4()}@kim-clientmodul>",
        "MIME-Version: 1.0",
    ]
    if with_code:
        lines.append(f"X-KIM-Fehlermeldung: {code}")
    lines += [mail.header_line(name, value) for name, value in extra_headers]
    lines.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
    text = f"KIM-Fehler {code}: {TEXTS.get(code, 'unbekannter Fehler')}." if with_code else ""
    if detail:
        text += f"\r\n\r\n{detail}" if text else detail
    text += "\r\n\r\nDie empfangene Nachricht ist unverändert angehängt."
    body = "\r\n".join(
        [
            "\r\n".join(lines),
            "",
            f"--{boundary}",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            "",
            text,
            f"--{boundary}",
            "Content-Type: message/rfc822",
            "Content-Disposition: attachment; filename=KIM-Nachricht.eml",
            "",
            "",
        ]
    ).encode("utf-8")
    data = original.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n").rstrip(b"\r\n")
    return body + data + f"\r\n--{boundary}--\r\n".encode()

"""KOM-LE mail wrapping (gemSMIME_KOMLE headers) around the CMS layers (no Django)."""

from __future__ import annotations

import base64
import email.header
import email.message
import email.parser
import email.policy
import email.utils
from collections.abc import Sequence
from dataclasses import dataclass

from . import komle

RFC822_WRAP_HEADER = b"Content-Type: message/rfc822\r\n\r\n"
KEPT_HEADERS = ("Date", "From", "Reply-To", "To", "Cc", "Message-ID")


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _b64_lines(der: bytes) -> bytes:
    text = base64.b64encode(der)
    return b"\r\n".join(text[i : i + 76] for i in range(0, len(text), 76)) + b"\r\n"


def header_line(name: str, value: str) -> str:
    """`Name: value` on one line, RFC 2047-encoded if the value is not ASCII."""
    value = " ".join(value.split())
    if not value.isascii():
        value = email.header.Header(value, "utf-8", header_name=name, maxlinelen=10_000).encode()
    return f"{name}: {value}"


@dataclass
class Part:
    headers: email.message.Message
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get_content_type()

    def get(self, name: str) -> str | None:
        """The header as sent (encoded words decoded, nothing else normalised)."""
        value = self.headers.get(name)
        if value is None:
            return None
        try:
            return str(email.header.make_header(email.header.decode_header(str(value))))
        except (ValueError, LookupError):
            return str(value)


def split(data: bytes) -> Part:
    """Headers and raw (still transfer-encoded) body of a MIME entity."""
    cut = [i for i in (data.find(b"\r\n\r\n"), data.find(b"\n\n")) if i >= 0]
    if not cut:
        raise komle.FormatError("Keine MIME-Nachricht: die Leerzeile nach den Kopfzeilen fehlt.")
    end = min(cut)
    sep = 4 if data[end : end + 4] == b"\r\n\r\n" else 2
    head, body = data[:end], data[end + sep :]
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(
        head + b"\r\n\r\n"
    )
    return Part(headers=headers, body=body)


def decoded_body(part: Part) -> bytes:
    cte = (part.get("Content-Transfer-Encoding") or "7bit").strip().lower()
    if cte == "base64":
        try:
            return base64.b64decode(b"".join(part.body.split()), validate=True)
        except ValueError as exc:
            raise komle.FormatError("Der Base64-Inhalt ist fehlerhaft.") from exc
    if cte in ("7bit", "8bit", "binary"):
        return part.body
    raise komle.FormatError(f"Transferkodierung „{cte}“ wird nicht unterstützt.")


def build(
    client_mail: bytes,
    *,
    signer_key,
    signer_cert,
    recipients: Sequence[tuple[str, object]],
    chain: Sequence[object] = (),
    extra_headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """A complete KOM-LE mail: sign the client mail, encrypt for every recipient, wrap.

    `extra_headers` go into the outer mail (e.g. X-KIM-CMVersion, Expires).
    """
    client_mail = _crlf(client_mail)
    inner = split(client_mail)
    dienstkennung = inner.get("X-KIM-Dienstkennung") or komle.DEFAULT_DIENSTKENNUNG
    signed = komle.sign(
        RFC822_WRAP_HEADER + client_mail,
        signer_key,
        signer_cert,
        chain=chain,
        recipients=recipients,
    )
    signed_wrap = (
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=smime.p7m\r\n\r\n" + _b64_lines(signed)
    )
    encrypted = komle.encrypt(signed_wrap, recipients)
    lines = []
    for name in KEPT_HEADERS:
        value = inner.get(name)
        if value:
            lines.append(f"{name}: {value}")
    if not inner.get("Date"):
        lines.append(f"Date: {email.utils.formatdate(localtime=False)}")
    lines += [
        "Subject: KOM-LE-Nachricht",
        "MIME-Version: 1.0",
        "Content-Type: application/pkcs7-mime; smime-type=authenticated-enveloped-data; "
        "name=smime.p7m",
        "Content-Transfer-Encoding: base64",
        f"X-KOM-LE-Version: {komle.KOMLE_VERSION}",
        f"X-KIM-Dienstkennung: {dienstkennung}",
        "Content-Disposition: attachment; filename=smime.p7m",
    ]
    lines += [header_line(name, value) for name, value in extra_headers]
    head = "\r\n".join(lines).encode("utf-8") + b"\r\n\r\n"
    return head + _b64_lines(encrypted)

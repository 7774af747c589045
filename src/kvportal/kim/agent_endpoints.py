# Security (gemSpec_CM_KOMLE, issue 15): decryption and signing happen only here, at the
# practice, with the card's keys; the portal only ever sees ciphertext. Requests only from
# 127.0.0.1 and from the configured portal origins (CORS), like the signing agent.
"""The web mailbox's local counterpart (no Django): `/kim/open` decrypts and verifies a
KOM-LE mail with the SMC-B (or any card file of format kvportal-smcb/1), `/kim/compose` builds,
signs and encrypts a client mail for the given recipient certificates.

`handle_open` / `handle_compose` take and return JSON-ready dicts so that any agent can mount
them (ROUTES); `KimAgent` is a small stand-alone agent on 127.0.0.1 serving /status plus both:

    python -m kvportal.kim.agent_endpoints --card smcb.json --origin https://portal.example
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import email
import email.policy
import email.utils
import getpass
import json
import sys
import threading
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509

from kvportal.kim import komle, mail, smcb

MAX_BODY = 40 * 1024 * 1024
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]"}
DEFAULT_DIENSTKENNUNG = "KIM-Mail;Default;V1.0"


class AgentError(Exception):
    def __init__(self, code: str, message: str, status: int = HTTPStatus.BAD_REQUEST):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def as_json(self) -> dict[str, str]:
        return {"fehler": self.message, "code": self.code}


class Card:
    """An opened software card: the ENC and OSIG keys and certificates, the CA as trust anchor."""

    def __init__(self, data: bytes, pin: str):
        try:
            doc, certs, keys = smcb.open_card_file(data, pin)
        except smcb.CardError as exc:
            raise AgentError("card", str(exc), HTTPStatus.FORBIDDEN) from exc
        self.telematik_id = doc["telematik_id"]
        self.iccsn = doc["iccsn"]
        self.certificates = certs
        self.keys = keys
        self.ca = x509.load_pem_x509_certificate(doc["ca"].encode())

    def describe(self) -> dict[str, Any]:
        return {
            "karte": "SMC-B",
            "telematik_id": self.telematik_id,
            "iccsn": self.iccsn,
            "gueltig_bis": self.certificates["enc"].not_valid_after_utc.isoformat(),
        }


def _b64(value: Any, field: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise AgentError("bad_request", f"„{field}“ fehlt oder ist kein Base64-Text.")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise AgentError("bad_request", f"„{field}“ ist kein gültiges Base64.") from exc


def handle_open(card: Card, data: dict[str, Any], *, now: dt.datetime | None = None) -> dict:
    """Decrypt the outer AuthEnvelopedData, verify the inner SignedData (signature and chain
    to the card's CA), return the client mail's headers, text and attachments."""
    raw = _b64(data.get("mail"), "mail")
    try:
        outer = mail.split(raw)
        decrypted = komle.decrypt(mail.decoded_body(outer), card.keys["enc"])
        signed_part = mail.split(decrypted.content)
        verified = komle.verify(
            mail.decoded_body(signed_part), trust=[card.ca], at=now or dt.datetime.now(dt.UTC)
        )
    except komle.NotARecipientError as exc:
        raise AgentError("not_recipient", str(exc), HTTPStatus.FORBIDDEN) from exc
    except komle.KomleError as exc:
        raise AgentError("format", str(exc), HTTPStatus.UNPROCESSABLE_ENTITY) from exc
    content = verified.content
    if content.startswith(mail.RFC822_WRAP_HEADER):
        content = content[len(mail.RFC822_WRAP_HEADER) :]
    message = email.message_from_bytes(content, policy=email.policy.default)
    text, attachments = "", []
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.get_content_disposition() == "attachment" or part.get_filename():
            payload = part.get_payload(decode=True) or b""
            attachments.append(
                {
                    "name": part.get_filename() or "anhang.bin",
                    "content_type": part.get_content_type(),
                    "size": len(payload),
                    "data": base64.b64encode(payload).decode(),
                }
            )
        elif part.get_content_type() == "text/plain" and not text:
            text = part.get_content()
    return {
        "from": str(message.get("From", "")),
        "to": str(message.get("To", "")),
        "cc": str(message.get("Cc", "")),
        "date": str(message.get("Date", "")),
        "subject": str(message.get("Subject", "")),
        "message_id": str(message.get("Message-ID", "")),
        "dienstkennung": str(message.get("X-KIM-Dienstkennung", DEFAULT_DIENSTKENNUNG)),
        "text": text,
        "attachments": attachments,
        "signature_valid": verified.signature_valid,
        "chain_valid": verified.chain_valid,
        "signer": verified.signer_subject,
        "problems": list(verified.problems) + list(verified.chain_messages),
    }


def build_client_mail(data: dict[str, Any]) -> tuple[bytes, list[str]]:
    sender = str(data.get("from") or "").strip()
    to = [str(a).strip() for a in data.get("to") or [] if str(a).strip()]
    if not sender:
        raise AgentError("bad_request", "Der Absender („from“) fehlt.")
    if not to:
        raise AgentError("bad_request", "Bitte geben Sie mindestens einen Empfänger an.")
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = str(data.get("subject") or "")
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = email.utils.make_msgid(domain=sender.rsplit("@", 1)[-1])
    if data.get("in_reply_to"):
        msg["In-Reply-To"] = str(data["in_reply_to"])
        msg["References"] = str(data["in_reply_to"])
    msg["X-KIM-Dienstkennung"] = str(data.get("dienstkennung") or DEFAULT_DIENSTKENNUNG)
    msg.set_content(str(data.get("text") or ""))
    for index, att in enumerate(data.get("attachments") or []):
        if not isinstance(att, dict):
            raise AgentError("bad_request", f"Anhang {index + 1} ist fehlerhaft.")
        payload = _b64(att.get("data"), f"Anhang {index + 1}")
        maintype, _, subtype = str(att.get("content_type") or "application/octet-stream").partition(
            "/"
        )
        msg.add_attachment(
            payload,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=str(att.get("name") or f"anhang-{index + 1}"),
        )
    return msg.as_bytes(), [sender, *to]


def handle_compose(card: Card, data: dict[str, Any]) -> dict:
    """Sign with the card's OSIG key and encrypt for every recipient's certificate and the
    sender's own ENC certificate (so the sent copy stays readable)."""
    client_mail, addresses = build_client_mail(data)
    certificates = data.get("certificates") or {}
    recipients: list[tuple[str, x509.Certificate]] = []
    sender = addresses[0]
    for address in addresses[1:]:
        pems = certificates.get(address) or []
        if not pems:
            raise AgentError(
                "no_certificate",
                f"Für {address} ist kein Verschlüsselungszertifikat bekannt (KIM-Fehler 4003).",
                HTTPStatus.UNPROCESSABLE_ENTITY,
            )
        for pem in pems:
            try:
                recipients.append((address, x509.load_pem_x509_certificate(str(pem).encode())))
            except ValueError as exc:
                raise AgentError(
                    "bad_request", f"Das Zertifikat für {address} ist unlesbar."
                ) from exc
    recipients.append((sender, card.certificates["enc"]))
    outer = mail.build(
        client_mail,
        signer_key=card.keys["osig"],
        signer_cert=card.certificates["osig"],
        recipients=recipients,
        chain=[card.ca],
    )
    return {"mail": base64.b64encode(outer).decode(), "size": len(outer)}


ROUTES: dict[str, Callable[[Card, dict], dict]] = {
    "/kim/open": handle_open,
    "/kim/compose": handle_compose,
}


# --- the stand-alone local agent -----------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, agent: KimAgent):
        self.agent = agent
        super().__init__((agent.host, agent.port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "kvportal-kim-agent/1"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # no request lines with data
        return

    def _origin(self) -> str | None:
        origin = self.headers.get("Origin")
        return origin.rstrip("/") if origin and origin != "null" else None

    def _send(self, status: int, payload: dict, origin: str | None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        if origin and origin in self.server.agent.origins:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Vary", "Origin")
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _check(self, *, need_origin: bool) -> str | None:
        host = (self.headers.get("Host") or "").lower().rsplit(":", 1)[0]
        if host not in LOCAL_HOSTS:
            raise AgentError("forbidden", "Der KIM-Agent antwortet nur auf 127.0.0.1.", 403)
        origin = self._origin()
        if origin is None and not need_origin:
            return None
        if origin not in self.server.agent.origins:
            raise AgentError(
                "forbidden", "Diese Webseite darf den KIM-Agenten nicht verwenden.", 403
            )
        return origin

    def do_OPTIONS(self) -> None:
        try:
            origin = self._check(need_origin=True)
        except AgentError as exc:
            self._send(exc.status, exc.as_json(), None)
            return
        self.send_response(HTTPStatus.NO_CONTENT)
        self.send_header("Access-Control-Allow-Origin", origin or "")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        origin = None
        try:
            origin = self._check(need_origin=False)
            if urlsplit(self.path).path != "/status":
                raise AgentError("not_found", "Unbekannter Pfad.", 404)
            self._send(200, self.server.agent.status(), origin)
        except AgentError as exc:
            self._send(exc.status, exc.as_json(), origin)

    def do_POST(self) -> None:
        origin = None
        try:
            origin = self._check(need_origin=True)
            handler = ROUTES.get(urlsplit(self.path).path)
            if handler is None:
                raise AgentError("not_found", "Unbekannter Pfad.", 404)
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                raise AgentError("bad_request", "Die Anfrage ist leer oder zu groß.")
            try:
                data = json.loads(self.rfile.read(length))
            except ValueError as exc:
                raise AgentError("bad_request", "Die Anfrage enthält kein gültiges JSON.") from exc
            if not isinstance(data, dict):
                raise AgentError("bad_request", "Die Anfrage muss ein JSON-Objekt sein.")
            with self.server.agent.lock:
                result = handler(self.server.agent.card(), data)
            self._send(200, result, origin)
        except AgentError as exc:
            self._send(exc.status, exc.as_json(), origin)
        except Exception as exc:  # German message for the page, details on the terminal
            print(f"KIM-Agent: interner Fehler {exc!r}", file=sys.stderr)
            self._send(
                500, {"fehler": "Interner Fehler im KIM-Agenten.", "code": "internal"}, origin
            )


class KimAgent:
    """One card file, one PIN source; serves on 127.0.0.1:`port` (0 = any free port)."""

    def __init__(
        self,
        card_file: Path | str,
        *,
        origins: Sequence[str],
        pin: Callable[[], str],
        host: str = "127.0.0.1",
        port: int = 8766,
    ):
        self.card_file = Path(card_file)
        self.origins = {o.rstrip("/") for o in origins}
        self._pin = pin
        self._card: Card | None = None
        self.host, self.port = host, port
        self.lock = threading.Lock()
        self._server: _Server | None = None

    def card(self) -> Card:
        if self._card is None:
            if not self.card_file.exists():
                raise AgentError("no_card", "Keine SMC-B gesteckt (Kartendatei fehlt).", 503)
            self._card = Card(self.card_file.read_bytes(), self._pin())
        return self._card

    def status(self) -> dict:
        try:
            return {"agent": "kim", "bereit": True, **self.card().describe()}
        except AgentError as exc:
            return {"agent": "kim", "bereit": False, "fehler": exc.message}

    def start(self) -> str:
        self._server = _Server(self)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://{self.host}:{self.port}"

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kvportal.kim.agent_endpoints",
        description="KIM-Agent für das Web-Postfach (Software-SMC-B).",
    )
    parser.add_argument("--card", required=True, help="Kartendatei (smcb-….json)")
    parser.add_argument("--origin", action="append", required=True, help="Portaladresse")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args(argv)
    agent = KimAgent(
        args.card, origins=args.origin, pin=lambda: getpass.getpass("PIN.SMC: "), port=args.port
    )
    try:
        url = agent.start()
    except OSError as exc:
        print(f"Fehler: Port {args.port} ist nicht verfügbar ({exc.strerror}).", file=sys.stderr)
        return 69
    print(f"KIM-Agent läuft auf {url} (Strg+C beendet).")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        agent.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

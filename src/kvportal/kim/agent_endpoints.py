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
            mail.decoded_body(signed_part),
            trust=list(getattr(card, "trust", None) or [card.ca]),
            at=now or dt.datetime.now(dt.UTC),
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
            decoded = part.get_payload(decode=True)
            payload = decoded if isinstance(decoded, bytes) else b""
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


#: the web mailbox's subject search asks for at most this many mails at once
MAX_HEADER_MAILS = 50


def handle_headers(card: Card, data: dict[str, Any], *, now: dt.datetime | None = None) -> dict:
    """Subject search in the web mailbox (the server never sees the subject): decrypt each
    listed mail and return only the client mail's From/To/Date/Subject (no text, no
    attachments) and whether the signature is valid. A mail the card cannot open gets its own
    German `fehler`; the others are still answered."""
    mails = data.get("mails")
    if not isinstance(mails, list) or not mails:
        raise AgentError("bad_request", "„mails“ fehlt oder ist keine Liste.")
    if len(mails) > MAX_HEADER_MAILS:
        raise AgentError(
            "bad_request", f"Höchstens {MAX_HEADER_MAILS} Nachrichten je Anfrage durchsuchen."
        )
    result = []
    for index, item in enumerate(mails):
        ident = item.get("id") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict):
                raise AgentError("bad_request", f"Eintrag {index + 1} ist kein JSON-Objekt.")
            opened = handle_open(card, {"mail": item.get("mail")}, now=now)
        except AgentError as exc:
            result.append({"id": ident, "fehler": exc.message, "code": exc.code})
            continue
        result.append(
            {
                "id": ident,
                **{k: opened[k] for k in ("from", "to", "date", "subject", "dienstkennung")},
                "signature_valid": opened["signature_valid"],
            }
        )
    return {"headers": result}


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
        chain=list(getattr(card, "chain", None) or [card.ca]),
    )
    return {"mail": base64.b64encode(outer).decode(), "size": len(outer)}


ROUTES: dict[str, Callable[[Card, dict], dict]] = {
    "/kim/open": handle_open,
    "/kim/compose": handle_compose,
    "/kim/headers": handle_headers,
}


# --- the eHBA (personal mailbox) through `kvportal card agent --kim` ---------------------------

NO_RSA_EHBA = (
    "Der eHBA im Signatur-Agenten hat keinen RSA-Verschlüsselungsschlüssel (C.HP.ENC); KIM "
    "braucht RSA-2048. Bitte einen eHBA mit RSA-Schlüsseln stecken "
    "(Testkarte: kvportal card issue … --algorithm rsa)."
)


class _EhbaEncKey:
    """C.HP.ENC on the eHBA: RSA decryption after PIN.CH (the card keeps the security state
    after the first correct PIN, like a real card until it is pulled)."""

    def __init__(self, softcard, pin: Callable[[str, str], str]):
        self.card, self._pin = softcard, pin
        self._verified: str | None = None

    def decrypt(self, ciphertext: bytes, pad) -> bytes:
        from kvportal.cardlib import softcard as sc

        pin = self._verified or self._pin("PIN.CH", "KIM-Nachricht entschlüsseln (eHBA)")
        try:
            plain = self.card.decrypt_enc(pin, ciphertext, pad)
        except sc.CardError as exc:
            raise AgentError("card", exc.message_de, HTTPStatus.FORBIDDEN) from exc
        self._verified = pin
        return plain


class _EhbaQesKey:
    """The eHBA has no OSIG key: the KIM transport signature is made with its QES key
    (RSASSA-PSS, SHA-256, salt 32 — gemSMIME_KOMLE), one PIN.QES entry per message."""

    def __init__(self, softcard, pin: Callable[[str, str], str]):
        self.card, self._pin = softcard, pin

    def sign(self, data: bytes, pad, algorithm) -> bytes:
        from kvportal.cardlib import softcard as sc

        try:
            with self.card.open_qes_session(
                self._pin("PIN.QES", "KIM-Nachricht signieren (eHBA)")
            ) as session:
                return session.sign(data, algorithm.name)
        except sc.CardError as exc:
            raise AgentError("card", exc.message_de, HTTPStatus.FORBIDDEN) from exc


class EhbaCard:
    """A software eHBA (kvportal.cardlib.softcard) in the shape of `Card`: C.HP.ENC decrypts,
    C.HP.QES signs; `trust` = anchors for the senders (SMC-B CA, eHBA CA)."""

    kind = "eHBA"

    def __init__(self, softcard, *, pin: Callable[[str, str], str], trust=()):
        from cryptography.hazmat.primitives.asymmetric import rsa

        enc, qes = softcard.enc_certificate, softcard.qes_certificate
        if not isinstance(enc.public_key(), rsa.RSAPublicKey) or not isinstance(
            qes.public_key(), rsa.RSAPublicKey
        ):
            raise AgentError("no_card", NO_RSA_EHBA, HTTPStatus.SERVICE_UNAVAILABLE)
        self.telematik_id = softcard.telematik_id
        self.certificates = {"enc": enc, "osig": qes}
        self.keys = {"enc": _EhbaEncKey(softcard, pin), "osig": _EhbaQesKey(softcard, pin)}
        self.chain = softcard.ca_chain("qes")
        self.ca = self.chain[-1]
        self.trust = [*trust, *softcard.ca_chain("enc"), *self.chain]

    def describe(self) -> dict[str, Any]:
        until = self.certificates["enc"].not_valid_after_utc.isoformat()
        return {"karte": "eHBA", "telematik_id": self.telematik_id, "gueltig_bis": until}


def _load_trust(paths: Sequence[str]) -> list[x509.Certificate]:
    anchors = []
    for path in paths:
        try:
            anchors += x509.load_pem_x509_certificates(Path(path).read_bytes())
        except (OSError, ValueError) as exc:
            raise ValueError(f"Vertrauensanker „{path}“ ist keine lesbare PEM-Datei.") from exc
    return anchors


def card_agent_routes(agent, options: dict[str, Any]) -> dict[str, Callable]:
    """Route provider for `kvportal card agent --kim` (kvportal.cardlib.agent.ROUTE_PROVIDERS):
    /kim/open and /kim/compose with the agent's own card; with `client` the KIM client module's
    SMTPS/POP3S listeners on 127.0.0.1 with the same card."""
    from kvportal.cardlib import agent as card_agent

    trust = _load_trust(options.get("trust") or [])
    state: dict[str, Any] = {}

    def pin(pin_name: str, detail: str) -> str:
        return agent.pin_provider(pin_name, f"Web-Postfach/KIM: {detail}")

    def current() -> Any:
        token = getattr(agent.backend, "token", None)
        if token is not None and hasattr(token, "lib_path"):  # `--pkcs11-lib`: eHBA on a token
            from kvportal.kim.pkcs11_ehba import Pkcs11EhbaCard

            key = ("pkcs11", token.lib_path, token.token_label)
            if state.get("id") != key:
                state["id"], state["card"] = key, Pkcs11EhbaCard(token, pin=pin, trust=trust)
            return state["card"]
        load = getattr(agent.backend, "card", None)
        if load is None:
            raise AgentError("no_card", NO_RSA_EHBA, HTTPStatus.SERVICE_UNAVAILABLE)
        softcard = load()  # raises the agent's own "no_card" if none is there
        if state.get("id") != softcard.card_id:
            state["id"], state["card"] = softcard.card_id, EhbaCard(softcard, pin=pin, trust=trust)
        return state["card"]

    def route(handler):
        def run(data: dict[str, Any], origin: str) -> dict:
            try:
                return handler(current(), data)
            except card_agent.AgentError as exc:  # the agent's own card errors (no card, PIN)
                exc.extra.setdefault("fehler", exc.message)  # the key the web mailbox reads
                raise
            except AgentError as exc:
                code = {"card": "card_unusable", "forbidden": "forbidden_origin"}.get(
                    exc.code, exc.code
                )
                raise card_agent.AgentError(
                    code, exc.message, status=exc.status, extra={"fehler": exc.message}
                ) from exc

        return run

    if options.get("client"):
        _start_client_module(agent, options["client"], current)
    return {path: route(handler) for path, handler in ROUTES.items()}


def _start_client_module(agent, config_path: str, current: Callable[[], EhbaCard]) -> None:
    """The KIM client module inside the card agent (gemSpec_CM_KOMLE towards the practice
    software), configured like `kvportal kim client` from a JSON file; card = the agent's."""
    import asyncio

    from kvportal.kim import cli as kim_cli
    from kvportal.kim import clientmodule as cm

    try:
        config = json.loads(Path(config_path).read_text(encoding="utf-8"))
        if not isinstance(config, dict) or "address" not in config:
            raise ValueError
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"KIM-Clientmodul-Datei „{config_path}“: erwartet JSON mit „address“ und den "
            "Angaben von „kvportal kim client“."
        ) from exc
    ehba = current()
    card = cm.PemCard(
        osig_key=ehba.keys["osig"],
        osig_cert=ehba.certificates["osig"],
        enc=[(ehba.certificates["enc"], ehba.keys["enc"])],
        chain=ehba.chain,
    )
    args = argparse.Namespace(
        cards=None, directory=config.get("directory"), fhir=config.get("fhir"),
        fhir_token_file=config.get("fhir_token_file"), trust=config.get("trust") or [],
        crl=config.get("crl") or [], fachdienst_ca=config.get("fachdienst_ca"),
        tls_cert=config.get("tls_cert"), tls_key=config.get("tls_key"), ocsp=config.get("ocsp"),
        kas=config.get("kas"), limits=config.get("limits"),
    )  # fmt: skip
    try:
        module = kim_cli._client_module(args, cards={config["address"].lower(): card})
    except kim_cli._UsageError as exc:
        raise ValueError(str(exc)) from exc
    host = "127.0.0.1"
    smtp_port = int(config.get("smtp_port", 465))
    smtp = cm.smtp_controller(module, host=host, port=smtp_port)
    smtp.start()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    servers: list = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        servers.append(
            loop.run_until_complete(cm.start_pop3(module, host, int(config.get("pop3_port", 995))))
        )
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, name="kim-clientmodul", daemon=True).start()
    ready.wait(10)

    def stop() -> None:
        smtp.stop()
        if servers:
            loop.call_soon_threadsafe(servers[0].close)
        loop.call_soon_threadsafe(loop.stop)

    agent.on_shutdown.append(stop)
    agent.log(
        f"KIM-Clientmodul: SMTPS {host}:{smtp_port}, POP3S {host}:{config.get('pop3_port', 995)}"
    )


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

# Security: the signing agent listens on 127.0.0.1 only, answers only the configured portal
# origin(s) (CORS + Host check against DNS rebinding) and never sends a PIN anywhere.
"""Local signing agent ``kvportal card agent`` (the role of gematik's Authenticator).

The portal's login and signing pages talk to this small HTTP server on the member's PC:

* ``GET  /status``  – which card is present (holder, Telematik-ID); no PIN needed
* ``POST /login``   – ``{"challenge": "<jwt>"}`` → ``{"token": "<jws>"}`` (asks for PIN.CH)
* ``POST /sign``    – ``{"documents": [{"id", "name", "pdf": base64}], "reason"}`` →
  ``{"documents": [{"id", "pdf": base64}]}`` (one PIN.QES entry per batch)

The card itself is reached through a :class:`CardBackend` (software card or PKCS#11
token); the PIN comes from a :class:`PinProvider` (terminal prompt, or a fixed test PIN).
This module has no Django dependency.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import json
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

from .origins import normalise_origin  # re-exported for callers of the agent module

AGENT_NAME = "kvportal-card-agent"
AGENT_VERSION = "1"
DEFAULT_AGENT_URL = "http://127.0.0.1:8765"
#: Upper bound for one request body (a batch of application PDFs).
MAX_BODY_BYTES = 64 * 1024 * 1024
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class AgentError(Exception):
    """A failure the agent reports to the browser as ``{"error": code, "message": …}``."""

    #: Codes the portal understands (see ``kvportal.ehba.services.AGENT_ERROR_MESSAGES``).
    CODES = (
        "bad_request",
        "forbidden_origin",
        "no_card",
        "transport_pin",
        "pin_wrong",
        "pin_blocked",
        "card_unusable",
        "cancelled",
        "batch_failed",
        "internal",
        # routes of plug-ins (ROUTE_PROVIDERS), e.g. the KIM endpoints
        "not_recipient",
        "format",
        "no_certificate",
        "not_found",
    )

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = HTTPStatus.UNPROCESSABLE_ENTITY,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.code = code if code in self.CODES else "internal"
        self.message = message
        self.status = int(status)
        self.extra = extra or {}

    def as_json(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.extra}


#: Plug-ins the agent can serve besides /login and /sign: "module:function" names, loaded by
#: name (this library imports none of them). A provider is called as `provider(agent, options)`
#: and returns {path: handler(data, origin) -> dict}; handlers run under the card lock and
#: raise AgentError. The KIM endpoints (/kim/open, /kim/compose, issue 15) are the first.
ROUTE_PROVIDERS: list[str] = ["kvportal.kim.agent_endpoints:card_agent_routes"]
RouteHandler = Callable[[dict[str, Any], str], dict[str, Any]]


def load_routes(
    agent: SigningAgent, providers: Sequence[str], options: dict[str, Any] | None = None
) -> dict[str, RouteHandler]:
    """Import each provider by name and collect its routes (German error if one is missing)."""
    import importlib

    routes: dict[str, RouteHandler] = {}
    for name in providers:
        module_name, _, attr = name.partition(":")
        try:
            provider = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"Erweiterung „{name}“ des Agenten nicht gefunden.") from exc
        routes.update(provider(agent, dict(options or {})))
    return routes


class PartialBatch(Exception):
    """A batch failed after some parts were signed: those stay signed (TAB_KON_192)."""

    def __init__(self, signed: list[bytes], error: AgentError):
        super().__init__(error.message)
        self.signed = signed
        self.error = error


class PinProvider(Protocol):
    """Returns the PIN the holder enters for ``pin_name`` ("PIN.CH" or "PIN.QES")."""

    def __call__(self, pin_name: str, prompt: str) -> str: ...


class CardBackend(Protocol):
    """What the agent needs from a card (software card or PKCS#11 token).

    Implementations raise :class:`AgentError` with one of the codes in
    :attr:`AgentError.CODES` for card-side failures.
    """

    def describe(self) -> dict[str, Any]:
        """Public information: holder name, Telematik-ID, profession, PIN states."""
        ...

    def login_token(self, challenge: str, *, audience: str, pin_provider: PinProvider) -> str:
        """Sign ``challenge`` for ``audience`` (the portal origin) with the C.HP.AUT key."""
        ...

    def sign_pdfs(
        self, pdfs: Sequence[bytes], *, reason: str, pin_provider: PinProvider
    ) -> list[bytes]:
        """Sign all PDFs with the C.HP.QES key (incremental PAdES), one PIN per batch."""
        ...


def terminal_pin_provider(pin_name: str, prompt: str) -> str:
    """Ask for the PIN on the agent's own terminal (never in the browser)."""
    print(prompt, file=sys.stderr, flush=True)
    try:
        return getpass.getpass(f"{pin_name}: ")
    except (EOFError, KeyboardInterrupt) as exc:
        raise AgentError("cancelled", "Die PIN-Eingabe wurde abgebrochen.") from exc


def fixed_pin_provider(pin: str) -> PinProvider:
    """Test/demo mode: answer with a fixed PIN (``--test-pin`` / ``KVPORTAL_CARD_PIN``).

    ``"123456"`` is used for both PINs, ``"123456,654321"`` means PIN.CH, PIN.QES."""
    ch, _sep, qes = pin.partition(",")
    pins = {"PIN.CH": ch.strip(), "PIN.QES": (qes or ch).strip()}

    def provide(pin_name: str, prompt: str) -> str:
        return pins.get(pin_name, pins["PIN.CH"])

    return provide


def agent_address(url: str) -> tuple[str, int]:
    """Host and port the agent binds to, from ``EHBA_AGENT_URL``; only loopback allowed."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"Der Signatur-Agent darf nur auf 127.0.0.1 lauschen, nicht auf {host!r}.")
    return ("127.0.0.1" if host == "localhost" else host), parts.port or 8765


@dataclass
class AgentConfig:
    allowed_origins: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 8765
    max_body: int = MAX_BODY_BYTES


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, agent: SigningAgent):
        self.agent = agent
        super().__init__((agent.config.host, agent.config.port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = f"{AGENT_NAME}/{AGENT_VERSION}"
    sys_version = ""

    # -- plumbing ---------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:
        self.server.agent.log(f"{self.address_string()} {format % args}")

    def _origin(self) -> str | None:
        origin = self.headers.get("Origin")
        if not origin or origin == "null":
            return None
        try:
            return normalise_origin(origin)
        except ValueError:
            return "invalid"

    def _cors_headers(self, origin: str | None) -> None:
        if origin and origin in self.server.agent.config.allowed_origins:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Vary", "Origin")

    def _send_json(self, status: int, payload: dict[str, Any], origin: str | None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self._cors_headers(origin)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in LOCAL_HOSTS

    def _check_request(self, *, need_origin: bool) -> str | None:
        """Returns the allowed origin or raises AgentError (403) for anything else."""
        if not self._host_ok():
            raise AgentError(
                "forbidden_origin",
                "Der Signatur-Agent beantwortet nur Anfragen an 127.0.0.1.",
                status=HTTPStatus.FORBIDDEN,
            )
        origin = self._origin()
        allowed = self.server.agent.config.allowed_origins
        if origin is None and not need_origin:
            return None
        if origin not in allowed:
            raise AgentError(
                "forbidden_origin",
                "Diese Webseite darf den Signatur-Agenten nicht verwenden.",
                status=HTTPStatus.FORBIDDEN,
            )
        return origin

    def _read_json(self) -> dict[str, Any]:
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if length <= 0 or length > self.server.agent.config.max_body:
            raise AgentError(
                "bad_request", "Die Anfrage an den Signatur-Agenten ist leer oder zu groß."
            )
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise AgentError("bad_request", "Der Signatur-Agent erwartet JSON.")
        try:
            data = json.loads(self.rfile.read(length))
        except (ValueError, UnicodeDecodeError) as exc:
            raise AgentError("bad_request", "Die Anfrage enthält kein gültiges JSON.") from exc
        if not isinstance(data, dict):
            raise AgentError("bad_request", "Die Anfrage muss ein JSON-Objekt sein.")
        return data

    # -- verbs --------------------------------------------------------------------
    def do_OPTIONS(self) -> None:
        try:
            origin = self._check_request(need_origin=True)
        except AgentError as exc:
            self._send_json(exc.status, exc.as_json(), None)
            return
        self.send_response(HTTPStatus.NO_CONTENT)
        self._cors_headers(origin)
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        origin: str | None = None
        try:
            origin = self._check_request(need_origin=False)
            if urlsplit(self.path).path != "/status":
                raise AgentError("bad_request", "Unbekannter Pfad.", status=HTTPStatus.NOT_FOUND)
            self._send_json(HTTPStatus.OK, self.server.agent.status(), origin)
        except AgentError as exc:
            self._send_json(exc.status, exc.as_json(), origin)

    def do_POST(self) -> None:
        origin: str | None = None
        try:
            origin = self._check_request(need_origin=True)
            path = urlsplit(self.path).path
            if path == "/login":
                result = self.server.agent.handle_login(self._read_json(), origin=origin or "")
            elif path == "/sign":
                result = self.server.agent.handle_sign(self._read_json(), origin=origin or "")
            elif path in self.server.agent.routes:
                result = self.server.agent.handle_route(
                    path, self._read_json(), origin=origin or ""
                )
            else:
                raise AgentError("bad_request", "Unbekannter Pfad.", status=HTTPStatus.NOT_FOUND)
            self._send_json(HTTPStatus.OK, result, origin)
        except AgentError as exc:
            self._send_json(exc.status, exc.as_json(), origin)
        except Exception as exc:  # the browser gets a German message, the terminal the details
            self.server.agent.log(f"Interner Fehler: {exc!r}")
            err = AgentError(
                "internal",
                "Interner Fehler im Signatur-Agenten.",
                status=HTTPStatus.INTERNAL_SERVER_ERROR,
            )
            self._send_json(err.status, err.as_json(), origin)


class SigningAgent:
    """The agent: one card, one PIN source, one lock (the card does one thing at a time)."""

    def __init__(
        self,
        backend: CardBackend,
        *,
        allowed_origins: Sequence[str],
        pin_provider: PinProvider = terminal_pin_provider,
        host: str = "127.0.0.1",
        port: int = 8765,
        log: Callable[[str], None] | None = None,
        routes: dict[str, RouteHandler] | None = None,
    ):
        if host not in ("127.0.0.1", "::1"):
            raise ValueError("Der Signatur-Agent darf nur auf 127.0.0.1 lauschen.")
        origins = tuple(normalise_origin(o) for o in allowed_origins)
        if not origins:
            raise ValueError("Mindestens ein Portal-Ursprung (--origin) ist anzugeben.")
        self.backend = backend
        self.pin_provider = pin_provider
        self.config = AgentConfig(allowed_origins=origins, host=host, port=port)
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._card_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.routes: dict[str, RouteHandler] = dict(routes or {})
        #: plug-ins stop what they started (e.g. the KIM client module's listeners)
        self.on_shutdown: list[Callable[[], None]] = []

    def handle_route(self, path: str, data: dict[str, Any], *, origin: str) -> dict[str, Any]:
        with self._card_lock:
            return self.routes[path](data, origin)

    # -- operations (also usable without HTTP) -----------------------------------------
    def log(self, line: str) -> None:
        self._log(line)

    def status(self) -> dict[str, Any]:
        try:
            card = self.backend.describe()
        except AgentError as exc:
            card = {"error": exc.code, "message": exc.message}
        return {"agent": AGENT_NAME, "version": AGENT_VERSION, "card": card}

    def handle_login(self, data: dict[str, Any], *, origin: str) -> dict[str, Any]:
        challenge = data.get("challenge")
        if not isinstance(challenge, str) or not challenge or len(challenge) > 4096:
            raise AgentError("bad_request", "Es fehlt die Anmeldeanfrage (challenge).")
        prompt = f"Anmeldung an {origin}: Bitte geben Sie die PIN.CH Ihres eHBA ein."
        with self._card_lock:
            token = self.backend.login_token(
                challenge, audience=origin, pin_provider=self._pin(prompt)
            )
        self.log(f"Anmeldung an {origin} signiert.")
        return {"token": token}

    def handle_sign(self, data: dict[str, Any], *, origin: str) -> dict[str, Any]:
        docs = data.get("documents")
        if not isinstance(docs, list) or not docs:
            raise AgentError("bad_request", "Es wurden keine Dokumente zum Signieren übergeben.")
        ids: list[str] = []
        names: list[str] = []
        pdfs: list[bytes] = []
        for number, doc in enumerate(docs, start=1):
            if not isinstance(doc, dict):
                raise AgentError("bad_request", f"Dokument {number}: ungültiger Eintrag.")
            try:
                pdf = base64.b64decode(str(doc.get("pdf", "")), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise AgentError(
                    "bad_request", f"Dokument {number}: PDF ist nicht Base64-kodiert."
                ) from exc
            if not pdf.startswith(b"%PDF-"):
                raise AgentError("bad_request", f"Dokument {number}: keine PDF-Datei.")
            ids.append(str(doc.get("id", number)))
            names.append(str(doc.get("name", f"Dokument {number}"))[:200])
            pdfs.append(pdf)
        reason = str(data.get("reason") or "Qualifizierte elektronische Signatur")[:200]
        listing = "\n".join(f"  - {name}" for name in names)
        prompt = (
            f"{origin} möchte {len(pdfs)} Dokument(e) qualifiziert signieren:\n{listing}\n"
            "Bitte geben Sie die PIN.QES Ihres eHBA ein."
        )
        partial: PartialBatch | None = None
        with self._card_lock:
            try:
                signed = self.backend.sign_pdfs(pdfs, reason=reason, pin_provider=self._pin(prompt))
            except PartialBatch as exc:
                partial, signed = exc, exc.signed
        self.log(f"{len(signed)} von {len(pdfs)} Dokument(en) für {origin} signiert.")
        answer: dict[str, Any] = {
            "documents": [
                {"id": doc_id, "pdf": base64.b64encode(pdf).decode("ascii")}
                for doc_id, pdf in zip(ids, signed, strict=False)
            ]
        }
        if partial is not None:
            answer.update(partial.error.as_json())
            answer["failed_at"] = len(signed)
        return answer

    def _pin(self, title: str) -> PinProvider:
        base = self.pin_provider

        def provide(pin_name: str, prompt: str = "") -> str:
            return base(pin_name, f"{title}\n{prompt}".rstrip())

        return provide

    # -- server ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._server is None:
            return f"http://{self.config.host}:{self.config.port}"
        host, port = self._server.server_address[:2]
        if isinstance(host, bytes):  # typeshed allows bytes (AF_UNIX); ours is an IP socket
            host = host.decode()
        return f"http://{host}:{port}"

    def bind(self) -> None:
        if self._server is None:
            self._server = _Server(self)
            self.config.port = self._server.server_address[1]

    def serve_forever(self) -> None:
        self.bind()
        assert self._server is not None
        self.log(
            f"Signatur-Agent bereit auf {self.url} für {', '.join(self.config.allowed_origins)}"
        )
        self._server.serve_forever(poll_interval=0.2)

    def start(self) -> str:
        """Serve in a daemon thread (tests, demo); returns the agent URL."""
        self.bind()
        self._thread = threading.Thread(target=self.serve_forever, name=AGENT_NAME, daemon=True)
        self._thread.start()
        return self.url

    def shutdown(self) -> None:
        while self.on_shutdown:
            self.on_shutdown.pop()()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


# --- the software card / PKCS#11 token behind the agent ------------------------------------------


def card_error_to_agent(exc: Exception) -> AgentError:
    """Translate the card's exceptions (kvportal.cardlib.softcard) into agent error codes."""
    code = getattr(exc, "code", "")
    message = getattr(exc, "message_de", None) or str(exc) or "Kartenfehler."
    mapping = {
        "transport_pin_active": "transport_pin",
        "wrong_pin": "pin_wrong",
        "wrong_transport_pin": "pin_wrong",
        "pin_blocked": "pin_blocked",
        "card_unusable": "card_unusable",
        "puk_blocked": "card_unusable",
        "card_revoked": "card_unusable",
        "card_expired": "card_unusable",
        "card_not_yet_valid": "card_unusable",
        "card_not_found": "no_card",
        "pin_cancelled": "cancelled",
        "not_a_pdf": "bad_request",
        "batch_limit": "batch_failed",
    }
    extra: dict[str, Any] = {}
    if hasattr(exc, "remaining"):
        extra["tries_left"] = exc.remaining
    return AgentError(mapping.get(code, "internal"), message, extra=extra)


class SoftCardBackend:
    """The agent's card: a software eHBA from ``kvportal card issue`` (found per request, so a
    follow-up card inserted while the agent runs is used at once).

    Like a real card, it signs even when its certificates are revoked or expired
    (``enforce_validity=False``): refusing those is the portal's job."""

    def __init__(self, ref: str | None = None, *, directory: Any = None):
        self.ref = ref
        self.directory = directory

    def card(self):
        from kvportal.cardlib import softcard

        try:
            if self.ref:
                return softcard.SoftCard.find(
                    self.ref, directory=self.directory, enforce_validity=False
                )
            cards = softcard.SoftCard.list(self.directory)
        except softcard.CardError as exc:
            raise card_error_to_agent(exc) from exc
        if not cards:
            raise AgentError("no_card", "Es ist kein eHBA vorhanden (kvportal card issue …).")
        card = cards[-1]
        card.enforce_validity = False
        return card

    def describe(self) -> dict[str, Any]:
        card = self.card()
        status = card.status()
        return {
            "holder": f"{card.given_name} {card.surname}",
            "telematik_id": card.telematik_id,
            "profession": str(card.profession),
            "card_id": card.card_id,
            "state": status.state,
            "pins": {str(k): v.status for k, v in status.pins.items()},
        }

    def login_token(self, challenge: str, *, audience: str, pin_provider: PinProvider) -> str:
        from kvportal.cardlib import softcard, tokens

        card = self.card()
        pin = pin_provider("PIN.CH", f"Karte {card.card_id} ({card.given_name} {card.surname})")
        try:
            return tokens.sign_login_challenge(card, pin, challenge, audience)
        except softcard.CardError as exc:
            raise card_error_to_agent(exc) from exc

    def sign_pdfs(
        self, pdfs: Sequence[bytes], *, reason: str, pin_provider: PinProvider
    ) -> list[bytes]:
        return sign_with_token(self.card(), pdfs, reason=reason, pin_provider=pin_provider)


def sign_with_token(
    token: Any, pdfs: Sequence[bytes], *, reason: str, pin_provider: PinProvider
) -> list[bytes]:
    """Batch PAdES with any QES token (software card, PKCS#11): one PIN per part of
    ``token.batch_size``; parts signed before a failure are kept (PartialBatch)."""
    from kvportal.cardlib import signing

    parts = signing.split_parts(len(pdfs), token.batch_size)

    def ask_pin(part_index: int) -> str:
        detail = f"Teil {part_index + 1} von {len(parts)}" if len(parts) > 1 else ""
        try:
            return pin_provider("PIN.QES", detail)
        except AgentError as exc:
            raise signing.PinEntryCancelled(exc.message) from exc

    result = signing.sign_pdfs(token, list(pdfs), ask_pin=ask_pin, reason=reason)
    if result.error is not None:
        error = card_error_to_agent(result.error)
        if result.signed:
            raise PartialBatch(list(result.signed), error)
        raise error
    return list(result.signed)


class Pkcs11Backend:
    """QES signatures with the key on a PKCS#11 token (a card's PKCS#11 middleware; SoftHSM2
    in tests). Login (C.HP.AUT) goes through ``login_backend`` when one is given."""

    def __init__(self, token: Any, *, login_backend: CardBackend | None = None):
        self.token = token
        self.login_backend = login_backend

    def describe(self) -> dict[str, Any]:
        from kvportal.cardlib import certs, softcard

        try:
            profile = certs.parse_card_certificate(self.token.qes_certificate)
        except softcard.CardError as exc:
            raise card_error_to_agent(exc) from exc
        return {
            "holder": f"{profile.given_name} {profile.surname}",
            "telematik_id": profile.telematik_id or "",
            "profession": str(profile.profession or ""),
            "pkcs11": True,
            "login": self.login_backend is not None,
        }

    def login_token(self, challenge: str, *, audience: str, pin_provider: PinProvider) -> str:
        if self.login_backend is None:
            raise AgentError(
                "no_card",
                "Mit diesem PKCS#11-Token ist nur die Signatur möglich, keine Anmeldung.",
            )
        return self.login_backend.login_token(
            challenge, audience=audience, pin_provider=pin_provider
        )

    def sign_pdfs(
        self, pdfs: Sequence[bytes], *, reason: str, pin_provider: PinProvider
    ) -> list[bytes]:
        return sign_with_token(self.token, pdfs, reason=reason, pin_provider=pin_provider)


def _configure_cli(parser: Any) -> None:
    parser.add_argument(
        "--url",
        default=None,
        help="Adresse des Agenten (Standard: EHBA_AGENT_URL bzw. http://127.0.0.1:8765)",
    )
    parser.add_argument(
        "--origin",
        action="append",
        default=None,
        help="Portal-Ursprung, der den Agenten nutzen darf (mehrfach möglich; "
        "Standard: KVPORTAL_URL bzw. http://127.0.0.1:8000)",
    )
    parser.add_argument(
        "--card", default=None, help="Karten-ID oder LANR (Standard: neueste Karte)"
    )
    parser.add_argument(
        "--pkcs11-lib",
        default=None,
        help="QES-Signatur über dieses PKCS#11-Modul (z. B. /usr/lib/softhsm/libsofthsm2.so)",
    )
    parser.add_argument("--pkcs11-token", default="eHBA", help="Token-Bezeichnung (PKCS#11)")
    parser.add_argument("--pkcs11-key", default="QES", help="Schlüssel-/Zertifikatsbezeichnung")
    parser.add_argument(
        "--kim",
        action="store_true",
        help="auch die KIM-Endpunkte des Web-Postfachs (/kim/open, /kim/compose) mit dieser "
        "Karte bedienen (eHBA mit RSA-Schlüsseln)",
    )
    parser.add_argument(
        "--kim-trust",
        action="append",
        default=[],
        help="Vertrauensanker (PEM) für die Absender von KIM-Nachrichten, z. B. die SMC-B-CA",
    )
    parser.add_argument(
        "--kim-client",
        default=None,
        help="KIM-Clientmodul (SMTPS/POP3S auf 127.0.0.1) mit dieser Karte: JSON-Datei mit "
        "den Angaben von „kvportal kim client“ (docs/kim.md)",
    )
    parser.add_argument(
        "--test-pin",
        default=None,
        help="NUR Test/Demo: PIN automatisch verwenden, PIN.CH[,PIN.QES] (auch KVPORTAL_CARD_PIN)",
    )


def _default(env: str, fallback: str) -> str:
    """``$env`` or ``fallback``. The portal's ``kvportal card`` management command puts its
    settings (``EHBA_AGENT_URL``, ``PORTAL_URL``) into these variables: this module stays
    Django-free."""
    import os

    return os.environ.get(env) or fallback


def _ctx_pin_provider(ctx: Any) -> PinProvider:
    ask = getattr(ctx, "getpass", None)
    if ask is None:
        return terminal_pin_provider

    def provide(pin_name: str, prompt: str) -> str:
        print(prompt, file=sys.stderr, flush=True)
        try:
            return ask(f"{pin_name}: ")
        except (EOFError, KeyboardInterrupt) as exc:
            raise AgentError("cancelled", "Die PIN-Eingabe wurde abgebrochen.") from exc

    return provide


def run_cli(args: Any, ctx: Any) -> int:
    """``kvportal card agent``: serve until Ctrl+C."""
    import os

    url = args.url or _default("KVPORTAL_EHBA_AGENT_URL", DEFAULT_AGENT_URL)
    origins = args.origin or [_default("KVPORTAL_URL", "http://127.0.0.1:8000")]
    try:
        host, port = agent_address(url)
        test_pin = args.test_pin or os.environ.get("KVPORTAL_CARD_PIN")
        backend: CardBackend = SoftCardBackend(args.card, directory=getattr(ctx, "directory", None))
        if getattr(args, "pkcs11_lib", None):
            from kvportal.cardlib.pkcs11 import Pkcs11Token

            test_pki = ctx.pki()
            backend = Pkcs11Backend(
                Pkcs11Token(
                    args.pkcs11_lib,
                    args.pkcs11_token,
                    key_label=args.pkcs11_key,
                    ca_chain=[test_pki.qes_ca_cert, test_pki.root_cert],
                ),
                login_backend=backend if args.card else None,
            )
        agent = SigningAgent(
            backend,
            allowed_origins=origins,
            pin_provider=fixed_pin_provider(test_pin) if test_pin else _ctx_pin_provider(ctx),
            host=host,
            port=port,
            log=lambda line: print(
                line, file=getattr(ctx, "stdout", None) or sys.stderr, flush=True
            ),
        )
        if getattr(args, "kim", False) or getattr(args, "kim_client", None):
            options = {"trust": list(args.kim_trust or []), "client": args.kim_client}
            agent.routes.update(load_routes(agent, ROUTE_PROVIDERS, options))
    except ValueError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 2
    if test_pin:
        print("WARNUNG: Testmodus – die PIN wird automatisch eingegeben.", file=sys.stderr)
    try:
        agent.serve_forever()
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"Fehler: Port {port} nicht verfügbar ({exc}).", file=sys.stderr)
        return 1
    finally:
        agent.shutdown()
    return 0


def _register() -> None:
    try:
        from kvportal.cardlib import cli
    except ImportError:  # the card library is not there (yet)
        return
    register = getattr(cli, "register_subcommand", None)
    if register is not None:
        register(
            "agent",
            help="lokalen Signatur-Agenten starten (Anmeldung und Signatur im Browser)",
            configure=_configure_cli,
            handler=run_cli,
        )


_register()

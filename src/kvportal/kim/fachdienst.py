"""KIM Fachdienst mail servers: SMTP submission (aiosmtpd) and POP3 (RFC 1939/2449) (no Django).

# Security rule (gemSpec_FD_KOMLE): accept only KOM-LE messages (AuthEnvelopedData) from
# authenticated accounts, sender = authenticated account, only over TLS; store ciphertext per
# recipient within the account limits (AccountLimit.yaml), never hold a private key.

The accounts come from an `AccountSource` (protocol below): `InMemoryAccountSource` /
`FileAccountSource` here for tests and the CLI, a Django-backed one in the portal part.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import hmac
import itertools
import logging
import os
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult

from . import dsn, komle, mail

log = logging.getLogger(__name__)

UNLIMITED = -1
DEFAULT_MAX_MAIL_SIZE = 734_003_200  # AccountLimit.yaml maxMailSize minimum (700 MiB)
DEFAULT_DATA_TIME_TO_LIVE = 90  # days; AccountLimit.yaml allows 10..365
KAS_THRESHOLD = 15 * 1024 * 1024  # KIM 1.5: larger mails go through the attachment service
POP3_IDLE_TIMEOUT = 600  # RFC 1939: autologout timer of at least 10 minutes
#: KOM-LE version of this Fachdienst and its client module (X-KOM-LE-Version, VZD komLeData)
KOMLE_VERSION = "1.5"
#: A_19356-04: a KOM-LE 1.0 client module (Konnektor limit) takes mails up to 25 MB only
KOMLE_10_MAX_SIZE = 25 * 1024 * 1024


# --- accounts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountLimits:
    """AccountLimit.yaml: maxMailSize (bytes), quota (bytes, -1 unlimited), dataTimeToLive."""

    max_mail_size: int = DEFAULT_MAX_MAIL_SIZE
    quota: int = UNLIMITED
    data_time_to_live: int = DEFAULT_DATA_TIME_TO_LIVE


@dataclass(frozen=True)
class Account:
    address: str  # KIM address, lower case
    limits: AccountLimits = field(default_factory=AccountLimits)
    active: bool = True  # False: deregistered or blocked – no login, no delivery
    kim_version: str = KOMLE_VERSION  # the account's KOM-LE version (VZD komLeData)


def version_key(version: str | None) -> tuple[int, ...]:
    """ "1.5" → (1, 5); undefined or unreadable counts as 1.0 (A_19356-04)."""
    try:
        return tuple(int(p) for p in (version or "1.0").strip().split("."))
    except ValueError:
        return (1, 0)


def version_refusal(account: Account, size: int):
    """A_19356-04 (gemSpec_CM_KOMLE): a mail over 25 MB cannot go to a KOM-LE 1.0 recipient;
    the recipient is removed with 4001. None if the mail may go to `account`."""
    from . import dsn

    if size > KOMLE_10_MAX_SIZE and version_key(account.kim_version) < (1, 5):
        return dsn.RecipientFailure(
            account.address, "5.3.4",
            f"550 {dsn.TEXTS[dsn.WRONG_KIM_VERSION]} (KOM-LE {account.kim_version or '1.0'}, "
            f"Nachricht über 25 MB)",
            kim_code=dsn.WRONG_KIM_VERSION,
        )  # fmt: skip
    return None


@runtime_checkable
class AccountSource(Protocol):
    """Where the servers find accounts. Synchronous; called from worker threads."""

    def lookup(self, address: str) -> Account | None:
        """The account for a KIM address (case-insensitive), or None if there is none."""

    def check_password(self, address: str, password: str) -> bool:
        """True only if the account exists, is active and the password is right."""


def verify_password(stored: str, given: str) -> bool:
    """Constant-time check of a plain or Django `pbkdf2_sha256$iter$salt$hash` password."""
    if stored.startswith("pbkdf2_sha256$"):
        try:
            _alg, iterations, salt, expected = stored.split("$", 3)
            derived = hashlib.pbkdf2_hmac("sha256", given.encode(), salt.encode(), int(iterations))
        except ValueError:
            return False
        return hmac.compare_digest(base64.b64encode(derived).decode(), expected)
    return hmac.compare_digest(stored.encode(), given.encode())


class InMemoryAccountSource:
    """Accounts in a dict: address → password, (password, AccountLimits) or
    (password, AccountLimits, KOM-LE version)."""

    def __init__(self, accounts: Mapping[str, str | tuple]):
        self._accounts: dict[str, tuple[str, Account]] = {}
        for address, value in accounts.items():
            password, limits, *version = (
                (value, AccountLimits()) if isinstance(value, str) else value
            )
            key = address.strip().lower()
            account = Account(
                address=key, limits=limits, kim_version=version[0] if version else KOMLE_VERSION
            )
            self._accounts[key] = (password, account)

    def lookup(self, address: str) -> Account | None:
        entry = self._accounts.get(address.strip().lower())
        return entry[1] if entry else None

    def check_password(self, address: str, password: str) -> bool:
        entry = self._accounts.get(address.strip().lower())
        if entry is None:
            verify_password("x" * 16, password)  # same work for unknown accounts
            return False
        return entry[1].active and verify_password(entry[0], password)

    def addresses(self) -> list[str]:
        return sorted(self._accounts)


class AccountFileError(ValueError):
    """The account file is unreadable or malformed; the message is German."""


_LIMIT_KEYS = {"max_mail_size": "max_mail_size", "quota": "quota", "ttl": "data_time_to_live"}


class FileAccountSource(InMemoryAccountSource):
    """Text file: `adresse passwort [max_mail_size=N] [quota=N] [ttl=TAGE] [version=1.0|1.5]`
    per line."""

    @classmethod
    def load(cls, path: str | Path) -> FileAccountSource:
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise AccountFileError(
                f"Kontendatei „{path}“ ist nicht lesbar ({exc.strerror})."
            ) from exc
        accounts: dict[str, tuple[str, AccountLimits, str]] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split()
            where = f"Kontendatei „{path}“, Zeile {number}"
            if len(parts) < 2 or "@" not in parts[0]:
                raise AccountFileError(f"{where}: erwartet „adresse passwort [grenze=wert …]“.")
            values: dict[str, int] = {}
            version = KOMLE_VERSION
            for option in parts[2:]:
                name, _, raw = option.partition("=")
                if name == "version" and raw in ("1.0", "1.5"):
                    version = raw
                    continue
                if name not in _LIMIT_KEYS or not raw.lstrip("-").isdigit():
                    raise AccountFileError(
                        f"{where}: „{option}“ ist keine Grenze (erlaubt: max_mail_size=BYTE, "
                        "quota=BYTE oder -1, ttl=TAGE, version=1.0|1.5)."
                    )
                values[_LIMIT_KEYS[name]] = int(raw)
            if values.get("data_time_to_live", 90) < 1:
                raise AccountFileError(f"{where}: ttl muss mindestens 1 Tag sein.")
            accounts[parts[0].lower()] = (parts[1], AccountLimits(**values), version)
        if not accounts:
            raise AccountFileError(f"Kontendatei „{path}“ enthält kein Konto.")
        return cls(accounts)


# --- store ------------------------------------------------------------------------------


def is_komle_message(data: bytes) -> bool:
    """True if `data` is a KOM-LE mail: pkcs7-mime authenticated-enveloped-data, DER inside."""
    try:
        part = mail.split(data)
        if part.content_type != "application/pkcs7-mime":
            return False
        smime_type = part.headers.get_param("smime-type")
        if not isinstance(smime_type, str) or smime_type.lower() != "authenticated-enveloped-data":
            return False
        return komle.content_type(mail.decoded_body(part)) == "authenticated_enveloped_data"
    except komle.KomleError:
        return False


@dataclass(frozen=True)
class StoredMessage:
    uid: str  # file name in the Maildir, unique and stable (POP3 UIDL)
    path: Path
    size: int  # octets as POP3 sends them (stored with CRLF)
    arrived: dt.datetime

    def read(self) -> bytes:
        return self.path.read_bytes()


class MailStore:
    """One Maildir (tmp/new/cur) per account under `root`; holds only ciphertext and reports.

    The file's mtime is the arrival time, which the dataTimeToLive purge uses; the layout is
    what Dovecot reads, so a store can be handed over to it.
    """

    _counter = itertools.count()

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._locked: set[str] = set()

    def _dir(self, account: str) -> Path:
        name = account.strip().lower()
        if not name or "/" in name or name.startswith(".") or "\x00" in name:
            raise ValueError("invalid account name")
        folder = self.root / name
        for sub in ("tmp", "new", "cur"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return folder

    def deliver(self, account: str, data: bytes, *, now: dt.datetime | None = None) -> str:
        """Store `data` (line ends made CRLF) atomically; returns its unique id."""
        folder = self._dir(account)
        when = now or dt.datetime.now(dt.UTC)
        stamp = when.timestamp()
        uid = (
            f"{int(stamp)}.M{int(stamp % 1 * 1e6)}P{os.getpid()}Q{next(self._counter)}."
            f"{socket.gethostname().replace('/', '_').replace(':', '_')[:20]}"
        )
        tmp = folder / "tmp" / uid
        tmp.write_bytes(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        os.utime(tmp, (stamp, stamp))
        os.replace(tmp, folder / "new" / uid)
        return uid

    def messages(self, account: str) -> list[StoredMessage]:
        folder = self._dir(account)
        found = []
        for sub in ("new", "cur"):
            for path in (folder / sub).iterdir():
                try:
                    info = path.stat()
                except FileNotFoundError:
                    continue
                found.append(
                    StoredMessage(
                        uid=path.name.split(":", 1)[0],
                        path=path,
                        size=info.st_size,
                        arrived=dt.datetime.fromtimestamp(info.st_mtime, dt.UTC),
                    )
                )
        return sorted(found, key=lambda m: (m.arrived, m.uid))

    def used(self, account: str) -> int:
        return sum(m.size for m in self.messages(account))

    def remove(self, message: StoredMessage) -> None:
        message.path.unlink(missing_ok=True)

    def purge_expired(self, account: str, ttl_days: int, *, now: dt.datetime | None = None) -> int:
        """Delete messages older than dataTimeToLive days; returns how many."""
        limit = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=ttl_days)
        expired = [m for m in self.messages(account) if m.arrived < limit]
        for message in expired:
            self.remove(message)
        return len(expired)

    def purge_all(self, source: AccountSource, *, now: dt.datetime | None = None) -> int:
        """Purge every mailbox by its account's dataTimeToLive (unknown accounts: default)."""
        total = 0
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            account = source.lookup(folder.name)
            ttl = account.limits.data_time_to_live if account else DEFAULT_DATA_TIME_TO_LIVE
            total += self.purge_expired(folder.name, ttl, now=now)
        return total

    def lock(self, account: str) -> bool:
        """RFC 1939: one POP3 session per maildrop at a time."""
        key = account.lower()
        if key in self._locked:
            return False
        self._locked.add(key)
        return True

    def unlock(self, account: str) -> None:
        self._locked.discard(account.lower())


# --- SMTP submission --------------------------------------------------------------------


class _SourceError(Exception):
    pass


async def _call(func: Callable, *args):
    """Run an AccountSource method in a worker thread (Django ORM safe)."""
    try:
        return await asyncio.to_thread(func, *args)
    except Exception as exc:
        log.exception("account source failed")
        raise _SourceError from exc


def _size_param(options: list[str]) -> int | None:
    for option in options:
        name, _, value = option.partition("=")
        if name.upper() == "SIZE" and value.isdigit():
            return int(value)
    return None


class SmtpAuthHandler:
    """AUTH PLAIN/LOGIN decoding shared by the Fachdienst and the client module's SMTP side.

    Subclasses implement ``_login(server, login, password)``; ``_login_plain`` may also check
    the PLAIN authzid.
    """

    async def _login(self, server, login: bytes, password: bytes) -> AuthResult:
        raise NotImplementedError

    async def _login_plain(
        self, server, authzid: bytes, login: bytes, password: bytes
    ) -> AuthResult:
        return await self._login(server, login, password)

    async def auth_PLAIN(self, server, args):
        if len(args) == 1:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = base64.b64decode(args[1].encode(), validate=True)
            except binascii.Error:
                await server.push("501 5.5.2 Base64 nicht lesbar")
                return AuthResult(success=False, handled=True)
        parts = blob.split(b"\x00")
        if len(parts) != 3:
            await server.push("501 5.5.2 PLAIN erwartet authzid NUL authcid NUL passwd")
            return AuthResult(success=False, handled=True)
        authzid, login, password = parts
        return await self._login_plain(server, authzid, login, password)

    async def auth_LOGIN(self, server, args):
        if len(args) == 1:
            login = await server.challenge_auth("Username:")
            if login is MISSING:
                return AuthResult(success=False, handled=True)
        else:
            try:
                login = base64.b64decode(args[1].encode(), validate=True)
            except binascii.Error:
                await server.push("501 5.5.2 Base64 nicht lesbar")
                return AuthResult(success=False, handled=True)
        password = await server.challenge_auth("Password:")
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        return await self._login(server, login, password)


class _SmtpHandler(SmtpAuthHandler):
    """Submission: sender = authenticated account, only KOM-LE, per-account limits."""

    check_login = True  # the Postfix filter leaves the sender/login check to Postfix
    #: kim.relay.PeerProviders: recipients of other KIM providers' domains go out over SMTP
    relay: Any = None

    def __init__(self, store: MailStore | None, source: AccountSource, *, hostname: str):
        self.store = store
        self.source = source
        self.hostname = hostname

    async def _login(self, server, login: bytes, password: bytes) -> AuthResult:
        user = login.decode("utf-8", "replace").strip().lower()
        try:
            ok = await _call(self.source.check_password, user, password.decode("utf-8", "replace"))
        except _SourceError:
            return AuthResult(
                success=False, handled=False, message="454 4.7.0 Anmeldung vorübergehend gestört"
            )
        if ok:
            return AuthResult(success=True, auth_data=user)
        return AuthResult(
            success=False, handled=False, message="535 5.7.8 Anmeldung fehlgeschlagen"
        )

    async def _login_plain(
        self, server, authzid: bytes, login: bytes, password: bytes
    ) -> AuthResult:
        if authzid and authzid.lower() != login.lower():
            return AuthResult(
                success=False, handled=False, message="535 5.7.8 Fremde Identität nicht erlaubt"
            )
        return await self._login(server, login, password)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        account = str(session.auth_data or "").lower() if self.check_login else address.lower()
        if address.lower() != account:
            return "553 5.7.1 Absender muss das angemeldete KIM-Konto sein"
        try:
            sender = await _call(self.source.lookup, account)
        except _SourceError:
            return "451 4.3.0 Kontenverzeichnis vorübergehend nicht erreichbar"
        if sender is None or not sender.active:
            return "553 5.7.1 Absenderkonto ist nicht aktiv"
        size = _size_param(mail_options)
        if size is not None and size > sender.limits.max_mail_size:
            return (
                f"552 5.3.4 Nachricht zu groß (höchstens {sender.limits.max_mail_size} Byte "
                "für Ihr Konto)"
            )
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        try:
            account = await _call(self.source.lookup, address)
        except _SourceError:
            return "451 4.3.0 Kontenverzeichnis vorübergehend nicht erreichbar"
        if account is None and self.relay is not None and self.relay.peer_for(address):
            envelope.rcpt_tos.append(address)  # another provider's account (relayed at DATA)
            return "250 2.1.5 OK (wird an den KIM-Anbieter weitergeleitet)"
        if account is None or not account.active:
            return "550 5.1.1 Empfänger unbekannt"
        size = _size_param(envelope.mail_options)
        if size is not None and size > account.limits.max_mail_size:
            return "552 5.3.4 Nachricht größer als beim Empfänger erlaubt"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or b""
        try:
            sender = await _call(self.source.lookup, envelope.mail_from)
        except _SourceError:
            return "451 4.3.0 Kontenverzeichnis vorübergehend nicht erreichbar"
        if sender is None or not sender.active:
            return "553 5.7.1 Absenderkonto ist nicht aktiv"
        if len(data) > sender.limits.max_mail_size:
            return (
                f"552 5.3.4 Nachricht zu groß (höchstens {sender.limits.max_mail_size} Byte "
                "für Ihr Konto)"
            )
        own_report = {r.lower() for r in envelope.rcpt_tos} == {envelope.mail_from.lower()} and (
            dsn.is_error_report(data)
        )  # gemSpec_CM_KOMLE: the CM returns send errors to the sender through the Fachdienst
        if not own_report and not await asyncio.to_thread(is_komle_message, data):
            return "554 5.6.0 Nur KOM-LE-Nachrichten (AuthEnvelopedData) werden angenommen"
        return await asyncio.to_thread(self._deliver, envelope.mail_from, envelope.rcpt_tos, data)

    def _deliver(self, sender: str, rcpts: list[str], data: bytes) -> str:
        failures: list[dsn.RecipientFailure] = []
        delivered = 0
        remote: list[str] = []
        store = self.store
        if store is None:
            raise RuntimeError("Fachdienst ohne Mailspeicher")
        for rcpt in dict.fromkeys(r.lower() for r in rcpts):
            account = self.source.lookup(rcpt)
            if account is None and self.relay is not None and self.relay.peer_for(rcpt):
                remote.append(rcpt)
                continue
            if account is None or not account.active:
                failures.append(dsn.RecipientFailure(rcpt, "5.1.1", "550 Empfänger unbekannt"))
                continue
            limits = account.limits
            if (refusal := version_refusal(account, len(data))) is not None:
                failures.append(refusal)
                continue
            if len(data) > limits.max_mail_size:
                failures.append(
                    dsn.RecipientFailure(
                        rcpt,
                        "5.3.4",
                        f"552 Nachricht größer als beim Empfänger erlaubt "
                        f"({limits.max_mail_size} Byte)",
                        kim_code=dsn.SIZE_OVER_LIMIT,
                    )
                )
                continue
            if limits.quota != UNLIMITED and store.used(rcpt) + len(data) > limits.quota:
                failures.append(
                    dsn.RecipientFailure(
                        rcpt, "5.2.2", "552 Postfach des Empfängers ist voll (Quota erreicht)"
                    )
                )
                continue
            store.deliver(rcpt, data)
            delivered += 1
        if remote:
            relay_failures = self.relay.send(sender, remote, data)
            failures += relay_failures
            delivered += len(remote) - len(relay_failures)
        if not delivered:
            reasons = "; ".join(f"{f.address}: {f.diagnostic}" for f in failures)
            status = failures[0].status if len(failures) == 1 else "5.2.0"
            return f"552 {status} Für keinen Empfänger zustellbar ({reasons})"
        if failures:
            report = dsn.delivery_report(
                reporting_mta=self.hostname, sender=sender, original=data, failures=failures
            )
            store.deliver(sender, report)
        return f"250 2.0.0 Zugestellt an {delivered} Empfänger"


class _ImplicitTlsSMTP(SMTP):
    """SMTP on an implicit-TLS port: TLS counts as active from the start (AUTH allowed)."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        if transport.get_extra_info("ssl_object") is not None:
            self._tls_protocol = transport  # aiosmtpd's "TLS is on" marker


class ImplicitTlsController(Controller):
    """aiosmtpd Controller for SMTPS (465): AUTH requires TLS, which the port always has."""

    def factory(self):
        return _ImplicitTlsSMTP(self.handler, **self.SMTP_kwargs)


def smtp_controller(
    store: MailStore,
    *,
    source: AccountSource,
    tls: ssl.SSLContext,
    host: str = "127.0.0.1",
    port: int = 0,
    implicit_tls: bool = False,
    max_size: int = DEFAULT_MAX_MAIL_SIZE,
    hostname: str = "kim-fachdienst.localhost",
    relay=None,
) -> Controller:
    """Submission server: STARTTLS (587) or implicit TLS (465), then SASL PLAIN/LOGIN.
    `relay` (kim.relay.PeerProviders): mail for other providers' domains goes out there.

    `max_size` is the server-wide cap (SIZE in EHLO); each account's own maxMailSize is
    checked on top of it.
    """
    common: dict[str, Any] = dict(
        hostname=host,
        port=port,
        server_hostname=hostname,
        authenticator=None,
        auth_required=True,
        data_size_limit=max_size,
        ident="KIM-Fachdienst ESMTP",
    )
    handler = _SmtpHandler(store, source, hostname=hostname)
    handler.relay = relay
    if implicit_tls:
        return ImplicitTlsController(handler, ssl_context=tls, auth_require_tls=True, **common)
    return Controller(
        handler, tls_context=tls, require_starttls=True, auth_require_tls=True, **common
    )


# --- POP3 -------------------------------------------------------------------------------


class Pop3Message(Protocol):
    @property
    def uid(self) -> str: ...

    @property
    def size(self) -> int: ...

    def read(self) -> bytes: ...


class LoginRefused(Exception):
    """POP3 login refused; str() is the full `-ERR [CODE] Text` line."""


class Pop3Backend(Protocol):
    """What a POP3 session serves: the Fachdienst store, or the client module's proxy."""

    @property
    def tls(self) -> ssl.SSLContext: ...

    @property
    def idle_timeout(self) -> float: ...

    async def open_mailbox(self, user: str, password: str) -> tuple[str, list[Pop3Message]]:
        """(mailbox key, messages) for a login; raises LoginRefused."""

    async def commit(self, key: str, deleted: list[Pop3Message]) -> None:
        """UPDATE state: remove the messages marked with DELE."""

    def release(self, key: str) -> None:
        """The session ended (with or without QUIT)."""


class _Pop3Session:
    """One POP3 connection: AUTHORIZATION → TRANSACTION → UPDATE (RFC 1939)."""

    def __init__(self, server: Pop3Backend, reader, writer, *, tls_on: bool):
        self.server = server
        self.reader = reader
        self.writer = writer
        self.tls_on = tls_on
        self.user: str | None = None
        self.account: str | None = None
        self.messages: list[Pop3Message] = []
        self.deleted: set[int] = set()

    async def send(self, line: str) -> None:
        self.writer.write(line.encode("utf-8") + b"\r\n")
        await self.writer.drain()

    async def run(self) -> None:
        await self.send("+OK KIM-Fachdienst POP3 bereit")
        try:
            while True:
                try:
                    raw = await asyncio.wait_for(self.reader.readline(), self.server.idle_timeout)
                except TimeoutError:
                    await self.send("-ERR Zeitüberschreitung, Verbindung wird getrennt")
                    break
                except (asyncio.LimitOverrunError, ValueError):
                    await self.send("-ERR Befehlszeile zu lang")
                    break
                if not raw:
                    break
                if len(raw) > 255:  # RFC 2449: commands up to 255 octets incl. CRLF
                    await self.send("-ERR Befehlszeile zu lang (höchstens 255 Zeichen)")
                    continue
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                cmd, _, rest = line.partition(" ")
                if await self.dispatch(cmd.upper(), rest):
                    break
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            if self.account:
                self.server.release(self.account)
            self.writer.close()

    def capabilities(self) -> list[str]:
        caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if self.account is None:
            caps += ["USER", "SASL PLAIN"] if self.tls_on else ["STLS"]
        caps.append("IMPLEMENTATION kvportal-KIM-Fachdienst")
        return caps

    async def dispatch(self, cmd: str, rest: str) -> bool:
        """Handle one command; True ends the session."""
        if cmd == "CAPA":
            await self.send("+OK Liste der Fähigkeiten folgt")
            for cap in self.capabilities():
                await self.send(cap)
            await self.send(".")
        elif cmd == "QUIT":
            if self.account is not None:
                doomed = [self.messages[n - 1] for n in sorted(self.deleted)]
                try:
                    await self.server.commit(self.account, doomed)
                except Exception:
                    log.exception("POP3 UPDATE failed")
                    await self.send("-ERR [SYS/TEMP] Löschen fehlgeschlagen")
                    return True
                await self.send(f"+OK {len(doomed)} Nachrichten gelöscht, auf Wiedersehen")
            else:
                await self.send("+OK Auf Wiedersehen")
            return True
        elif self.account is None:
            await self.authorization(cmd, rest)
        else:
            await self.transaction(cmd, rest.split())
        return False

    async def authorization(self, cmd: str, rest: str) -> None:
        if cmd == "STLS":
            if self.tls_on:
                await self.send("-ERR TLS ist bereits aktiv")
                return
            await self.send("+OK TLS beginnt")
            await self.writer.start_tls(self.server.tls)
            self.tls_on, self.user = True, None
            return
        if cmd in ("USER", "PASS", "AUTH") and not self.tls_on:
            await self.send("-ERR [AUTH] Anmeldung nur über TLS – zuerst STLS")
            return
        if cmd == "USER":
            args = rest.split()
            if len(args) != 1:
                await self.send("-ERR USER erwartet genau einen Namen")
                return
            self.user = args[0]
            await self.send("+OK Passwort bitte")
        elif cmd == "PASS":
            if self.user is None:
                await self.send("-ERR Zuerst USER")
                return
            user, self.user = self.user, None
            await self.login(user, rest)
        elif cmd == "AUTH":
            await self.auth(rest.split())
        else:
            await self.send("-ERR Befehl im Zustand AUTHORIZATION nicht erlaubt")

    async def auth(self, args: list[str]) -> None:
        """RFC 5034 SASL, mechanism PLAIN (RFC 4616)."""
        if not args:
            await self.send("+OK Verfahren:")
            await self.send("PLAIN")
            await self.send(".")
            return
        if args[0].upper() != "PLAIN":
            await self.send("-ERR Verfahren nicht unterstützt (nur PLAIN)")
            return
        if len(args) > 1:
            response = args[1]
        else:
            self.writer.write(b"+ \r\n")
            await self.writer.drain()
            response = (await self.reader.readline()).decode("ascii", "replace").strip()
        if response == "*":
            await self.send("-ERR Anmeldung abgebrochen")
            return
        try:
            authzid, login, password = (
                base64.b64decode(response if response != "=" else "", validate=True)
                .decode("utf-8")
                .split("\x00")
            )
        except (binascii.Error, UnicodeDecodeError, ValueError):
            await self.send("-ERR PLAIN-Antwort nicht lesbar")
            return
        if authzid and authzid.lower() != login.lower():
            await self.send("-ERR [AUTH] Fremde Identität nicht erlaubt")
            return
        await self.login(login, password)

    async def login(self, user: str, password: str) -> None:
        try:
            key, messages = await self.server.open_mailbox(user, password)
        except LoginRefused as exc:
            await self.send(str(exc))
            return
        self.account, self.messages = key, messages
        size = sum(m.size for m in self.messages)
        await self.send(f"+OK {len(self.messages)} Nachrichten ({size} Byte)")

    def _pick(self, args: list[str]) -> tuple[int, Pop3Message] | str:
        if not args or not args[0].isdigit():
            return "-ERR Nachrichtennummer fehlt"
        n = int(args[0])
        if not 1 <= n <= len(self.messages):
            return f"-ERR keine Nachricht {n}"
        if n in self.deleted:
            return f"-ERR Nachricht {n} ist bereits gelöscht"
        return n, self.messages[n - 1]

    async def transaction(self, cmd: str, args: list[str]) -> None:
        live = [(n, m) for n, m in enumerate(self.messages, 1) if n not in self.deleted]
        if cmd == "STAT":
            await self.send(f"+OK {len(live)} {sum(m.size for _, m in live)}")
        elif cmd in ("LIST", "UIDL"):
            value = (lambda m: m.size) if cmd == "LIST" else (lambda m: m.uid)
            if args:
                picked = self._pick(args)
                if isinstance(picked, str):
                    await self.send(picked)
                else:
                    await self.send(f"+OK {picked[0]} {value(picked[1])}")
                return
            await self.send(f"+OK {len(live)} Nachrichten")
            for n, message in live:
                await self.send(f"{n} {value(message)}")
            await self.send(".")
        elif cmd in ("RETR", "TOP"):
            picked = self._pick(args)
            if isinstance(picked, str):
                await self.send(picked)
                return
            lines = None
            if cmd == "TOP":
                if len(args) != 2 or not args[1].isdigit():
                    await self.send("-ERR TOP erwartet Nachrichtennummer und Zeilenzahl")
                    return
                lines = int(args[1])
            try:
                data = await asyncio.to_thread(picked[1].read)
            except FileNotFoundError:
                await self.send("-ERR [SYS/TEMP] Nachricht nicht mehr vorhanden")
                return
            self.writer.write(b"+OK Nachricht folgt\r\n" + _dot_stuff(data, lines))
            await self.writer.drain()
        elif cmd == "DELE":
            picked = self._pick(args)
            if isinstance(picked, str):
                await self.send(picked)
            else:
                self.deleted.add(picked[0])
                await self.send(f"+OK Nachricht {picked[0]} zum Löschen markiert")
        elif cmd == "RSET":
            self.deleted.clear()
            await self.send(f"+OK {len(self.messages)} Nachrichten")
        elif cmd == "NOOP":
            await self.send("+OK")
        else:
            await self.send("-ERR Befehl im Zustand TRANSACTION nicht bekannt")


def _dot_stuff(data: bytes, body_lines: int | None = None) -> bytes:
    """Multi-line response body: CRLF lines, leading '.' doubled, ended by CRLF.CRLF."""
    if body_lines is None:  # RETR: whole message, done with bytes.replace (fast for 20 MB)
        if not data:
            return b".\r\n"
        out = data if data.endswith(b"\r\n") else data + b"\r\n"
        out = out.replace(b"\r\n.", b"\r\n..")
        return (b"." + out if out.startswith(b".") else out) + b".\r\n"
    lines = data.split(b"\r\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if body_lines is not None:
        try:
            blank = lines.index(b"")
        except ValueError:
            blank = len(lines)
        lines = lines[: blank + 1 + body_lines]
    out = b"\r\n".join(b"." + line if line.startswith(b".") else line for line in lines)
    return out + (b"\r\n" if lines else b"") + b".\r\n"


class Pop3Server:
    """RFC 1939 with CAPA (RFC 2449), STLS (RFC 2595), SASL PLAIN (RFC 5034), RESP-CODES."""

    def __init__(
        self,
        store: MailStore,
        *,
        source: AccountSource,
        tls: ssl.SSLContext,
        idle_timeout: float = POP3_IDLE_TIMEOUT,
    ):
        self.store = store
        self.source = source
        self.tls = tls
        self.idle_timeout = idle_timeout

    async def open_mailbox(self, user: str, password: str) -> tuple[str, list[Pop3Message]]:
        try:
            ok = await _call(self.source.check_password, user, password)
            account = await _call(self.source.lookup, user) if ok else None
        except _SourceError as exc:
            raise LoginRefused("-ERR [SYS/TEMP] Anmeldung vorübergehend gestört") from exc
        if account is None or not account.active:
            raise LoginRefused("-ERR [AUTH] Anmeldung fehlgeschlagen")
        if not self.store.lock(account.address):
            raise LoginRefused("-ERR [IN-USE] Postfach wird bereits abgerufen")
        try:
            await asyncio.to_thread(
                self.store.purge_expired, account.address, account.limits.data_time_to_live
            )
            messages = await asyncio.to_thread(self.store.messages, account.address)
        except Exception:
            self.store.unlock(account.address)
            raise
        return account.address, list(messages)

    async def commit(self, key: str, deleted: list[Pop3Message]) -> None:
        for message in deleted:
            await asyncio.to_thread(self.store.remove, cast(StoredMessage, message))

    def release(self, key: str) -> None:
        self.store.unlock(key)

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, *, implicit_tls: bool = False
    ) -> asyncio.base_events.Server:
        """Listen with STLS (110) or implicit TLS (995)."""
        return await start_pop3(self, host, port, implicit_tls=implicit_tls)


async def start_pop3(
    backend: Pop3Backend, host: str, port: int, *, implicit_tls: bool = False
) -> asyncio.base_events.Server:
    """A POP3 listener serving `backend` (STLS offered unless `implicit_tls`)."""

    async def session(reader, writer):
        await _Pop3Session(backend, reader, writer, tls_on=implicit_tls).run()

    return await asyncio.start_server(
        session, host, port, ssl=backend.tls if implicit_tls else None, limit=1024 * 1024
    )

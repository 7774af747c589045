"""KIM Fachdienst mail servers: SMTP submission (aiosmtpd) and POP3 (RFC 1939/2449) (no Django).

# Security rule (gemSpec_FD_KOMLE): accept only KOM-LE messages (AuthEnvelopedData) from
# authenticated accounts, over TLS; store ciphertext per recipient, never hold a private key.
"""

from __future__ import annotations

import asyncio
import hmac
import mailbox
import ssl
from collections.abc import Callable
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from . import komle, mail

Authenticate = Callable[[str, str], bool]


def is_komle_message(data: bytes) -> bool:
    """True if `data` is a KOM-LE mail: pkcs7-mime authenticated-enveloped-data, DER inside."""
    try:
        part = mail.split(data)
        if part.content_type != "application/pkcs7-mime":
            return False
        if (part.headers.get_param("smime-type") or "").lower() != "authenticated-enveloped-data":
            return False
        return komle.content_type(mail.decoded_body(part)) == "authenticated_enveloped_data"
    except komle.KomleError:
        return False


class MailStore:
    """One Maildir per account under `root`; holds only what was delivered (ciphertext)."""

    def __init__(self, root: Path, accounts: set[str]):
        self.root = Path(root)
        self.accounts = {a.lower() for a in accounts}
        self.root.mkdir(parents=True, exist_ok=True)

    def box(self, account: str) -> mailbox.Maildir:
        return mailbox.Maildir(self.root / account.lower(), create=True)

    def deliver(self, account: str, data: bytes) -> None:
        self.box(account).add(data)


class _SmtpHandler:
    def __init__(self, store: MailStore, max_size: int):
        self.store = store
        self.max_size = max_size

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() not in self.store.accounts:
            return "550 5.1.1 Empfänger unbekannt"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or b""
        if len(data) > self.max_size:
            return "552 5.3.4 Nachricht zu groß"
        if not is_komle_message(data):
            return "554 5.6.0 Nur KOM-LE-Nachrichten (AuthEnvelopedData) werden angenommen"
        for rcpt in envelope.rcpt_tos:
            self.store.deliver(rcpt, data)
        return "250 OK"


def _authenticator(check: Authenticate):
    def authenticator(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8", "replace")
            if check(user, auth_data.password.decode("utf-8", "replace")):
                return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    return authenticator


def smtp_controller(
    store: MailStore,
    *,
    authenticate: Authenticate,
    tls: ssl.SSLContext,
    host: str = "127.0.0.1",
    port: int = 0,
    max_size: int = 700 * 1024 * 1024,
) -> Controller:
    """Submission server: STARTTLS required, then SASL PLAIN/LOGIN required."""
    return Controller(
        _SmtpHandler(store, max_size),
        hostname=host,
        port=port,
        tls_context=tls,
        require_starttls=True,
        authenticator=_authenticator(authenticate),
        auth_required=True,
        auth_require_tls=True,
        data_size_limit=max_size,
    )


class Pop3Server:
    """RFC 1939 with CAPA (RFC 2449) and STLS (RFC 2595); USER/PASS only after TLS."""

    def __init__(self, store: MailStore, *, authenticate: Authenticate, tls: ssl.SSLContext):
        self.store = store
        self.authenticate = authenticate
        self.tls = tls

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> asyncio.base_events.Server:
        return await asyncio.start_server(self._session, host, port)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        async def send(line: str) -> None:
            writer.write(line.encode("utf-8") + b"\r\n")
            await writer.drain()

        tls_on, user, box, keys, deleted = False, None, None, [], set()
        await send("+OK KIM-Fachdienst POP3 bereit")
        try:
            while True:
                raw = await reader.readline()
                if not raw:
                    break
                parts = raw.decode("utf-8", "replace").strip().split(" ")
                cmd, args = parts[0].upper(), parts[1:]
                if cmd == "CAPA":
                    await send("+OK Fähigkeiten")
                    for cap in (["STLS"] if not tls_on else ["USER"]) + ["UIDL", "PIPELINING", "."]:
                        await send(cap)
                elif cmd == "STLS" and not tls_on and box is None:
                    await send("+OK TLS beginnt")
                    await writer.start_tls(self.tls)
                    tls_on = True
                elif cmd == "QUIT":
                    if box is not None:
                        for key in deleted:
                            box.discard(key)
                    await send("+OK Auf Wiedersehen")
                    break
                elif box is None:
                    if not tls_on:
                        await send("-ERR Zuerst STLS")
                    elif cmd == "USER" and len(args) == 1:
                        user = args[0]
                        await send("+OK")
                    elif cmd == "PASS" and user is not None:
                        if self.authenticate(user, " ".join(args)):
                            box = self.store.box(user)
                            keys = sorted(box.keys())
                            await send(f"+OK {len(keys)} Nachrichten")
                        else:
                            user = None
                            await send("-ERR [AUTH] Anmeldung fehlgeschlagen")
                    else:
                        await send("-ERR Befehl im Zustand AUTHORIZATION nicht erlaubt")
                else:
                    await self._transaction(cmd, args, box, keys, deleted, send, writer)
        finally:
            writer.close()

    async def _transaction(self, cmd, args, box, keys, deleted, send, writer):
        live = [(i + 1, k) for i, k in enumerate(keys) if k not in deleted]

        def pick():
            try:
                n = int(args[0])
                key = keys[n - 1]
            except (IndexError, ValueError):
                return None, None
            return (None, None) if key in deleted or n < 1 else (n, key)

        if cmd == "STAT":
            size = sum(len(box.get_bytes(k)) for _, k in live)
            await send(f"+OK {len(live)} {size}")
        elif cmd in ("LIST", "UIDL"):
            value = (lambda k: len(box.get_bytes(k))) if cmd == "LIST" else (lambda k: k)
            if args:
                n, key = pick()
                await send(f"+OK {n} {value(key)}" if key else "-ERR keine solche Nachricht")
                return
            await send("+OK")
            for n, key in live:
                await send(f"{n} {value(key)}")
            await send(".")
        elif cmd == "RETR":
            n, key = pick()
            if key is None:
                await send("-ERR keine solche Nachricht")
                return
            data = box.get_bytes(key).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            lines = [b"." + line if line.startswith(b".") else line for line in data.split(b"\r\n")]
            writer.write(b"+OK\r\n" + b"\r\n".join(lines).rstrip(b"\r\n") + b"\r\n.\r\n")
            await writer.drain()
        elif cmd == "DELE":
            n, key = pick()
            if key is None:
                await send("-ERR keine solche Nachricht")
            else:
                deleted.add(key)
                await send(f"+OK Nachricht {n} gelöscht")
        elif cmd == "RSET":
            deleted.clear()
            await send("+OK")
        elif cmd == "NOOP":
            await send("+OK")
        else:
            await send("-ERR unbekannter Befehl")


def check_password(accounts: dict[str, str]) -> Authenticate:
    def check(user: str, password: str) -> bool:
        expected = accounts.get(user.lower())
        return expected is not None and hmac.compare_digest(expected, password)

    return check

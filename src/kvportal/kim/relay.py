# gemSpec_FD_KOMLE (issue 15): mail for a domain of another KIM provider leaves over SMTP with
# TLS to the MTA configured for that domain, only KOM-LE and only from own authenticated
# accounts; inbound mail is accepted only from configured peer providers, which prove who they
# are with a TLS client certificate of the configured peer CA (mutual TLS), and only for own
# active accounts. Failures reach the sender as DSN.
"""Relaying between KIM providers: `PeerProviders` (outbound) and `inbound_controller`."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiosmtpd.controller import Controller

from . import dsn, fachdienst


class RelayConfigError(ValueError):
    """A bad `--relay` value; the message is German."""


@dataclass(frozen=True)
class Peer:
    domain: str
    host: str
    port: int


def parse_peers(specs: Iterable[str]) -> dict[str, Peer]:
    """`domain=host:port` → {domain: Peer}; German errors name the bad value."""
    peers: dict[str, Peer] = {}
    for spec in specs:
        domain, _, target = spec.partition("=")
        host, _, port = target.rpartition(":")
        domain = domain.strip().lower()
        if not domain or "." not in domain or not host or not port.isdigit():
            raise RelayConfigError(
                f"Weiterleitung „{spec}“: erwartet DOMAIN=HOST:PORT, z. B. "
                "kim.anderer-anbieter.example=mx.anderer-anbieter.example:25."
            )
        if not 0 < int(port) < 65536:
            raise RelayConfigError(f"Weiterleitung „{spec}“: Port {port} ungültig.")
        peers[domain] = Peer(domain, host.strip("[]"), int(port))
    return peers


class PeerProviders:
    """Where mail for foreign KIM domains goes; `send` relays one mail per peer."""

    def __init__(
        self,
        peers: dict[str, Peer],
        *,
        tls: ssl.SSLContext,
        hostname: str = "kim-fachdienst.localhost",
        timeout: float = 60.0,
    ):
        self.peers = peers
        self.tls = tls  # trusts the peers' CA and carries our own client certificate
        self.hostname = hostname
        self.timeout = timeout

    def peer_for(self, address: str) -> Peer | None:
        return self.peers.get(address.rpartition("@")[2].strip().lower())

    def send(self, sender: str, rcpts: Sequence[str], data: bytes) -> list[dsn.RecipientFailure]:
        """Relay to each recipient's provider; the recipients that failed, with reasons."""
        failures: list[dsn.RecipientFailure] = []
        by_peer: dict[Peer, list[str]] = {}
        for rcpt in rcpts:
            peer = self.peer_for(rcpt)
            if peer is None:
                failures.append(dsn.RecipientFailure(rcpt, "5.1.2", "550 Kein KIM-Anbieter für "
                                                     "diese Domain eingerichtet"))  # fmt: skip
            else:
                by_peer.setdefault(peer, []).append(rcpt)
        for peer, group in by_peer.items():
            failures += self._send_to(peer, sender, group, data)
        return failures

    def _send_to(self, peer: Peer, sender: str, rcpts: list[str], data: bytes):
        where = f"{peer.host}:{peer.port}"
        conn: smtplib.SMTP
        try:
            if peer.port == 465:
                conn = smtplib.SMTP_SSL(peer.host, peer.port, timeout=self.timeout,
                                        context=self.tls, local_hostname=self.hostname)  # fmt: skip
            else:
                conn = smtplib.SMTP(peer.host, peer.port, timeout=self.timeout,
                                    local_hostname=self.hostname)  # fmt: skip
                conn.starttls(context=self.tls)  # never in the clear (gemSpec_FD_KOMLE)
            with conn:
                refused = conn.sendmail(sender, rcpts, data)
        except smtplib.SMTPRecipientsRefused as exc:
            return [self._failure(r, code, text) for r, (code, text) in exc.recipients.items()]
        except smtplib.SMTPResponseException as exc:
            return [self._failure(r, exc.smtp_code, exc.smtp_error) for r in rcpts]
        except (OSError, smtplib.SMTPException) as exc:
            reason = f"451 KIM-Anbieter {where} nicht erreichbar ({type(exc).__name__})"
            return [dsn.RecipientFailure(r, "4.4.1", reason) for r in rcpts]
        return [self._failure(r, code, text) for r, (code, text) in refused.items()]

    @staticmethod
    def _failure(rcpt: str, code: int, text: bytes | str) -> dsn.RecipientFailure:
        status = "5.0.0" if code >= 500 else "4.0.0"
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return dsn.RecipientFailure(rcpt, status, f"{code} {text}")


class _InboundHandler(fachdienst._SmtpHandler):
    """From a peer provider (client certificate checked by TLS): sender of a peer domain,
    recipients only own active accounts, only KOM-LE; stored like a submission, never relayed."""

    check_login = False

    def __init__(self, store, source, *, peers: dict[str, Peer], hostname: str):
        super().__init__(store, source, hostname=hostname)
        self.peers = peers

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if session.ssl is None:
            return "530 5.7.0 Erst STARTTLS"
        domain = address.rpartition("@")[2].lower()
        if address and domain not in self.peers:
            return "553 5.7.1 Absender gehört zu keinem eingerichteten KIM-Anbieter"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        data = envelope.original_content or b""
        if not dsn.is_error_report(data) and not await asyncio.to_thread(
            fachdienst.is_komle_message, data
        ):
            return "554 5.6.0 Nur KOM-LE-Nachrichten (AuthEnvelopedData) werden angenommen"
        return await asyncio.to_thread(self._deliver, envelope.mail_from, envelope.rcpt_tos, data)

    def _deliver(self, sender: str, rcpts: list[str], data: bytes) -> str:
        # reports for the peer's sender go back to the peer, not into a local mailbox
        saved, self.relay = self.relay, None
        try:
            return super()._deliver(sender, rcpts, data)
        finally:
            self.relay = saved


def inbound_tls(cert: str, key: str, peer_ca: str) -> ssl.SSLContext:
    """Server side of the provider link: our certificate, peers must present one of `peer_ca`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.load_verify_locations(cafile=peer_ca)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def outbound_tls(cert: str, key: str, peer_ca: str) -> ssl.SSLContext:
    """Client side: trust the peers' CA, present our certificate."""
    context = ssl.create_default_context(cafile=peer_ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def inbound_controller(
    store: fachdienst.MailStore,
    *,
    source: fachdienst.AccountSource,
    peers: dict[str, Peer],
    tls: ssl.SSLContext,
    host: str = "127.0.0.1",
    port: int = 0,
    max_size: int = fachdienst.DEFAULT_MAX_MAIL_SIZE,
    hostname: str = "kim-fachdienst.localhost",
) -> Controller:
    """SMTP for peer providers: STARTTLS required with a client certificate, no AUTH."""
    return Controller(
        _InboundHandler(store, source, peers=peers, hostname=hostname),
        hostname=host, port=port, server_hostname=hostname, tls_context=tls,
        require_starttls=True, auth_required=False, data_size_limit=max_size,
        ident="KIM-Fachdienst ESMTP (Anbieter)",
    )  # fmt: skip

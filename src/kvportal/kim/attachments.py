"""KIM attachment service (KAS, I_Attachment_Service v2.4) and its client side (no Django).

# Security rule (gemSpec_FD_KOMLE, KIM 1.5): the KAS stores only data the client module has
# encrypted (AES-256-GCM, key travels inside the KOM-LE mail), hands it out only to listed
# recipients, and deletes it at `expires` (at most dataTimeToLive days after upload).

Server: aiohttp on 127.0.0.1 (TLS in front by the reverse proxy in production), base path
`/attachments/v2.4/`. Client: `KasClient` (sync, urllib) used by the client module, plus
`pack`/`unpack` for the KIM 1.5 "whole mail via KAS" exchange with `X-KIM-KAS-Size`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import email.utils
import hashlib
import json
import logging
import os
import secrets
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from . import fachdienst, mail

log = logging.getLogger(__name__)

BASE_PATH = "/attachments/v2.4"
LIMIT_PATH = "/AccountLimit/v1.1/limit"  # I_AccountLimit_Service getLimits
MAX_DOWNLOADS = 10  # per recipient; then 429 (gemSpec_FD_KOMLE leaves the number to the provider)
KAS_DISPOSITION = "x-kas"


# --- server -----------------------------------------------------------------------------------


def _error(status: int, message: str) -> web.Response:
    body = {"message": message, "traceId": uuid.uuid4().hex[:16]}
    return web.json_response(body, status=status, content_type="application/json")


class AttachmentService:
    """Encrypted mail data under random share links; metadata next to it as JSON."""

    def __init__(self, root: Path, *, source: fachdienst.AccountSource,
                 public_url: str | None = None, max_downloads: int = MAX_DOWNLOADS,
                 store: fachdienst.MailStore | None = None):  # fmt: skip
        self.store = store  # for remainQuota of I_AccountLimit_Service
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.source = source
        self.public_url = public_url
        self.max_downloads = max_downloads

    # storage ---------------------------------------------------------------------------------

    def _paths(self, attachment_id: str) -> tuple[Path, Path] | None:
        if not attachment_id.isalnum() or len(attachment_id) > 64:
            return None
        return self.root / f"{attachment_id}.bin", self.root / f"{attachment_id}.json"

    def _meta(self, attachment_id: str, now: dt.datetime) -> dict | None:
        paths = self._paths(attachment_id)
        if paths is None or not paths[1].exists():
            return None
        meta = json.loads(paths[1].read_text())
        if dt.datetime.fromisoformat(meta["expires"]) <= now:
            self._delete(attachment_id)
            return None
        return meta

    def _delete(self, attachment_id: str) -> None:
        for path in self._paths(attachment_id) or ():
            path.unlink(missing_ok=True)

    def used(self, account: str) -> int:
        total = 0
        for meta_path in self.root.glob("*.json"):
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, ValueError):
                continue
            if meta.get("owner") == account:
                total += meta.get("size", 0)
        return total

    def purge_expired(self, *, now: dt.datetime | None = None) -> int:
        when = now or dt.datetime.now(dt.UTC)
        removed = 0
        for meta_path in self.root.glob("*.json"):
            try:
                expires = dt.datetime.fromisoformat(json.loads(meta_path.read_text())["expires"])
            except (OSError, ValueError, KeyError):
                continue
            if expires <= when:
                self._delete(meta_path.stem)
                removed += 1
        return removed

    # HTTP ------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=fachdienst.DEFAULT_MAX_MAIL_SIZE + 1024 * 1024)
        app.router.add_post(f"{BASE_PATH}/attachment/", self.add)
        app.router.add_get(f"{BASE_PATH}/attachment/{{attachment_id}}", self.read)
        app.router.add_delete(f"{BASE_PATH}/attachment/{{attachment_id}}", self.delete)
        app.router.add_get(LIMIT_PATH, self.limits)
        return app

    async def limits(self, request: web.Request) -> web.Response:
        """getLimits (AccountLimit.yaml): the account's limits and what is left of its quota."""
        account = await self._account(request)
        if isinstance(account, web.Response):
            return account
        limits = account.limits
        remain = fachdienst.UNLIMITED
        if limits.quota != fachdienst.UNLIMITED:
            used = await asyncio.to_thread(self.used, account.address)
            if self.store is not None:
                used += await asyncio.to_thread(self.store.used, account.address)
            remain = max(limits.quota - used, 0)
        body = {
            "dataTimeToLive": limits.data_time_to_live,
            "maxMailSize": limits.max_mail_size,
            "quota": limits.quota,
            "remainQuota": remain,
        }
        return web.json_response(body, content_type="application/json")

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> web.AppRunner:
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        return runner

    async def _account(self, request: web.Request) -> fachdienst.Account | web.Response:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return _error(401, "Anmeldung erforderlich (Basic, KIM-Konto).")
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return _error(401, "Anmeldedaten nicht lesbar.")
        ok = await asyncio.to_thread(self.source.check_password, user, password)
        account = await asyncio.to_thread(self.source.lookup, user) if ok else None
        if account is None or not account.active:
            return _error(401, "Anmeldung fehlgeschlagen.")
        return account

    async def add(self, request: web.Request) -> web.Response:
        account = await self._account(request)
        if isinstance(account, web.Response):
            return account
        if request.content_length is None:
            return _error(400, "Content-Length fehlt (A_22427).")
        limits = account.limits
        if request.content_length > limits.max_mail_size + 64 * 1024:
            return _error(413, f"Zu groß: höchstens {limits.max_mail_size} Byte je Nachricht.")
        try:
            reader = await request.multipart()
        except (AssertionError, ValueError):
            return _error(400, "Erwartet multipart/form-data.")
        fields: dict[str, list[str]] = {}
        attachment_id = secrets.token_hex(20)
        paths = self._paths(attachment_id)
        assert paths is not None
        size = None
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "attachment":
                size = await self._save(part, paths[0], limits.max_mail_size)
                if size is None:
                    paths[0].unlink(missing_ok=True)
                    return _error(413, f"Zu groß: höchstens {limits.max_mail_size} Byte.")
            elif part.name in ("messageID", "recipients", "expires"):
                fields.setdefault(part.name, []).append((await part.text()).strip())
        missing = [n for n in ("messageID", "recipients", "expires") if not fields.get(n)]
        if size is None:
            missing.append("attachment")
        if missing:
            paths[0].unlink(missing_ok=True)
            return _error(400, f"Pflichtfelder fehlen: {', '.join(missing)}.")
        try:
            expires = email.utils.parsedate_to_datetime(fields["expires"][0])
        except (TypeError, ValueError):
            paths[0].unlink(missing_ok=True)
            return _error(400, "expires ist kein Datum nach RFC 5322.")
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=dt.UTC)
        now = dt.datetime.now(dt.UTC)
        expires = min(expires, now + dt.timedelta(days=limits.data_time_to_live))
        if limits.quota != fachdienst.UNLIMITED and (
            await asyncio.to_thread(self.used, account.address) + (size or 0) > limits.quota
        ):
            paths[0].unlink(missing_ok=True)
            return _error(507, "Speicherplatz des Kontos erschöpft (Quota).")
        meta: dict[str, Any] = {
            "owner": account.address,
            "messageID": fields["messageID"][0],
            "recipients": sorted({r.lower() for r in fields["recipients"]}),
            "expires": expires.isoformat(),
            "size": size,
            "downloads": {},
        }
        paths[1].write_text(json.dumps(meta))
        base = self.public_url or f"{request.scheme}://{request.host}"
        link = f"{base.rstrip('/')}{BASE_PATH}/attachment/{attachment_id}"
        return web.json_response({"sharedLink": link}, status=201)

    @staticmethod
    async def _save(part: BodyPartReader, path: Path, limit: int) -> int | None:
        size = 0
        with path.open("wb") as handle:
            while chunk := await part.read_chunk(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    return None
                handle.write(chunk)
        return size

    async def read(self, request: web.Request) -> web.StreamResponse:
        attachment_id = request.match_info["attachment_id"]
        recipient = (request.headers.get("recipient") or "").strip().lower()
        if not recipient:
            return _error(400, "Header „recipient“ fehlt.")
        meta = self._meta(attachment_id, dt.datetime.now(dt.UTC))
        if meta is None:
            return _error(404, "Anhang nicht (mehr) vorhanden.")
        if recipient not in meta["recipients"]:
            return _error(403, "Empfänger steht nicht in der Empfängerliste der KIM-Nachricht.")
        paths = self._paths(attachment_id)
        assert paths is not None
        if request.method == "HEAD":
            return web.Response(status=200, headers={"Content-Length": str(meta["size"])})
        count = meta["downloads"].get(recipient, 0)
        if count >= self.max_downloads:
            return _error(429, f"Anhang wurde bereits {count}-mal abgerufen.")
        meta["downloads"][recipient] = count + 1
        paths[1].write_text(json.dumps(meta))
        return web.FileResponse(paths[0], headers={"Content-Type": "application/octet-stream"})

    async def delete(self, request: web.Request) -> web.Response:
        account = await self._account(request)
        if isinstance(account, web.Response):
            return account
        attachment_id = request.match_info["attachment_id"]
        meta = self._meta(attachment_id, dt.datetime.now(dt.UTC))
        if meta is None or meta["owner"] != account.address:
            return _error(404, "Anhang nicht vorhanden.")
        self._delete(attachment_id)
        return web.Response(status=200)


# --- client side ------------------------------------------------------------------------------


class KasError(Exception):
    """Upload/download failed; `status` is the HTTP status (0: not reachable)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


def _multipart(fields: Sequence[tuple[str, str]], blob: bytes) -> tuple[bytes, str]:
    boundary = f"kas-{uuid.uuid4().hex}"
    out = []
    for name, value in fields:
        out.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            .encode()
        )  # fmt: skip
    out.append(
        f"--{boundary}\r\nContent-Disposition: form-data; name=attachment; "
        f"filename=attachment.enc\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {len(blob)}\r\n\r\n".encode()
    )
    out.append(blob)
    out.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(out), boundary


@dataclass
class KasClient:
    base_url: str  # e.g. https://kas.kim.example/attachments/v2.4
    timeout: float = 120.0

    def upload(self, data: bytes, *, user: str, password: str, message_id: str,
               recipients: Sequence[str], expires: dt.datetime) -> str:  # fmt: skip
        fields = [("messageID", message_id)] + [("recipients", r) for r in recipients]
        fields.append(("expires", email.utils.format_datetime(expires)))
        body, boundary = _multipart(fields, data)
        request = urllib.request.Request(  # noqa: S310 (configured URL)
            self.base_url.rstrip("/") + "/attachment/", data=body, method="POST"
        )
        request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        request.add_header("Content-Length", str(len(body)))
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        payload = self._send(request)
        try:
            return json.loads(payload)["sharedLink"]
        except (ValueError, KeyError) as exc:
            raise KasError("Antwort des Attachment-Service ohne sharedLink.") from exc

    def download(self, link: str, *, recipient: str) -> bytes:
        if not link.startswith(self.base_url.rstrip("/") + "/attachment/"):
            raise KasError("Der Link zeigt nicht auf den Attachment-Service des Fachdienstes.")
        request = urllib.request.Request(link)  # noqa: S310 (checked prefix)
        request.add_header("recipient", recipient)
        return self._send(request)

    def _send(self, request) -> bytes:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.read()
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("message", "")
            except (ValueError, AttributeError):
                message = ""
            raise KasError(f"HTTP {exc.code}: {message}".strip(), exc.code) from exc
        except OSError as exc:
            raise KasError(f"Attachment-Service nicht erreichbar ({exc}).") from exc


@dataclass
class LimitsClient:
    """getLimits at the account manager (A_22416), cached 24 h per account."""

    url: str  # e.g. https://fachdienst.kim.example/AccountLimit/v1.1/limit
    timeout: float = 10.0
    cache_for: dt.timedelta = dt.timedelta(hours=24)

    def __post_init__(self):
        self._cache: dict[str, tuple[dt.datetime, fachdienst.AccountLimits]] = {}

    def get(self, user: str, password: str) -> fachdienst.AccountLimits:
        now = dt.datetime.now(dt.UTC)
        cached = self._cache.get(user.lower())
        if cached and now - cached[0] < self.cache_for:
            return cached[1]
        request = urllib.request.Request(self.url)  # noqa: S310 (configured URL)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        payload = KasClient(self.url, timeout=self.timeout)._send(request)
        try:
            data = json.loads(payload)
            limits = fachdienst.AccountLimits(
                max_mail_size=int(data["maxMailSize"]),
                quota=int(data.get("quota", fachdienst.UNLIMITED)),
                data_time_to_live=int(data.get("dataTimeToLive", 90)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise KasError("Antwort von getLimits nicht lesbar.") from exc
        self._cache[user.lower()] = (now, limits)
        return limits


# --- KIM 1.5: the whole client mail via the KAS ----------------------------------------------


@dataclass
class Packed:
    blob: bytes  # nonce || AES-256-GCM(ciphertext || tag): what goes to the KAS
    key: bytes
    digest: str  # base64 SHA-256 of the plain client mail (A_19644)


def encrypt_for_kas(data: bytes) -> Packed:
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    blob = nonce + AESGCM(key).encrypt(nonce, data, b"")
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    return Packed(blob=blob, key=key, digest=digest)


def decrypt_from_kas(blob: bytes, key: bytes) -> bytes:
    if len(blob) < 28:
        raise KasError("Anhang vom Attachment-Service ist zu kurz.")
    try:
        return AESGCM(key).decrypt(blob[:12], blob[12:], b"")
    except InvalidTag as exc:
        raise KasError("Anhang ließ sich nicht entschlüsseln (GCM-Tag falsch).") from exc


def reference_mail(client_mail: bytes, *, link: str, packed: Packed) -> bytes:
    """The small mail that is signed and encrypted instead: headers + one x-kas part."""
    head = mail.split(client_mail)
    lines = []
    for name in ("Date", "From", "Reply-To", "To", "Cc", "Subject", "Message-ID",
                 "X-KIM-Dienstkennung"):  # fmt: skip
        value = head.get(name)
        if value:
            lines.append(mail.header_line(name, value))
    reference = {
        "name": "KIM-Nachricht.eml",
        "link": link,
        "k": base64.b64encode(packed.key).decode(),
        "hash": packed.digest,
        "size": len(client_mail),
        "type": "message/rfc822",
    }
    boundary = f"=_kas_{uuid.uuid4().hex}"
    lines += [
        f"X-KIM-KAS-Size: {len(client_mail)}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Disposition: {KAS_DISPOSITION}",
        "",
        json.dumps(reference, indent=2),
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(lines).encode("utf-8")


def find_reference(client_mail: bytes) -> dict | None:
    """The x-kas JSON of a reference mail, or None for an ordinary mail."""
    if b"x-kas" not in client_mail[:65536].lower():
        return None
    parsed = email.message_from_bytes(client_mail)
    for part in parsed.walk():
        if (part.get("Content-Disposition") or "").strip().lower() == KAS_DISPOSITION:
            try:
                payload = part.get_payload(decode=True)
                reference = json.loads(payload if isinstance(payload, bytes) else b"")
            except ValueError:
                return None
            if isinstance(reference, dict) and {"link", "k", "hash"} <= set(reference):
                return reference
    return None


def has_kas_part(client_mail: bytes) -> bool:
    """A_22341: a mail from the practice software must not already carry an x-kas part."""
    return find_reference(client_mail) is not None or (
        b"content-disposition: x-kas" in client_mail.lower()
    )

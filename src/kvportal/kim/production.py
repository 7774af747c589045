"""Glue for running the Fachdienst on Postfix + Dovecot (no Django).

# Security rule (gemSpec_FD_KOMLE): Postfix accepts only KOM-LE mails within the account
# limits (before-queue filter below); Dovecot authenticates against the portal's accounts
# (checkpassword below); neither ever sees a private key.

- `checkpassword(...)`: Dovecot's checkpassword protocol (passdb and userdb) on fd 3 with an
  `AccountSource`; success execs the reply program with USER/HOME and the quota rule.
- `filter_controller(...)`: Postfix `smtpd_proxy_filter`: an SMTP hop on 127.0.0.1 that applies
  the Fachdienst's KOM-LE and limit checks and relays to Postfix's second smtpd.
- `load_source(spec)`: an account file path or `module:callable` (e.g. the portal's
  Django-backed source).
"""

from __future__ import annotations

import importlib
import os
import smtplib
from collections.abc import Sequence
from pathlib import Path

from aiosmtpd.controller import Controller

from . import dsn, fachdienst

CHECKPASSWORD_FAIL, CHECKPASSWORD_USAGE, CHECKPASSWORD_TEMP = 1, 2, 111


def load_source(spec: str) -> fachdienst.AccountSource:
    """`/path/konten.txt` → FileAccountSource; `package.module:factory` → factory()."""
    if ":" in spec and not Path(spec).exists():
        module_name, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise fachdienst.AccountFileError(
                f"Kontenquelle „{spec}“ nicht gefunden (Modul:Name)."
            ) from exc
        source = factory()
        if not isinstance(source, fachdienst.AccountSource):
            raise fachdienst.AccountFileError(f"„{spec}“ liefert keine AccountSource.")
        return source
    return fachdienst.FileAccountSource.load(spec)


def checkpassword(
    source: fachdienst.AccountSource,
    reply: Sequence[str],
    *,
    fd: int = 3,
    environ: dict[str, str] | None = None,
    execve=os.execvpe,
    mail_root: str = "/var/vmail",
    mail_user: str = "vmail",
    mail_group: str = "vmail",
) -> int:
    """Dovecot checkpassword: read `user\\0password\\0` from `fd`; exec `reply` on success."""
    env = dict(os.environ if environ is None else environ)
    try:
        data = b""
        while len(data) < 1024 and (chunk := os.read(fd, 1024 - len(data))):
            data += chunk
    except OSError:
        return CHECKPASSWORD_USAGE
    parts = data.split(b"\0")
    if len(parts) < 2 or not reply:
        return CHECKPASSWORD_USAGE
    user = parts[0].decode("utf-8", "replace").strip().lower()
    password = parts[1].decode("utf-8", "replace")
    try:
        account = source.lookup(user)
        if account is None or not account.active:
            return CHECKPASSWORD_FAIL
        if env.get("AUTHORIZED") != "1" and not source.check_password(user, password):
            return CHECKPASSWORD_FAIL
    except Exception:
        return CHECKPASSWORD_TEMP
    env["USER"] = account.address
    env["HOME"] = f"{mail_root}/{account.address}"
    ttl = f"{account.limits.data_time_to_live}d"
    extra = ["userdb_quota_rule", "userdb_namespace/inbox/mailbox/INBOX/autoexpunge"]
    # checkpassword-reply would otherwise answer the auth process's own uid/gid (root or
    # dovecot) as the mailbox owner: the mail user is named explicitly
    env["userdb_uid"], env["userdb_gid"] = mail_user, mail_group
    extra += ["userdb_uid", "userdb_gid"]
    env["userdb_namespace/inbox/mailbox/INBOX/autoexpunge"] = ttl  # dataTimeToLive
    env["userdb_quota_rule"] = (
        "*:storage=0" if account.limits.quota == fachdienst.UNLIMITED
        else f"*:bytes={account.limits.quota}"
    )  # fmt: skip
    if env.get("AUTHORIZED") == "1":
        env["AUTHORIZED"] = "2"  # userdb lookup answered (Dovecot ≥ 2.2.?)
    env["EXTRA"] = " ".join(extra)
    execve(reply[0], list(reply), env)
    return CHECKPASSWORD_TEMP  # only reached if exec returned (test doubles)


class _FilterHandler(fachdienst._SmtpHandler):
    """Before-queue filter: same checks as the Fachdienst, then relay to `next_hop`."""

    check_login = False  # Postfix: smtpd_sender_login_maps + reject_sender_login_mismatch

    def __init__(self, source, *, next_hop: tuple[str, int], hostname: str):
        super().__init__(None, source, hostname=hostname)
        self.next_hop = next_hop

    def _deliver(self, sender: str, rcpts: list[str], data: bytes) -> str:
        failures, kept = [], []
        for rcpt in dict.fromkeys(r.lower() for r in rcpts):
            account = self.source.lookup(rcpt)
            if account is None or not account.active:
                failures.append(dsn.RecipientFailure(rcpt, "5.1.1", "550 Empfänger unbekannt"))
            elif (refusal := fachdienst.version_refusal(account, len(data))) is not None:
                failures.append(refusal)
            elif len(data) > account.limits.max_mail_size:
                failures.append(
                    dsn.RecipientFailure(rcpt, "5.3.4", "552 Nachricht größer als beim "
                                         "Empfänger erlaubt", kim_code=dsn.SIZE_OVER_LIMIT)
                )  # fmt: skip
            else:
                kept.append(rcpt)  # quota: Dovecot's quota plugin refuses at delivery
        if not kept:
            return f"552 5.3.4 Für keinen Empfänger zustellbar ({failures[0].diagnostic})"
        try:
            with smtplib.SMTP(*self.next_hop, timeout=120) as conn:
                conn.sendmail(sender, kept, data)
                if failures:
                    report = dsn.delivery_report(
                        reporting_mta=self.hostname, sender=sender, original=data,
                        failures=failures,
                    )  # fmt: skip
                    conn.sendmail("", [sender], report)  # RFC 3461: null reverse-path
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
            return f"{exc.smtp_code} {text}"
        except (OSError, smtplib.SMTPException):
            return "451 4.4.1 Weiterleitung an Postfix fehlgeschlagen"
        return "250 2.0.0 OK"


def filter_controller(
    source: fachdienst.AccountSource,
    *,
    host: str = "127.0.0.1",
    port: int = 10025,
    next_hop: tuple[str, int] = ("127.0.0.1", 10026),
    max_size: int = fachdienst.DEFAULT_MAX_MAIL_SIZE,
    hostname: str = "kim-fachdienst.localhost",
) -> Controller:
    """Postfix `smtpd_proxy_filter = 127.0.0.1:10025`; relays accepted mail to `next_hop`."""
    return Controller(
        _FilterHandler(source, next_hop=next_hop, hostname=hostname),
        hostname=host, port=port, data_size_limit=max_size, ident="KIM-KOM-LE-Filter ESMTP",
        server_hostname=hostname,
    )  # fmt: skip

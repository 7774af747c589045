"""Request metadata (IP, browser, OS) for audit entries written deep inside services."""

from __future__ import annotations

import contextvars
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestMeta:
    ip_address: str | None = None
    user_agent: str = ""
    path: str = ""
    bsnr: str = ""


_current: contextvars.ContextVar[RequestMeta | None] = contextvars.ContextVar(
    "kvportal_request_meta", default=None
)

_BROWSERS = (
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/([\d]+)")),
    ("Firefox", re.compile(r"Firefox/([\d]+)")),
    ("Chromium", re.compile(r"Chromium/([\d]+)")),
    ("Chrome", re.compile(r"(?:Headless)?Chrome/([\d]+)")),
    ("Safari", re.compile(r"Version/([\d]+).*Safari/")),
)
_SYSTEMS = (
    ("Windows", re.compile(r"Windows NT")),
    ("Android", re.compile(r"Android")),
    ("iOS", re.compile(r"iPhone|iPad")),
    ("macOS", re.compile(r"Mac OS X")),
    ("Linux", re.compile(r"Linux|X11")),
)


def parse_user_agent(user_agent: str) -> tuple[str, str]:
    browser = next(
        (f"{name} {m.group(1)}" for name, rx in _BROWSERS if (m := rx.search(user_agent))), ""
    )
    system = next((name for name, rx in _SYSTEMS if rx.search(user_agent)), "")
    if not browser and user_agent:
        browser = user_agent.split("/")[0][:100]
    return browser, system


#: Path segments that are secrets (draft, confirmation and signatory links) never reach a log.
_SECRET_PATH = re.compile(r"^(/zugang/(?:entwurf|bestaetigen)/|/zulassung/bestaetigung/)[^/]+")


def redact_path(path: str) -> str:
    return _SECRET_PATH.sub(r"\1[geheim]", path)


def set_meta(meta: RequestMeta | None) -> contextvars.Token:
    return _current.set(meta)


def reset_meta(token: contextvars.Token) -> None:
    _current.reset(token)


def current_meta() -> RequestMeta:
    return _current.get() or RequestMeta()


def meta_from_request(request) -> RequestMeta:
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    from django.conf import settings

    if forwarded and settings.AXES_IPWARE_PROXY_COUNT:
        ip = forwarded.split(",")[0].strip()
    else:
        ip = request.META.get("REMOTE_ADDR") or None
    return RequestMeta(
        ip_address=ip,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:1000],
        path=redact_path(request.path)[:300],
    )


class RedactSecretsFilter:
    """Logging filter: secret link tokens in request paths never reach the server log."""

    def filter(self, record) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_path(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact_path(record.msg)
        return True

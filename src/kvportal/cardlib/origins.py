# Security: the login token and the signing agent are bound to the portal's exact origin.
"""Origins (scheme://host[:port]) as the browser sends them. Django-free, no heavy imports."""

from __future__ import annotations

from urllib.parse import urlsplit


def normalise_origin(origin: str) -> str:
    """``https://Portal.example:443/x`` → ``https://portal.example`` (scheme://host[:port])."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Ungültiger Ursprung (Origin): {origin!r}")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default_port = 443 if parts.scheme == "https" else 80
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    return f"{parts.scheme}://{host}{port}"

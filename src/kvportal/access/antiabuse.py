# KBV IT-Sicherheitsrichtlinie Anl. 1 Nr. 48, BITV 2.0: no automated use, no image puzzle.
"""Anti-abuse of the public access application: proof-of-work, rate limits (Django cache).

A browser with JavaScript computes a small proof-of-work for the signed form stamp
(`core/static/core/proof.js`); without JavaScript the form still works, under a stricter
per-address rate limit. Every start also counts against the contact e-mail address.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

#: limits per hour: (with proof-of-work, without JavaScript) per IP address, per e-mail address
DEFAULT_LIMITS = {"ip": 10, "ip_noscript": 3, "email": 3}
WINDOW_SECONDS = 3600


def difficulty() -> int:
    """Leading zero hex digits of sha256(challenge ':' answer) the proof must have."""
    return int(settings.ACCESS_POW_DIFFICULTY)


def proof_ok(challenge: str, answer: str, *, zeros: int) -> bool:
    """Pure rule: the answer is a decimal counter whose hash starts with `zeros` zeros."""
    if not answer.isdigit() or len(answer) > 12 or not challenge:
        return False
    digest = hashlib.sha256(f"{challenge}:{answer}".encode()).hexdigest()
    return digest.startswith("0" * zeros)


def _limits() -> dict[str, int]:
    return {**DEFAULT_LIMITS, **settings.ACCESS_RATE_LIMITS}


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"access-rate:{kind}:{digest}"


def over_limit(*, ip: str, email: str, with_proof: bool) -> str | None:
    """Which limit a new start would exceed ("ip" or "email"), or None."""
    limits = _limits()
    ip_limit = limits["ip"] if with_proof else limits["ip_noscript"]
    ip_kind = "ip" if with_proof else "ip_noscript"
    if cache.get(_key(ip_kind, ip), 0) >= ip_limit:
        return "ip"
    if email and cache.get(_key("email", email), 0) >= limits["email"]:
        return "email"
    return None


def count(*, ip: str, email: str, with_proof: bool) -> None:
    """Record one start (no-script starts also count against the general IP limit)."""
    kinds = [("ip", ip), ("email", email)]
    if not with_proof:
        kinds.append(("ip_noscript", ip))
    for kind, value in kinds:
        key = _key(kind, value)
        if cache.add(key, 1, WINDOW_SECONDS):
            continue
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, WINDOW_SECONDS)

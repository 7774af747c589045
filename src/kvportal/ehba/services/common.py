# Security (gematik IDP): login challenges are short-lived and bound to this portal.
"""Constants shared by the eHBA services."""

from __future__ import annotations

from django.conf import settings

CHALLENGE_AUDIENCE = "kvportal-ehba"
_HMAC_SALT = "kvportal.ehba.challenge"


def challenge_seconds() -> int:
    return int(settings.EHBA_CHALLENGE_SECONDS)

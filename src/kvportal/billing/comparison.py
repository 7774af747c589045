"""Testabrechnung (issue 12 item 5): what is new, fixed and unchanged in a test run's protocol
against the previous run for the same BSNR and quarter. Messages are compared by rule, record
type, field and patient number (FK 3000) - never by line number, which moves with every edit."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

Key = tuple[str, str, str, str]


def message_key(message: Mapping[str, Any]) -> Key:
    return (
        str(message.get("rule") or ""),
        str(message.get("satzart") or ""),
        str(message.get("field") or ""),
        str(message.get("patient_number") or ""),
    )


def compare(
    previous: Iterable[Mapping[str, Any]] | None, current: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """`new`: messages of this run without a counterpart before; `fixed`: messages of the
    previous run gone now; `unchanged`: in both (counted as often as they occur in both).
    Without a previous run everything is new and `first_run` is true."""
    current = list(current)
    if previous is None:
        return {"first_run": True, "new": current, "fixed": [], "unchanged": []}
    before: Counter[Key] = Counter(message_key(m) for m in previous)
    remaining = before.copy()
    new, unchanged = [], []
    for message in current:
        key = message_key(message)
        if remaining[key] > 0:
            remaining[key] -= 1
            unchanged.append(message)
        else:
            new.append(message)
    fixed = []
    left = remaining.copy()
    for message in previous:
        key = message_key(message)
        if left[key] > 0:
            left[key] -= 1
            fixed.append(dict(message))
    return {"first_run": False, "new": new, "fixed": fixed, "unchanged": unchanged}

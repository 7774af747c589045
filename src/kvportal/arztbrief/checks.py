# EBM 86900/86901: at most the letters counted over the portal's KIM with a valid QES, and at
# most 23,40 € per doctor (LANR) and quarter — a warning in the portal's check of a submission.
"""The portal check registered with billing (billing imports nothing of this app)."""

from __future__ import annotations

import logging

from kvportal.arztbrief import rules, selectors
from kvportal.core.storage import private_storage

log = logging.getLogger(__name__)


def portal_check(*, submission) -> list[dict]:
    """KVDT-style warnings (severity W, rule ARZTBRIEF-…) for one stored plain `.con` file."""
    from kvportal.kvdt.reader import iter_fields

    try:
        with private_storage.open(submission.storage_name, "rb") as fh:
            billed = rules.billed_gops((f.fk, f.value) for f in iter_fields(fh))
    except (OSError, ValueError) as exc:
        log.warning("arztbrief check of submission %s: %s", submission.pk, type(exc).__name__)
        return []
    if not billed:
        return []
    counted = selectors.counts([lanr for lanr in billed if lanr], submission.quarter_obj)
    return [
        {
            "severity": "W",
            "rule": f"ARZTBRIEF-{w.code.upper()}",
            "line": None,
            "satzart": None,
            "field": "5001",
            "patient_number": None,
            "text": w.text,
            "hint": "Bitte prüfen Sie die Zahl der abgerechneten GOP 86900/86901.",
            "case_line": None,
        }
        for w in rules.check_earztbrief(counted=counted, billed=billed)
    ]

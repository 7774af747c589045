"""Start-page card "Abrechnung": the quarter due now and its state per BSNR."""

from __future__ import annotations

from django.utils import timezone

from kvportal.accounts.constants import AccountKind


def panel(request) -> dict | None:
    from kvportal.billing import todo

    user = request.user
    if not user.is_authenticated or user.kind == AccountKind.STAFF:
        return None
    today = timezone.localdate()
    practices = todo.overview_once(user, today)  # shared with "Ihre Aufgaben" (one read)
    rows = []
    for item in practices:
        if not item.billing:
            continue
        # the newest quarter whose submission has begun, else the newest one listed
        row = next(
            (r for r in item.rows if r.state != "not_yet"), item.rows[0] if item.rows else None
        )
        if row is not None:
            rows.append({"practice": item.practice, "row": row})
    if not rows:
        return None
    return {"rows": rows}

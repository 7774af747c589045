"""Start-page card „eArztbriefe“: letters counted this quarter per doctor (86900/86901)."""

from __future__ import annotations

from django.utils import timezone

from kvportal.accounts.constants import AccountKind
from kvportal.core.quarters import Quarter


def panel(request) -> dict | None:
    from kvportal.arztbrief import selectors

    user = request.user
    if not user.is_authenticated or user.kind == AccountKind.STAFF:
        return None
    quarter = Quarter.of(timezone.localdate())
    rows = selectors.panel_rows(user, quarter)
    if not rows:
        return None
    return {"rows": rows, "quarter": quarter}

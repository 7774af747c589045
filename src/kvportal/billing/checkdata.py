"""Master data for the portal's KVDT check: the KBV master files imported for a quarter
(`kvportal kvdt stammdaten import`), read through `kvportal.masterdata.selectors`."""

from __future__ import annotations

from collections.abc import Callable

from kvportal.core.quarters import Quarter
from kvportal.kvdt.masterdata import MasterData
from kvportal.masterdata import selectors


def for_check(quarter: Quarter | None) -> MasterData:
    """The imported master data valid in `quarter`; empty when none is imported, so the
    protocol names each master file that was missing ("Nicht geprüft: …")."""
    data = selectors.for_quarter(quarter) if quarter is not None else None
    return data if data is not None else MasterData()


#: Further checks of the portal's check of a submission, registered by other apps from their
#: ready() (issue 16: eArztbrief GOPs need the portal's KIM records); billing imports none of
#: them. `func(*, submission) -> list[dict]` returns KVDT-style messages (severity "W").
_portal_checks: list[Callable[..., list[dict]]] = []


def register_portal_check(func: Callable[..., list[dict]]) -> None:
    _portal_checks.append(func)


def portal_check_messages(submission) -> list[dict]:
    return [m for func in _portal_checks for m in func(submission=submission)]

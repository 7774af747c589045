"""Master data for the portal's KVDT check: the KBV master files imported for a quarter
(`kvportal kvdt stammdaten import`), read through `kvportal.masterdata.selectors`."""

from __future__ import annotations

from kvportal.core.quarters import Quarter
from kvportal.kvdt.masterdata import MasterData
from kvportal.masterdata import selectors


def for_check(quarter: Quarter | None) -> MasterData:
    """The imported master data valid in `quarter`; empty when none is imported, so the
    protocol names each master file that was missing ("Nicht geprüft: …")."""
    data = selectors.for_quarter(quarter) if quarter is not None else None
    return data if data is not None else MasterData()

# § 304 SGB V, § 43 Ärzte-ZV, seed 000: deletion periods (pure date arithmetic, no Django).
"""The periods of the purges: `deletion_date`, `is_due`, `cutoff` (re-exported by
`core.retention`; Django-free so that `*/rules.py` can use them)."""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

Moment = TypeVar("Moment", dt.date, dt.datetime)


def _shift_years(moment: Moment, years: int) -> Moment:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February in a year without it
        return moment.replace(year=moment.year + years, day=28)


def deletion_date(
    start: dt.date, *, years: int = 0, days: int = 0, end_of_year: bool = False
) -> dt.date:
    """Last day data that started on `start` is kept. `end_of_year`: the period begins at the
    end of the start's year (§ 304 (1) Satz 2 SGB V: 31.12. of year + `years`)."""
    if isinstance(start, dt.datetime):
        start = start.date()
    if end_of_year:
        start = dt.date(start.year, 12, 31)
    return _shift_years(start, years) + dt.timedelta(days=days)


def is_due(deletion: dt.date, today: dt.date) -> bool:
    """Purged once the deletion date has passed (not on the day itself)."""
    return today > deletion


def cutoff(now: Moment, *, years: int = 0, days: int = 0) -> Moment:
    """`now` minus the period: rows that started before it are due."""
    return _shift_years(now, -years) - dt.timedelta(days=days)

# § 304 SGB V, § 43 Ärzte-ZV, seed 000: deletion periods — the shared mechanics of every purge.
"""Helpers of the periodic purges (`core.registry.register_purger`).

- `deletion_date(start, years=…, days=…, end_of_year=…)`: the last day data is kept; the purge
  removes it on the first run after that day (`is_due`). Pure, no Django.
- `cutoff(now, years=…, days=…)`: the moment before which a row's start makes it due — the
  same period counted backwards from now, for queryset filters.
- `purge_in_batches(due, name=…, purge_one=…)`: run `purge_one` on every row of an ordered
  queryset, `PURGE_BATCH_SIZE` rows per query, each row in its own transaction (`purge_one` is
  atomic: a failure keeps what was purged before, the next run goes on); a dry run only counts
  and lists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from kvportal.core.registry import PurgeResult

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


def purge_in_batches(
    due: Any,
    *,
    name: str,
    purge_one: Callable[[Any], object],
    label: Callable[[Any], str] = str,
    dry_run: bool = False,
    batch: int | None = None,
) -> PurgeResult:
    """Purge every row of the ordered queryset `due`. `purge_one(row)` must take the row out of
    `due` (delete or mark it) in a transaction of its own (atomic); a row it leaves in `due` is
    not tried twice in one run. Dry run: the count and the first batch's labels."""
    from django.conf import settings

    from kvportal.core.registry import PurgeResult

    size = int(batch or settings.PURGE_BATCH_SIZE)
    result = PurgeResult(name=name)
    if dry_run:
        result.items = [label(row) for row in due[:size]]
        result.count = due.count()
        return result
    seen: set[Any] = set()
    while True:
        rows = list(due[:size])
        chunk = [row for row in rows if row.pk not in seen]
        if not chunk:
            break
        for row in chunk:
            seen.add(row.pk)
            purge_one(row)
            result.count += 1
            result.items.append(label(row))
        if len(rows) < size:
            break
    return result

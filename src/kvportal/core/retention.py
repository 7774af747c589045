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

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kvportal.core.registry import PurgeResult

from kvportal.core.periods import Moment, cutoff, deletion_date, is_due

__all__ = ["Moment", "cutoff", "deletion_date", "is_due", "purge_in_batches"]


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

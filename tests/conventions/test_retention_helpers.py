"""core/retention.py: the shared deletion dates and the batched purge every purger uses."""

from __future__ import annotations

import datetime as dt

import pytest

from kvportal.core.retention import cutoff, deletion_date, is_due, purge_in_batches


def test_deletion_date_counts_from_the_end_of_the_year_for_section_304():
    # § 304 (1) SGB V: "spätestens nach zehn Jahren", counted from the end of the year
    assert deletion_date(dt.date(2025, 2, 3), years=10, end_of_year=True) == dt.date(2035, 12, 31)
    assert deletion_date(dt.date(2025, 11, 30), years=10, end_of_year=True) == dt.date(2035, 12, 31)


def test_deletion_date_from_the_day_and_29_february():
    assert deletion_date(dt.date(2024, 2, 29), years=5) == dt.date(2029, 2, 28)
    assert deletion_date(dt.date(2026, 3, 1), days=31) == dt.date(2026, 4, 1)
    moment = dt.datetime(2026, 3, 1, 23, 0, tzinfo=dt.UTC)
    assert deletion_date(moment, days=1) == dt.date(2026, 3, 2)


def test_due_only_after_the_deletion_date():
    last = dt.date(2035, 12, 31)
    assert not is_due(last, last)
    assert is_due(last, last + dt.timedelta(days=1))


def test_cutoff_is_the_period_counted_back():
    now = dt.datetime(2028, 2, 29, 12, 0, tzinfo=dt.UTC)
    assert cutoff(now, years=5) == dt.datetime(2023, 2, 28, 12, 0, tzinfo=dt.UTC)
    assert cutoff(now, days=31) == now - dt.timedelta(days=31)
    # a start exactly at the cutoff is kept, one before it is due
    start = cutoff(now, years=5)
    assert deletion_date(start.date(), years=5) == now.date() - dt.timedelta(days=1)


class _Row:
    def __init__(self, pk):
        self.pk = pk

    def __str__(self):
        return f"row {self.pk}"


class _Due:
    """A queryset stand-in: slicing returns the rows still due."""

    def __init__(self, pks, *, sticky=()):
        self.rows = [_Row(pk) for pk in pks]
        self.sticky = set(sticky)
        self.queries = 0

    def __getitem__(self, item):
        self.queries += 1
        return self.rows[item]

    def count(self):
        return len(self.rows)

    def purge(self, row):
        if row.pk not in self.sticky:
            self.rows = [r for r in self.rows if r.pk != row.pk]


def test_purge_in_batches_purges_everything_in_batches():
    due = _Due(range(1, 8))
    result = purge_in_batches(due, name="x", purge_one=due.purge, batch=3)
    assert result.count == 7 and result.items == [f"row {n}" for n in range(1, 8)]
    assert due.rows == [] and due.queries == 3  # 3 + 3 + 1


def test_purge_in_batches_dry_run_changes_nothing():
    due = _Due(range(1, 8))
    result = purge_in_batches(due, name="x", purge_one=due.purge, batch=3, dry_run=True)
    assert result.count == 7 and result.items == ["row 1", "row 2", "row 3"]
    assert len(due.rows) == 7


def test_a_row_that_stays_due_is_not_tried_again_in_the_same_run():
    due = _Due([1, 2], sticky={1})
    tried = []

    def purge_one(row):
        tried.append(row.pk)
        due.purge(row)

    result = purge_in_batches(due, name="x", purge_one=purge_one, batch=2)
    assert tried == [1, 2] and result.count == 2


def test_a_failing_row_stops_the_run_and_keeps_what_was_purged():
    due = _Due([1, 2, 3])

    def purge_one(row):
        if row.pk == 2:
            raise OSError("storage down")
        due.purge(row)

    with pytest.raises(OSError):
        purge_in_batches(due, name="x", purge_one=purge_one, batch=10)
    assert [r.pk for r in due.rows] == [2, 3]

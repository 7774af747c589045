"""1-Click tests: the clock frozen inside the submission window of the quarter just ended before
any data (certificates too) is built; the KV's service mailbox and a practice with a KIM
account (`kimhelpers`). Synthetic data only."""

from __future__ import annotations

import pytest

from tests.oneclick import kimhelpers as kh


@pytest.fixture
def clock():
    with kh.in_submission_window() as quarter:
        yield quarter


@pytest.fixture
def world(clock, db, settings, tmp_path):
    return {**kh.kim_practice(settings, tmp_path, "arztregister.oneclick"), "quarter": clock}

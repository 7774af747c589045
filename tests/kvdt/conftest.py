import datetime as dt

import pytest

from kvportal.core.quarters import Quarter
from kvportal.kvdt import generate

QUARTER = Quarter(2026, 2)
BSNR = "951234500"
TODAY = dt.date(2026, 8, 1)


@pytest.fixture(scope="session")
def clean_file() -> bytes:
    return generate(12, seed=7, quarter=QUARTER, bsnr=BSNR)


@pytest.fixture
def make_file():
    def _make(*inject: str, cases: int = 8, seed: int = 3) -> bytes:
        return generate(cases, seed=seed, quarter=QUARTER, bsnr=BSNR, inject=inject)

    return _make

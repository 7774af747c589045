"""Fixtures for the billing tests: a practice, accounts with and without rights, KVDT files."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kvportal.accounts.constants import AccountKind, Right
from kvportal.core.quarters import Quarter
from kvportal.kvdt import generate
from kvportal.members.constants import Role
from tests.factories import BetriebsstaetteFactory, UserFactory, doctor_account, grant

BERLIN = ZoneInfo("Europe/Berlin")
Q1 = Quarter(2026, 1)
#: inside the regular window of Q1/2026 (30.03.–15.04.2026)
ON_TIME = dt.datetime(2026, 4, 5, 10, 0, tzinfo=BERLIN)
EARLY = dt.datetime(2026, 3, 20, 10, 0, tzinfo=BERLIN)
LATE = dt.datetime(2026, 4, 20, 10, 0, tzinfo=BERLIN)


def kvdt_file(bsnr: str, *, quarter: Quarter = Q1, cases: int = 8, seed: int = 1, inject=()):
    return generate(cases, seed=seed, quarter=quarter, bsnr=bsnr, inject=inject)


def std_name(bsnr: str, *, encrypted: bool = False, minute: int = 30) -> str:
    return f"Z01{bsnr}_05.04.2026_10.{minute:02d}.con" + (".xkm" if encrypted else "")


def upload(content: bytes, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


@pytest.fixture
def practice(db):
    return BetriebsstaetteFactory()


@pytest.fixture
def other_practice(db):
    return BetriebsstaetteFactory()


@pytest.fixture
def doctor(practice):
    """Vertragsarzt with the billing right: signature-entitled."""
    return doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR)


@pytest.fixture
def employed(practice):
    """Employed doctor with the billing right: may upload, may not declare."""
    return doctor_account(practice, Role.ANGESTELLT, Right.BILLING)


@pytest.fixture
def staff_member(practice):
    """Praxispersonal with the billing right."""
    user = UserFactory(kind=AccountKind.PRAXISPERSONAL)
    grant(user, practice, Right.BILLING)
    return user


@pytest.fixture
def outsider(other_practice):
    """A doctor of another practice (billing right there only)."""
    return doctor_account(other_practice, Role.VERTRAGSARZT, Right.BILLING)


@pytest.fixture
def submit_file(django_capture_on_commit_callbacks):
    """`submit_file(actor, practice, content, name, now=..., quarter=...)` runs the whole
    pipeline including the background check (eager, after commit)."""
    from kvportal.billing import services

    def run(actor, practice, content, name=None, *, now=ON_TIME, quarter=Q1, declare=False):
        name = name or std_name(practice.bsnr)
        with django_capture_on_commit_callbacks(execute=True):
            submission = services.receive_submission(
                actor=actor,
                betriebsstaette=practice,
                quarter=quarter,
                upload=upload(content, name),
                filename=name,
                now=now,
                declare=declare,
            )
        submission.refresh_from_db()
        return submission

    return run

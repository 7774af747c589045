"""Issue 14: billing in "Ihre Aufgaben" – the current quarter's submission before its deadline,
a rejected file to correct, a declaration to give; only for those who can act on it."""

from __future__ import annotations

import html

import pytest
import time_machine

from kvportal.accounts.constants import Right
from kvportal.billing import services, todo
from kvportal.billing.models import SubmissionState
from kvportal.core import registry
from kvportal.members.constants import Role
from tests.billing.conftest import ON_TIME, Q1, kvdt_file
from tests.factories import doctor_account

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(ON_TIME, tick=False) as traveller:
        yield traveller


def fresh(user):
    """A new user object, as each request has (the overview is read once per user object)."""
    return type(user).objects.get(pk=user.pk)


def labels(user) -> list[str]:
    return [t.label for t in todo.tasks(fresh(user))]


def test_registered_with_the_start_page():
    assert todo.tasks in registry._task_sources


def test_open_quarter_before_deadline_is_a_task_with_due_date(doctor, practice):
    tasks = todo.tasks(fresh(doctor))
    submit = [t for t in tasks if t.label.startswith("Abrechnung 1/2026")]
    assert len(submit) == 1
    assert practice.bsnr in submit[0].label
    assert submit[0].due.isoformat() == "2026-04-15"  # the regular deadline of Q1/2026
    assert f"bsnr={practice.bsnr}" in submit[0].url and "quarter=2026-1" in submit[0].url
    assert not any("Erklärung" in label for label in labels(doctor))  # nothing accepted yet


def test_rejected_file_becomes_correct_task(doctor, practice, submit_file):
    rejected = submit_file(doctor, practice, kvdt_file(practice.bsnr, inject=["486"]))
    assert rejected.state == SubmissionState.REJECTED
    found = labels(doctor)
    assert f"Korrigierte Abrechnungsdatei 1/2026 für BSNR {practice.bsnr} hochladen" in found
    assert not any(label.startswith("Abrechnung 1/2026") for label in found)


def test_accepted_file_asks_the_entitled_for_the_declaration_only(
    doctor, employed, practice, submit_file
):
    accepted = submit_file(doctor, practice, kvdt_file(practice.bsnr))
    assert accepted.state == SubmissionState.ACCEPTED
    wanted = f"Erklärung zur Abrechnung 1/2026 für BSNR {practice.bsnr} abgeben"
    assert wanted in labels(doctor)
    assert not any(label.startswith("Abrechnung 1/2026") for label in labels(doctor))
    assert wanted not in labels(employed)  # employed doctors cannot give it
    services.give_declaration(actor=doctor, betriebsstaette=practice, quarter=Q1)
    assert wanted not in labels(doctor)


def test_no_billing_tasks_without_the_billing_right(practice):
    reader = doctor_account(practice, Role.ANGESTELLT, Right.DOCS_LANR)
    assert todo.tasks(reader) == []


def test_start_page_lists_the_billing_task(client, doctor, practice):
    client.force_login(doctor)
    page = html.unescape(client.get("/").content.decode())
    assert f"Abrechnung 1/2026 für BSNR {practice.bsnr} einreichen" in page

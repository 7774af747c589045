"""Issue 14 defect 3 and the billing journey: the upload page offers only quarters the user may
submit (Praxispersonal too), says once why others are missing and what to do instead, and
announces a late file before the upload."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from kvportal.billing.models import Submission
from tests.billing.conftest import BERLIN, LATE, ON_TIME, Q1, kvdt_file, std_name, upload
from tests.billing.html import main

pytestmark = pytest.mark.django_db


def choices(response) -> list[str]:
    return [slug for slug, _label in response.context["form"].fields["quarter"].choices]


def changed_password(user, when: dt.datetime) -> None:
    user.first_password_change_at = when
    user.save(update_fields=["first_password_change_at"])


def test_praxispersonal_is_offered_only_quarters_it_may_submit(
    member_client, staff_member, practice
):
    # first password change in Q4/2025: online billing opens with Q1/2026
    changed_password(staff_member, dt.datetime(2025, 11, 10, 9, 0, tzinfo=BERLIN))
    client = member_client(staff_member)
    with time_machine.travel(ON_TIME, tick=False):
        response = client.get("/abrechnung/einreichen/")
        assert choices(response) == [Q1.slug]  # Q4/2025 (late) would be possible by calendar
        page = main(response.content)
        notice = page.by_id("billing-opens").text
        assert "ab dem Quartal 1/2026" in notice and "4/2025" in notice
        assert "Was tun?" in notice and "bisherigen Weg" in notice
        assert page.text.count("nicht online einreichen") == 1  # said once
        # a quarter it may not submit cannot be sent: the form refuses before any upload
        name = std_name(practice.bsnr)
        refused = client.post(
            "/abrechnung/einreichen/",
            {
                "betriebsstaette": practice.pk,
                "quarter": "2025-4",
                "file": upload(kvdt_file(practice.bsnr), name),
            },
        )
    assert refused.status_code == 200 and refused.context["form"].errors["quarter"]
    assert not Submission.objects.exists()


def test_no_quarter_yet_no_form_but_the_reason_and_what_to_do(
    member_client, staff_member, practice
):
    # password changed in Q1/2026: billing opens with Q2/2026, nothing submittable on 5.4.
    changed_password(staff_member, dt.datetime(2026, 2, 10, 9, 0, tzinfo=BERLIN))
    with time_machine.travel(ON_TIME, tick=False):
        page = main(member_client(staff_member).get("/abrechnung/einreichen/").content)
    assert page.by_id("submit-form") is None
    assert page.by_id("no-quarter") is not None
    notice = page.by_id("billing-opens").text
    assert "ab dem Quartal 2/2026" in notice and "1/2026" in notice and "Was tun?" in notice


def test_users_with_billing_open_get_no_notice(member_client, employed, practice):
    with time_machine.travel(ON_TIME, tick=False):
        page = main(member_client(employed).get("/abrechnung/einreichen/").content)
    assert page.by_id("billing-opens") is None and page.by_id("submit-form") is not None


def test_late_file_is_announced_before_the_upload(member_client, employed, practice):
    client = member_client(employed)
    with time_machine.travel(LATE, tick=False):  # 20.04.2026: the Q1 deadline has passed
        response = client.get(f"/abrechnung/einreichen/?bsnr={practice.bsnr}&quarter={Q1.slug}")
    labels = dict(response.context["form"].fields["quarter"].choices)
    assert "verspätet" in labels[Q1.slug]
    page = main(response.content)
    notice = page.by_id("late-notice")
    assert notice is not None and notice.attrs.get("data-chosen-late") == Q1.slug
    assert "1/2026" in notice.text and "15.04.2026" in notice.text
    assert "Nachlieferung" in notice.text
    # the notice comes before the form
    ids = [e.attrs.get("id") for e in page.iter() if e.attrs.get("id")]
    assert ids.index("late-notice") < ids.index("submit-form")


def test_on_time_quarter_is_not_announced_as_late(member_client, employed, practice):
    with time_machine.travel(ON_TIME, tick=False):
        response = member_client(employed).get("/abrechnung/einreichen/")
    labels = dict(response.context["form"].fields["quarter"].choices)
    assert "verspätet" not in labels[Q1.slug]
    late = main(response.content).by_id("late-notice")
    assert late is None or "1/2026" not in late.text  # only older quarters are late

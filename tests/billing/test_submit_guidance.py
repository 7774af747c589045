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


# --- a refusal never loses the file choice --------------------------------------------------


@pytest.fixture
def two_practices(practice, other_practice, doctor):
    """The doctor is entitled at `practice` and employed (billing right only) at the other."""
    from kvportal.accounts.constants import Right
    from kvportal.members.constants import Role
    from tests.factories import TaetigkeitFactory, grant

    TaetigkeitFactory(person=doctor.person, betriebsstaette=other_practice, role=Role.ANGESTELLT)
    grant(doctor, other_practice, Right.BILLING)
    return practice, other_practice


def post(client, practice, **data):
    return client.post(
        "/abrechnung/einreichen/",
        {"betriebsstaette": practice.pk, "quarter": Q1.slug, **data},
    )


def test_refused_upload_keeps_the_file_for_the_corrected_attempt(
    member_client, doctor, two_practices, django_capture_on_commit_callbacks
):
    from kvportal.core.storage import private_storage

    _entitled_at, employed_at = two_practices
    content = kvdt_file(employed_at.bsnr)
    name = std_name(employed_at.bsnr)
    client = member_client(doctor)
    with time_machine.travel(ON_TIME, tick=False):
        # the declaration ticked for a BSNR where the doctor may not give it: refused
        refused = post(client, employed_at, file=upload(content, name), declare="on")
        assert refused.status_code == 200 and not Submission.objects.exists()
        page = main(refused.content)
        assert "unterschriftsberechtigte" in page.text
        held = page.by_id("held-file")
        assert held is not None and name in held.text
        assert held.find_all("input", name="held", value="1")
        kept = client.session["billing_held_upload"]["path"]
        assert private_storage.exists(kept)
        # corrected: without the declaration, without choosing the file again
        with django_capture_on_commit_callbacks(execute=True):
            response = post(client, employed_at, held="1")
    assert response.status_code == 302
    submission = Submission.objects.get()
    assert submission.original_name == name and submission.betriebsstaette == employed_at
    import hashlib

    assert submission.sha256 == hashlib.sha256(content).hexdigest()
    assert not private_storage.exists(kept)  # used: deleted
    assert "billing_held_upload" not in client.session


def test_kept_file_is_only_for_the_next_attempt_and_expires(member_client, doctor, two_practices):
    from kvportal.billing import services
    from kvportal.core.storage import private_storage

    _entitled_at, employed_at = two_practices
    name = std_name(employed_at.bsnr)
    client = member_client(doctor)
    with time_machine.travel(ON_TIME, tick=False):
        post(client, employed_at, file=upload(kvdt_file(employed_at.bsnr), name), declare="on")
        kept = client.session["billing_held_upload"]["path"]
        # without the kept file and without a new one: the file is asked for at the field
        response = post(client, employed_at)
        assert response.context["form"].errors["file"] == [
            "Bitte wählen Sie die Abrechnungsdatei aus."
        ]
        assert not private_storage.exists(kept)
        # a kept file older than an hour is removed by the purger
        post(client, employed_at, file=upload(kvdt_file(employed_at.bsnr), name), declare="on")
        kept = client.session["billing_held_upload"]["path"]
        assert services.purge_held_uploads(now=timezone_now()).count == 0
        later = timezone_now() + dt.timedelta(minutes=services.HELD_MINUTES + 1)
        assert services.purge_held_uploads(now=later, dry_run=True).count == 1
        assert private_storage.exists(kept)
        assert services.purge_held_uploads(now=later).count == 1
        assert not private_storage.exists(kept)
        response = post(client, employed_at, held="1")
    assert "nicht mehr vorhanden" in " ".join(response.context["form"].errors["file"])
    assert not Submission.objects.exists()


def test_a_file_that_is_itself_the_problem_is_not_kept(member_client, employed, practice):
    with time_machine.travel(ON_TIME, tick=False):
        response = post(
            member_client(employed), practice, file=upload(b"irgendwas", "abrechnung.txt")
        )
    assert main(response.content).by_id("held-file") is None
    assert "billing_held_upload" not in response.wsgi_request.session


def timezone_now():
    from django.utils import timezone

    return timezone.now()

"""Member and staff pages: upload → protocol → receipt, scope, staff list and deadlines."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from kvportal.billing.models import Submission, SubmissionState
from kvportal.core.pdf import pdf_text
from tests.billing.conftest import BERLIN, LATE, ON_TIME, Q1, kvdt_file, std_name, upload

pytestmark = pytest.mark.django_db


def post_file(client, practice, content, name=None, **extra):
    name = name or std_name(practice.bsnr)
    return client.post(
        "/abrechnung/einreichen/",
        {
            "betriebsstaette": practice.pk,
            "quarter": Q1.slug,
            "file": upload(content, name),
            **extra,
        },
    )


def test_upload_protocol_receipt(
    member_client, employed, practice, django_capture_on_commit_callbacks
):
    client = member_client(employed)
    with time_machine.travel(ON_TIME, tick=False):
        page = client.get("/abrechnung/einreichen/")
        assert page.status_code == 200
        assert practice.bsnr in page.content.decode()
        assert "declare" not in page.context["form"].fields  # employed: not entitled
        with django_capture_on_commit_callbacks(execute=True):
            response = post_file(client, practice, kvdt_file(practice.bsnr))
        submission = Submission.objects.get()
        assert (
            response.status_code == 302
            and response["Location"] == f"/abrechnung/einreichung/{submission.pk}/"
        )
        detail = client.get(response["Location"]).content.decode()
        assert "Die Abrechnung ist angenommen." in detail
        assert "0 – fehlerfrei" in detail
        assert "ausstehend" in detail  # declaration pending
        status = client.get(f"/abrechnung/einreichung/{submission.pk}/status/").json()
        assert status == {**status, "done": True, "progress": 100, "state": "accepted"}
        receipt = client.get(f"/abrechnung/einreichung/{submission.pk}/empfangsbestaetigung.pdf")
        assert receipt["Content-Type"] == "application/pdf"
        text = pdf_text(receipt.content)
        for needle in (
            practice.bsnr,
            "1/2026",
            submission.original_name,
            submission.sha256[:20],
            str(submission.size),
        ):
            assert needle in text.replace("\n", "")
        protocol = client.get(f"/abrechnung/einreichung/{submission.pk}/protokoll.pdf")
        assert "Prüfprotokoll" in pdf_text(protocol.content)


def test_refusals_are_shown_at_the_form(
    member_client, employed, practice, other_practice, settings
):
    client = member_client(employed)
    with time_machine.travel(ON_TIME, tick=False):
        response = post_file(client, practice, b"abc", name="abrechnung.pdf")
        assert "keine Abrechnungsdatei" in response.content.decode()
        # a BSNR without the right is not even a valid choice
        response = post_file(client, other_practice, kvdt_file(other_practice.bsnr))
        assert response.status_code == 200 and not Submission.objects.exists()
        settings.BILLING_MAX_UPLOAD_BYTES = 500
        response = post_file(client, practice, kvdt_file(practice.bsnr))
        assert "zu groß" in response.content.decode()
    assert not Submission.objects.exists()


def test_duplicate_points_to_the_earlier_submission(member_client, employed, practice, submit_file):
    content = kvdt_file(practice.bsnr)
    first = submit_file(employed, practice, content)
    client = member_client(employed)
    with time_machine.travel(ON_TIME, tick=False):
        response = post_file(client, practice, content)
    body = response.content.decode()
    assert f"/abrechnung/einreichung/{first.pk}/" in body and "bereits am" in body


def test_other_users_cannot_see_a_submission(
    member_client, employed, outsider, practice, submit_file
):
    s = submit_file(employed, practice, kvdt_file(practice.bsnr))
    client = member_client(outsider)
    for url in ("", "status/", "protokoll.pdf", "empfangsbestaetigung.pdf"):
        assert client.get(f"/abrechnung/einreichung/{s.pk}/{url}").status_code == 404
    assert client.get("/abrechnung/kv/").status_code == 404


def test_overview_and_declaration(member_client, doctor, employed, practice, submit_file):
    s = submit_file(employed, practice, kvdt_file(practice.bsnr))
    client = member_client(doctor)
    with time_machine.travel(ON_TIME, tick=False):
        page = client.get("/abrechnung/").content.decode()
        assert s.original_name in page and "Erklärung abgeben" in page
        response = client.post(
            f"/abrechnung/erklaerung/{practice.bsnr}/{Q1.slug}/",
            {"confirm": "1", "next": f"/abrechnung/einreichung/{s.pk}/"},
        )
        assert response.status_code == 302
        detail = client.get(f"/abrechnung/einreichung/{s.pk}/").content.decode()
    assert "Abgegeben am" in detail
    # the employed doctor cannot declare through the URL either
    other = member_client(employed)
    other.post(f"/abrechnung/erklaerung/{practice.bsnr}/2025-4/", {"confirm": "1"})
    from kvportal.billing.models import Declaration

    assert Declaration.objects.count() == 1


def test_staff_list_filter_download_and_kv_result(staff_client, employed, practice, submit_file):
    good = submit_file(employed, practice, kvdt_file(practice.bsnr, seed=1))
    bad = submit_file(employed, practice, kvdt_file(practice.bsnr, seed=2, inject=["486"]))
    client, _ = staff_client("Abrechnung")
    page = client.get("/abrechnung/kv/", {"quarter": Q1.slug, "state": "rejected"})
    assert page.status_code == 200
    listed = [s.pk for s in page.context["page"]]
    assert listed == [bad.pk]
    download = client.get(f"/abrechnung/kv/einreichung/{good.pk}/datei/")
    assert b"".join(download.streaming_content) == kvdt_file(practice.bsnr, seed=1)
    response = client.post(
        f"/abrechnung/kv/einreichung/{good.pk}/", {"result": "accepted", "note": "ok"}
    )
    assert response.status_code == 302
    good.refresh_from_db()
    assert good.kv_result == "accepted"


def test_staff_pages_need_the_abrechnung_role(staff_client, employed, practice, submit_file):
    s = submit_file(employed, practice, kvdt_file(practice.bsnr))
    client, _ = staff_client("Zulassung")
    assert client.get("/abrechnung/kv/").status_code == 404
    assert client.get(f"/abrechnung/kv/einreichung/{s.pk}/datei/").status_code == 404
    assert client.get("/abrechnung/kv/fristen/").status_code == 404


def test_staff_edits_deadline_via_form(staff_client):
    client, _ = staff_client("Abrechnung")
    assert client.get("/abrechnung/kv/fristen/").status_code == 200
    response = client.post(
        f"/abrechnung/kv/fristen/{Q1.slug}/",
        {"early_from": "2026-03-15", "starts": "2026-04-10", "ends": "2026-04-01"},
    )
    assert "nicht nach ihrem Ende" in response.content.decode()
    response = client.post(
        f"/abrechnung/kv/fristen/{Q1.slug}/",
        {"early_from": "2026-03-15", "starts": "2026-03-30", "ends": "2026-04-22"},
    )
    assert response.status_code == 302
    from kvportal.billing.services import window_for

    assert window_for(Q1).ends.isoformat() == "2026-04-22"


def test_rejected_detail_shows_reasons(
    member_client, employed, practice, other_practice, submit_file
):
    s = submit_file(employed, practice, kvdt_file(other_practice.bsnr))
    assert s.state == SubmissionState.REJECTED
    body = member_client(employed).get(f"/abrechnung/einreichung/{s.pk}/").content.decode()
    assert "nicht angenommen" in body and other_practice.bsnr in body


def test_pending_check_shows_progress_and_polls(member_client, employed, practice):
    from kvportal.billing import services

    with time_machine.travel(ON_TIME, tick=False):
        s = services.receive_submission(  # on_commit not executed: the check has not run yet
            actor=employed,
            betriebsstaette=practice,
            quarter=Q1,
            upload=upload(kvdt_file(practice.bsnr), std_name(practice.bsnr)),
            filename=std_name(practice.bsnr),
        )
        client = member_client(employed)
        body = client.get(f"/abrechnung/einreichung/{s.pk}/").content.decode()
        assert 'id="check-progress"' in body and "billing/progress.js" in body
        assert f'data-status-url="/abrechnung/einreichung/{s.pk}/status/"' in body
        assert "<script>" not in body  # CSP: no inline script
        assert client.get(f"/abrechnung/einreichung/{s.pk}/status/").json()["done"] is False
        services.run_check(submission_id=s.pk)
        assert client.get(f"/abrechnung/einreichung/{s.pk}/status/").json()["done"] is True


def test_start_page_panel(member_client, employed, practice, submit_file):
    submit_file(employed, practice, kvdt_file(practice.bsnr))
    with time_machine.travel(ON_TIME, tick=False):
        body = member_client(employed).get("/").content.decode()
    assert 'id="billing-panel"' in body and practice.bsnr in body
    assert "Erklärung zur Abrechnung ausstehend" in body


def test_quarter_choices_follow_the_calendar(
    member_client, employed, practice, django_capture_on_commit_callbacks
):
    with time_machine.travel(dt.datetime(2026, 3, 10, 9, 0, tzinfo=BERLIN), tick=False):
        client = member_client(employed)
        choices = dict(
            client.get("/abrechnung/einreichen/").context["form"].fields["quarter"].choices
        )
        assert Q1.slug not in choices and "2025-4" in choices  # Q1 not yet, Q4/2025 late
    with time_machine.travel(dt.datetime(2026, 3, 16, 9, 0, tzinfo=BERLIN), tick=False):
        client = member_client(employed)
        choices = dict(
            client.get("/abrechnung/einreichen/").context["form"].fields["quarter"].choices
        )
        assert Q1.slug in choices  # early submission from 15.03.
    with time_machine.travel(LATE, tick=False):
        client = member_client(employed)
        with django_capture_on_commit_callbacks(execute=True):
            post_file(client, practice, kvdt_file(practice.bsnr))
        s = Submission.objects.get()
        assert s.is_late and s.state == SubmissionState.ACCEPTED
        body = client.get(f"/abrechnung/einreichung/{s.pk}/").content.decode()
        assert "verspätet" in body

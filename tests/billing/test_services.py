"""Billing services: receive, check, refusals, replacement history, declaration, deadlines."""

from __future__ import annotations

import datetime as dt

import pytest

from kvportal.audit.models import AccessLogEntry
from kvportal.billing import services
from kvportal.billing.models import Declaration, Submission, SubmissionState
from kvportal.core.quarters import Quarter
from kvportal.core.storage import private_storage
from tests.billing.conftest import LATE, ON_TIME, Q1, kvdt_file, std_name, upload

pytestmark = pytest.mark.django_db


def codes(exc_info) -> list[str]:
    return [p.code for p in exc_info.value.problems]


def test_valid_file_is_stored_checked_and_current(employed, practice, submit_file):
    content = kvdt_file(practice.bsnr)
    s = submit_file(employed, practice, content)
    assert s.state == SubmissionState.ACCEPTED
    assert s.check_status == 0
    assert s.is_current and not s.is_late and s.timing == "on_time"
    assert s.progress == 100
    assert s.size == len(content)
    import hashlib

    assert s.sha256 == hashlib.sha256(content).hexdigest()
    with private_storage.open(s.storage_name, "rb") as fh:
        assert fh.read() == content
    assert s.report["stats"]["cases"] == 8
    assert s.report["bsnrs"][0] == practice.bsnr
    events = set(
        AccessLogEntry.objects.filter(object_id=str(s.pk)).values_list("detail__event", flat=True)
    )
    assert {"billing.received", "billing.checked"} <= events


def test_file_with_warnings_is_accepted(employed, practice, submit_file):
    s = submit_file(employed, practice, kvdt_file(practice.bsnr, inject=["SYN-BLANK"]))
    assert s.check_status == 1
    assert s.state == SubmissionState.ACCEPTED and s.is_current


def test_faulty_file_is_rejected_with_protocol(employed, practice, submit_file):
    s = submit_file(employed, practice, kvdt_file(practice.bsnr, inject=["324"]))
    assert s.check_status == 2
    assert s.state == SubmissionState.REJECTED and not s.is_current
    assert [p["code"] for p in s.problems] == ["check_faulty"]
    assert "324" in {m["rule"] for m in s.report["messages"]}


def test_garbage_is_aborted(employed, practice, submit_file):
    s = submit_file(employed, practice, b"this is not KVDT\r\n")
    assert s.check_status == 3
    assert s.state == SubmissionState.REJECTED
    assert [p["code"] for p in s.problems] == ["check_aborted"]


def test_besa_bsnr_other_than_chosen_is_rejected(employed, practice, other_practice, submit_file):
    s = submit_file(employed, practice, kvdt_file(other_practice.bsnr))
    assert s.state == SubmissionState.REJECTED
    assert [p["code"] for p in s.problems] == ["besa_bsnr_mismatch"]
    assert "KV-BSNR" in {m["rule"] for m in s.report["messages"]}
    mismatch = next(p for p in s.problems if p["code"] == "besa_bsnr_mismatch")
    assert mismatch["params"] == {"found": other_practice.bsnr, "chosen": practice.bsnr}


def test_quarter_other_than_chosen_is_rejected(employed, practice, submit_file):
    content = kvdt_file(practice.bsnr, quarter=Quarter(2025, 4))
    s = submit_file(employed, practice, content)
    assert s.state == SubmissionState.REJECTED
    assert [p["code"] for p in s.problems] == ["quarter_mismatch"]


def test_no_right_is_refused_and_audited(outsider, practice):
    with pytest.raises(services.Refused) as exc:
        services.receive_submission(
            actor=outsider,
            betriebsstaette=practice,
            quarter=Q1,
            upload=upload(kvdt_file(practice.bsnr), std_name(practice.bsnr)),
            filename=std_name(practice.bsnr),
            now=ON_TIME,
        )
    assert codes(exc) == ["no_right"]
    assert practice.bsnr in exc.value.texts[0]
    assert not Submission.objects.exists()
    entry = AccessLogEntry.objects.get(detail__event="billing.refused")
    assert entry.detail["codes"] == ["no_right"] and entry.user == outsider


def test_billing_not_open_before_quarter_after_first_password_change(employed, practice):
    # password changed in February 2026 → online billing from Q2/2026 on
    employed.first_password_change_at = dt.datetime(2026, 2, 10, 9, 0, tzinfo=dt.UTC)
    employed.save()
    with pytest.raises(services.Refused) as exc:
        services.receive_submission(
            actor=employed,
            betriebsstaette=practice,
            quarter=Q1,
            upload=upload(kvdt_file(practice.bsnr), std_name(practice.bsnr)),
            filename=std_name(practice.bsnr),
            now=ON_TIME,
        )
    assert codes(exc) == ["billing_not_open"]
    assert "2/2026" in exc.value.texts[0]


def test_never_changed_password_is_refused(employed, practice):
    employed.first_password_change_at = None
    employed.save()
    with pytest.raises(services.Refused) as exc:
        services.receive_submission(
            actor=employed,
            betriebsstaette=practice,
            quarter=Q1,
            upload=upload(kvdt_file(practice.bsnr), std_name(practice.bsnr)),
            filename=std_name(practice.bsnr),
            now=ON_TIME,
        )
    assert codes(exc) == ["billing_not_open_no_password_change"]


def test_too_early_is_refused(employed, practice):
    with pytest.raises(services.Refused) as exc:
        services.receive_submission(
            actor=employed,
            betriebsstaette=practice,
            quarter=Q1,
            upload=upload(kvdt_file(practice.bsnr), std_name(practice.bsnr)),
            filename=std_name(practice.bsnr),
            now=dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC),
        )
    assert codes(exc) == ["too_early"]
    assert "15.03.2026" in exc.value.texts[0]


@pytest.mark.parametrize(
    ("name", "code"),
    [("abrechnung.txt", "filename_extension"), ("privat.con.xkm", "filename_xkm_not_standard")],
)
def test_bad_file_names_are_refused(employed, practice, name, code):
    with pytest.raises(services.Refused) as exc:
        services.receive_submission(
            actor=employed,
            betriebsstaette=practice,
            quarter=Q1,
            upload=upload(b"x", name),
            filename=name,
            now=ON_TIME,
        )
    assert codes(exc) == [code]


def test_empty_and_too_large_files_are_refused(employed, practice, settings):
    with pytest.raises(services.Refused) as exc:
        services.receive_submission(
            actor=employed,
            betriebsstaette=practice,
            quarter=Q1,
            upload=upload(b"", "a.con"),
            filename="a.con",
            now=ON_TIME,
        )
    assert codes(exc) == ["file_empty"]
    settings.BILLING_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(services.Refused) as exc:
        services.receive_submission(
            actor=employed,
            betriebsstaette=practice,
            quarter=Q1,
            upload=upload(kvdt_file(practice.bsnr), "a.con"),
            filename="a.con",
            now=ON_TIME,
        )
    assert codes(exc) == ["file_too_large"]
    assert "1000" in exc.value.texts[0]


def test_identical_file_is_refused_with_pointer(employed, doctor, practice, submit_file):
    content = kvdt_file(practice.bsnr)
    first = submit_file(employed, practice, content)
    with pytest.raises(services.Refused) as exc:
        submit_file(doctor, practice, content, std_name(practice.bsnr, minute=45))
    assert codes(exc) == ["duplicate"]
    assert exc.value.duplicate == first
    assert f"Nr. {first.pk}" in exc.value.texts[0]
    assert Submission.objects.count() == 1


def test_identical_faulty_file_is_refused_too(employed, practice, submit_file):
    content = kvdt_file(practice.bsnr, inject=["486"])
    first = submit_file(employed, practice, content)
    assert first.state == SubmissionState.REJECTED
    with pytest.raises(services.Refused) as exc:
        submit_file(employed, practice, content)
    assert exc.value.duplicate == first


def test_new_file_before_deadline_replaces_keeping_history(employed, practice, submit_file):
    first = submit_file(employed, practice, kvdt_file(practice.bsnr, seed=1), now=ON_TIME)
    second = submit_file(
        employed, practice, kvdt_file(practice.bsnr, seed=2), now=ON_TIME + dt.timedelta(days=3)
    )
    first.refresh_from_db()
    assert second.is_current and second.replaces == first
    assert not first.is_current and first.replaced_at is not None
    assert first.timing == second.timing == "on_time"
    assert Submission.objects.filter(betriebsstaette=practice, quarter=Q1.slug).count() == 2
    assert AccessLogEntry.objects.filter(detail__event="billing.replaced").count() == 1


def test_rejected_new_file_does_not_replace(employed, practice, submit_file):
    good = submit_file(employed, practice, kvdt_file(practice.bsnr, seed=1))
    bad = submit_file(employed, practice, kvdt_file(practice.bsnr, seed=2, inject=["486"]))
    good.refresh_from_db()
    assert good.is_current and not bad.is_current and good.replaced_at is None


def test_late_file_is_accepted_and_marked_late(employed, practice, submit_file):
    s = submit_file(employed, practice, kvdt_file(practice.bsnr), now=LATE)
    assert s.state == SubmissionState.ACCEPTED
    assert s.is_late and s.is_current and not s.is_supplement


def test_late_file_after_a_valid_one_is_a_supplement(employed, practice, submit_file):
    on_time = submit_file(employed, practice, kvdt_file(practice.bsnr, seed=1))
    late = submit_file(employed, practice, kvdt_file(practice.bsnr, seed=2), now=LATE)
    on_time.refresh_from_db()
    assert on_time.is_current and on_time.replaced_at is None
    assert late.is_late and late.is_supplement and not late.is_current


def test_encrypted_file_is_stored_for_the_kv(employed, practice, submit_file):
    s = submit_file(employed, practice, b"\x00\x01opaque", std_name(practice.bsnr, encrypted=True))
    assert s.state == SubmissionState.KV_CHECK
    assert s.kind == "xkm" and s.check_status is None and s.is_current and s.is_done


def test_encrypted_file_of_another_bsnr_is_refused(employed, practice, other_practice):
    name = std_name(other_practice.bsnr, encrypted=True)
    with pytest.raises(services.Refused) as exc:
        services.receive_submission(
            actor=employed,
            betriebsstaette=practice,
            quarter=Q1,
            upload=upload(b"opaque", name),
            filename=name,
            now=ON_TIME,
        )
    assert codes(exc) == ["filename_bsnr_mismatch"]


def test_run_check_is_idempotent(employed, practice, submit_file):
    s = submit_file(employed, practice, kvdt_file(practice.bsnr))
    checked_at = s.checked_at
    again = services.run_check(submission_id=s.pk)
    assert again.checked_at == checked_at
    assert AccessLogEntry.objects.filter(detail__event="billing.checked").count() == 1


def test_check_reports_progress(employed, practice, django_capture_on_commit_callbacks):
    seen = []
    original = Submission.objects.filter

    def spy(*args, **kwargs):
        qs = original(*args, **kwargs)
        update = qs.update

        def recording_update(**values):
            if "progress" in values:
                seen.append(values["progress"])
            return update(**values)

        qs.update = recording_update
        return qs

    content = kvdt_file(practice.bsnr, cases=300)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        s = services.receive_submission(
            actor=employed,
            betriebsstaette=practice,
            quarter=Q1,
            upload=upload(content, std_name(practice.bsnr)),
            filename=std_name(practice.bsnr),
            now=ON_TIME,
        )
    assert len(callbacks) == 1
    Submission.objects.filter = spy
    try:
        services.run_check(submission_id=s.pk)
    finally:
        Submission.objects.filter = original
    assert seen[0] == 0 and any(0 < p < 100 for p in seen)
    assert seen == sorted(seen)
    s.refresh_from_db()
    assert s.progress == 100


# --- Erklärung zur Abrechnung ------------------------------------------------------------


def test_entitled_doctor_declares(doctor, practice, submit_file):
    with pytest.raises(services.Refused) as exc:  # never blind: no accepted file yet
        services.give_declaration(actor=doctor, betriebsstaette=practice, quarter=Q1)
    assert codes(exc) == ["declaration_no_submission"]
    submit_file(doctor, practice, kvdt_file(practice.bsnr))
    d = services.give_declaration(actor=doctor, betriebsstaette=practice, quarter=Q1)
    assert d.method == "portal" and d.given_by == doctor
    assert practice.bsnr in d.text and "1/2026" in d.text
    assert AccessLogEntry.objects.filter(detail__event="billing.declaration").exists()
    with pytest.raises(services.Refused) as exc:
        services.give_declaration(actor=doctor, betriebsstaette=practice, quarter=Q1)
    assert codes(exc) == ["declaration_exists"]


@pytest.mark.parametrize("who", ["employed", "staff_member", "outsider"])
def test_not_entitled_cannot_declare(who, request, practice):
    user = request.getfixturevalue(who)
    with pytest.raises(services.Refused) as exc:
        services.give_declaration(actor=user, betriebsstaette=practice, quarter=Q1)
    assert codes(exc) == ["not_entitled"]
    assert not Declaration.objects.exists()


def test_aerztlicher_leiter_is_entitled(practice):
    from kvportal.accounts.constants import Right
    from kvportal.members.constants import Role
    from tests.factories import doctor_account

    leiter = doctor_account(practice, Role.AERZTLICHER_LEITER, Right.DOCS_BSNR)
    assert services.may_declare(leiter, practice)


def test_upload_by_employed_leaves_declaration_pending(employed, doctor, practice, submit_file):
    from kvportal.billing import selectors

    submit_file(employed, practice, kvdt_file(practice.bsnr))
    assert selectors.declaration_for(practice, Q1) is None
    services.give_declaration(actor=doctor, betriebsstaette=practice, quarter=Q1)
    assert selectors.declaration_for(practice, Q1).given_by == doctor


def test_declaration_with_upload(doctor, employed, practice, submit_file):
    s = submit_file(doctor, practice, kvdt_file(practice.bsnr), declare=True)
    assert Declaration.objects.get(betriebsstaette=practice, quarter=Q1.slug).given_by == doctor
    assert s.state == SubmissionState.ACCEPTED
    with pytest.raises(services.Refused) as exc:
        submit_file(employed, practice, kvdt_file(practice.bsnr, seed=5), declare=True)
    assert codes(exc) == ["not_entitled"]


# --- deadlines ---------------------------------------------------------------------------


def test_staff_edits_deadline_and_timing_follows(staff_client, employed, practice, submit_file):
    _, clerk = staff_client("Abrechnung")
    services.set_deadline(
        actor=clerk,
        quarter=Q1,
        early_from=dt.date(2026, 3, 15),
        starts=dt.date(2026, 3, 30),
        ends=dt.date(2026, 4, 30),
        note="Verlängert wegen Feiertagen",
    )
    s = submit_file(employed, practice, kvdt_file(practice.bsnr), now=LATE)
    assert s.timing == "on_time" and not s.is_late
    services.reset_deadline(actor=clerk, quarter=Q1)
    assert services.window_for(Q1).ends == dt.date(2026, 4, 15)
    events = list(
        AccessLogEntry.objects.filter(detail__event__startswith="billing.deadline").values_list(
            "detail__event", flat=True
        )
    )
    assert sorted(events) == ["billing.deadline_reset", "billing.deadline_set"]


def test_deadline_edit_needs_billing_staff_and_a_consistent_window(staff_client, doctor):
    _, registrar = staff_client("Arztregister")
    kwargs = dict(
        quarter=Q1,
        early_from=dt.date(2026, 3, 15),
        starts=dt.date(2026, 3, 30),
        ends=dt.date(2026, 4, 15),
    )
    for actor in (doctor, registrar):
        with pytest.raises(PermissionError):
            services.set_deadline(actor=actor, **kwargs)
    _, clerk = staff_client("Abrechnung")
    with pytest.raises(services.Refused) as exc:
        services.set_deadline(actor=clerk, **{**kwargs, "ends": dt.date(2026, 3, 1)})
    assert "window_start_after_end" in codes(exc)

"""The portal check of a submission warns when 86900/86901 exceed the portal's counts or the
quarterly cap; billing knows the check only through its registry."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from kvportal.arztbrief import checks
from kvportal.arztbrief.rules import billed_gops
from kvportal.billing import checkdata
from kvportal.billing.models import Submission
from kvportal.core.quarters import Quarter
from kvportal.core.storage import private_storage
from kvportal.kvdt.reader import encode_line, iter_fields
from tests.arztbrief.test_flow import sent_letter
from tests.billing.conftest import kvdt_file, std_name, submit_file  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def con_file(lanr: str, *, versand: int, empfang: int) -> bytes:
    lines = [encode_line("8000", "0101"), encode_line("3000", "1")]
    for _ in range(versand):
        lines += [encode_line("5001", "86900"), encode_line("5099", lanr)]
    for _ in range(empfang):
        lines += [encode_line("5001", "86901"), encode_line("5099", lanr)]
    return b"".join(lines)


def submission_with(practice, user, content: bytes, quarter: Quarter) -> Submission:
    path = private_storage.save("test/arztbrief.con", ContentFile(content))
    return Submission.objects.create(
        betriebsstaette=practice,
        quarter=quarter.slug,
        kind="con",
        original_name="Z01.con",
        storage_name=path,
        size=len(content),
        sha256="0" * 64,
        submitted_by=user,
        submitted_by_name="Test",
        timing="on_time",
        state="checking",
    )


def billed(side, quarter: Quarter, *, versand: int, empfang: int) -> Submission:
    """A .con of the side's doctor with `versand` × 86900 and `empfang` × 86901."""
    content = con_file(side.doctor.person.lanr, versand=versand, empfang=empfang)
    return submission_with(side.practice, side.doctor, content, quarter)


def test_the_check_is_registered_with_billing():
    assert checks.portal_check in checkdata._portal_checks


def test_counts_from_the_portal_allow_what_was_sent(kim_world, new_card):
    author, _colleague = sent_letter(kim_world, new_card)
    quarter = Quarter.of(timezone.localdate())
    ok = billed(author, quarter, versand=1, empfang=0)
    assert checkdata.portal_check_messages(ok) == []
    over = billed(author, quarter, versand=2, empfang=1)
    rules = {m["rule"]: m for m in checkdata.portal_check_messages(over)}
    assert set(rules) == {"ARZTBRIEF-OVER_SENT", "ARZTBRIEF-OVER_RECEIVED"}
    assert "nur 1" in rules["ARZTBRIEF-OVER_SENT"]["text"]
    assert rules["ARZTBRIEF-OVER_SENT"]["severity"] == "W"
    # another quarter: nothing counted there
    before = billed(author, quarter.previous(), versand=1, empfang=0)
    assert [m["rule"] for m in checkdata.portal_check_messages(before)] == ["ARZTBRIEF-OVER_SENT"]


def test_cap_warning_names_the_amount(db):
    from tests.factories import BetriebsstaetteFactory, doctor_account

    practice = BetriebsstaetteFactory()
    doctor = doctor_account(practice)
    quarter = Quarter.of(timezone.localdate())
    sub = submission_with(practice, doctor, con_file("123456601", versand=84, empfang=0), quarter)
    texts = {m["rule"]: m["text"] for m in checks.portal_check(submission=sub)}
    assert "23,52 €" in texts["ARZTBRIEF-OVER_CAP"] and "23,40 €" in texts["ARZTBRIEF-OVER_CAP"]


def test_unreadable_file_gives_no_warning_and_no_crash(db):
    from tests.factories import BetriebsstaetteFactory, doctor_account

    practice = BetriebsstaetteFactory()
    sub = submission_with(practice, doctor_account(practice), b"", Quarter.of(timezone.localdate()))
    sub.storage_name = "does/not/exist.con"
    assert checks.portal_check(submission=sub) == []


def test_whole_billing_check_carries_the_warning(submit_file):  # noqa: F811
    """Through billing's pipeline: a generated file with one service turned into 86900."""
    from kvportal.accounts.constants import Right
    from kvportal.members.constants import Role
    from tests.factories import BetriebsstaetteFactory, doctor_account

    practice = BetriebsstaetteFactory()
    doctor = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING)
    content = kvdt_file(practice.bsnr)
    lines = content.split(b"\r\n")
    idx = next(i for i, line in enumerate(lines) if line[3:7] == b"5001")
    lines[idx] = encode_line("5001", "86900").rstrip(b"\r\n")
    content = b"\r\n".join(lines)
    billed = billed_gops((f.fk, f.value) for f in iter_fields(__import__("io").BytesIO(content)))
    lanr = next(lanr for lanr, gops in billed.items() if gops.get("86900"))
    submission = submit_file(doctor, practice, content)
    rules = [m["rule"] for m in submission.report["messages"]]
    assert "ARZTBRIEF-OVER_SENT" in rules, submission.report
    message = next(m for m in submission.report["messages"] if m["rule"] == "ARZTBRIEF-OVER_SENT")
    assert f"LANR {lanr}" in message["text"]
    assert submission.check_status >= 1

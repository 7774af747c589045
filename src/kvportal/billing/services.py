# Seed 001 / KV Sachsen Abrechnungsannahme: online billing only with the billing right (seed 000)
# and from the quarter after the first password change; every step is written to the access log.
"""Write operations of the billing app: receive a file, check it, settle replacement, give the
Erklärung zur Abrechnung, edit deadlines, KV result for encrypted files."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone

from kvportal import audit
from kvportal.accounts import scope
from kvportal.accounts.constants import AccountKind, Right, StaffRole
from kvportal.accounts.rules import billing_opens_quarter
from kvportal.audit.models import Activity
from kvportal.billing import hooks, messages, rules
from kvportal.billing.models import (
    Channel,
    Declaration,
    DeclarationMethod,
    KvResult,
    Submission,
    SubmissionDeadline,
    SubmissionState,
)
from kvportal.billing.rules import FileKind, Problem
from kvportal.core.quarters import Quarter
from kvportal.core.registry import PurgeResult
from kvportal.core.storage import private_storage
from kvportal.members.constants import SIGNATURE_ROLES
from kvportal.members.models import Betriebsstaette, Taetigkeit

if TYPE_CHECKING:
    from kvportal.accounts.models import User

logger = logging.getLogger(__name__)

#: The stored protocol keeps at most this many messages (the counts are always complete).
MAX_STORED_MESSAGES = 2000

DECLARATION_TEXT = (
    "Erklärung zur Abrechnung: Hiermit erkläre ich für die Betriebsstätte {bsnr} und das "
    "Quartal {quarter}, dass die abgerechneten Leistungen persönlich oder unter meiner "
    "Verantwortung von den dazu berechtigten Personen gemäß den vertragsärztlichen "
    "Bestimmungen erbracht wurden und dass die Abrechnung sachlich und rechnerisch richtig "
    "ist."
)


class Refused(Exception):
    """The request is refused; `problems` say why (German texts via `messages`)."""

    def __init__(self, problems: list[Problem], *, duplicate: Submission | None = None) -> None:
        self.problems = problems
        self.duplicate = duplicate
        super().__init__("; ".join(p.code for p in problems))

    @property
    def texts(self) -> list[str]:
        return messages.texts(self.problems)


# --------------------------------------------------------------------------------------------
# helpers


def max_upload_bytes() -> int:
    return int(
        settings.BILLING_MAX_UPLOAD_BYTES
        or settings.MAX_UPLOAD_MB * 1024 * 1024
        or rules.DEFAULT_MAX_UPLOAD_BYTES
    )


def window_for(quarter: Quarter) -> rules.SubmissionWindow:
    override = SubmissionDeadline.objects.filter(quarter=quarter.slug).first()
    return override.as_window() if override else rules.default_window(quarter)


def windows_around(day: dt.date, *, back: int = 8, ahead: int = 2) -> dict[Quarter, Any]:
    quarters = [Quarter.of(day)]
    for _ in range(back):
        quarters.append(quarters[-1].previous())
    quarter = Quarter.of(day)
    for _ in range(ahead):
        quarter = quarter.next()
        quarters.append(quarter)
    overrides = {
        d.quarter: d.as_window()
        for d in SubmissionDeadline.objects.filter(quarter__in=[q.slug for q in quarters])
    }
    return {q: overrides.get(q.slug) or rules.default_window(q) for q in quarters}


def billing_opens_for(user: Any) -> Quarter | None:
    changed = getattr(user, "first_password_change_at", None)
    if changed is None:
        return None
    return billing_opens_quarter(timezone.localdate(changed))


def may_declare(user: Any, betriebsstaette: Betriebsstaette) -> bool:
    """Signature-entitled: a doctor's own account (not Praxispersonal) with an active
    Tätigkeit as Vertragsarzt/Gesellschafter or Ärztlicher Leiter at the BSNR, and access to
    the BSNR in the portal."""
    if not getattr(user, "is_authenticated", False) or user.kind != AccountKind.MEMBER:
        return False
    if not user.person_id:
        return False
    if not scope.practices(user).filter(pk=betriebsstaette.pk).exists():
        return False
    return (
        Taetigkeit.objects.active()
        .filter(person_id=user.person_id, betriebsstaette=betriebsstaette, role__in=SIGNATURE_ROLES)
        .exists()
    )


def _sha256_and_size(upload: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    upload.seek(0)
    chunks = (
        upload.chunks() if hasattr(upload, "chunks") else iter(lambda: upload.read(1 << 20), b"")
    )
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return digest.hexdigest(), size


def _audit_refusal(actor: User, betriebsstaette: Betriebsstaette | None, detail: dict) -> None:
    with transaction.atomic():
        audit.record(
            actor=actor,
            activity=Activity.SUBMIT,
            bsnr=betriebsstaette.bsnr if betriebsstaette else "",
            object_type="billing.submission",
            object_repr=str(detail.get("name", ""))[:300],
            detail={"event": "billing.refused", **detail},
        )


# --------------------------------------------------------------------------------------------
# receiving a file


def receive_submission(
    *,
    actor: User,
    betriebsstaette: Betriebsstaette,
    quarter: Quarter,
    upload: IO[bytes],
    filename: str,
    channel: Channel | str = Channel.WEB,
    declare: bool = False,
    now: dt.datetime | None = None,
) -> Submission:
    """Check the request, store the file, create the submission and start its check.

    Refusals (raised as `Refused`, written to the access log): no billing right, billing not
    yet open for the user, too early, bad file name, empty or too large, identical file
    already uploaded for this BSNR (the exception carries that submission)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    name = rules.clean_filename(filename)
    problems: list[Problem] = []
    duplicate = None
    try:
        if not scope.has_right(actor, betriebsstaette, Right.BILLING):
            raise Refused([Problem("no_right", {"bsnr": betriebsstaette.bsnr})])
        problems += rules.billing_open_problems(quarter, billing_opens_for(actor))
        problems += rules.timing_problems(window_for(quarter), today)
        problems += rules.filename_problems(name, chosen_bsnr=betriebsstaette.bsnr)
        if declare and not may_declare(actor, betriebsstaette):
            problems.append(Problem("not_entitled", {"bsnr": betriebsstaette.bsnr}))
        declared = Declaration.objects.filter(
            betriebsstaette=betriebsstaette, quarter=quarter.slug
        ).first()
        if problems:
            raise Refused(problems)
        declared_size = getattr(upload, "size", None)
        if declared_size is not None:
            problems += rules.size_problems(int(declared_size), max_upload_bytes())
            if problems:
                raise Refused(problems)
        sha256, size = _sha256_and_size(upload)
        problems += rules.size_problems(size, max_upload_bytes())
        if problems:
            raise Refused(problems)
        # a file whose check never finished (stalled, or ended in a technical error) does not
        # make the same file a duplicate: the new upload is checked, the old one closed
        duplicate = (
            countable_duplicates(betriebsstaette=betriebsstaette, sha256=sha256, now=now)
            .order_by("received_at")
            .first()
        )
        if duplicate is not None:
            raise Refused(
                [
                    Problem(
                        "duplicate",
                        {
                            "received_at": duplicate.received_at,
                            "bsnr": betriebsstaette.bsnr,
                            "quarter": str(duplicate.quarter_obj),
                            "id": duplicate.pk,
                            "name": duplicate.original_name,
                        },
                    )
                ],
                duplicate=duplicate,
            )
    except Refused as refused:
        _audit_refusal(
            actor,
            betriebsstaette,
            {
                "name": name,
                "quarter": str(quarter),
                "codes": [p.code for p in refused.problems],
                "duplicate_of": duplicate.pk if duplicate else None,
            },
        )
        raise

    kind = rules.parse_filename(name).kind
    assert kind is not None  # filename_problems refused other names
    storage_name = (
        f"billing/{betriebsstaette.bsnr}/{quarter.slug}/{uuid.uuid4().hex}"
        f"{'.con.xkm' if kind is FileKind.ENCRYPTED else '.con'}"
    )
    upload.seek(0)
    stored_name = private_storage.save(storage_name, upload)
    try:
        submission = _create_submission(
            actor=actor,
            betriebsstaette=betriebsstaette,
            quarter=quarter,
            kind=kind,
            name=name,
            stored_name=stored_name,
            size=size,
            sha256=sha256,
            channel=channel,
            now=now,
            declare=declare and declared is None,
        )
    except Exception:
        private_storage.delete(stored_name)
        raise
    return submission


@transaction.atomic
def _create_submission(
    *,
    actor: User,
    betriebsstaette: Betriebsstaette,
    quarter: Quarter,
    kind: FileKind,
    name: str,
    stored_name: str,
    size: int,
    sha256: str,
    channel: str,
    now: dt.datetime,
    declare: bool,
) -> Submission:
    timing = rules.classify_timing(window_for(quarter), timezone.localdate(now))
    encrypted = kind is FileKind.ENCRYPTED
    submission = Submission.objects.create(
        betriebsstaette=betriebsstaette,
        quarter=quarter.slug,
        kind=kind.value,
        original_name=name[:255],
        storage_name=stored_name,
        size=size,
        sha256=sha256,
        received_at=now,
        submitted_by=actor,
        submitted_by_name=str(getattr(actor, "display_name", "") or actor.get_username())[:200],
        channel=channel,
        timing=timing.value,
        state=SubmissionState.KV_CHECK if encrypted else SubmissionState.PENDING,
        progress=100 if encrypted else 0,
    )
    audit.record(
        actor=actor,
        activity=Activity.SUBMIT,
        obj=submission,
        detail={
            "event": "billing.received",
            "quarter": str(quarter),
            "size": size,
            "sha256": sha256,
            "timing": timing.value,
            "channel": str(channel),
            "kind": kind.value,
        },
    )
    if declare:
        # with the file (as in 1-Click): takes effect when the file is accepted (_settle)
        submission.declare_on_accept = actor
        submission.save(update_fields=["declare_on_accept"])
    _close_unfinished_twins(submission, now=now)
    if encrypted:
        _settle(submission, now=now)
    else:
        from kvportal.billing.tasks import check_submission
        from kvportal.core.tasks import enqueue

        enqueue(check_submission, submission.pk)
    return submission


def _settle(submission: Submission, *, now: dt.datetime) -> None:
    """Make an accepted submission current, replacing an earlier one before the deadline."""
    current = (
        Submission.objects.select_for_update()
        .filter(
            betriebsstaette_id=submission.betriebsstaette_id,
            quarter=submission.quarter,
            is_current=True,
        )
        .exclude(pk=submission.pk)
        .first()
    )
    decision = rules.decide_replacement(
        rules.Timing(submission.timing), has_current=current is not None
    )
    if decision is rules.Replacement.SUPPLEMENT:
        submission.is_supplement = True
        submission.save(update_fields=["is_supplement"])
        _declare_with_file(submission)  # the quarter has an accepted (current) file
        return
    if decision is rules.Replacement.REPLACES:
        assert current is not None
        current.is_current = False
        current.replaced_at = now
        current.save(update_fields=["is_current", "replaced_at"])
        submission.replaces = current
        audit.record(
            actor=None,
            activity=Activity.UPDATE,
            obj=current,
            detail={"event": "billing.replaced", "replaced_by": submission.pk},
        )
    submission.is_current = True
    submission.save(update_fields=["is_current", "replaces"])
    _declare_with_file(submission)


def _declare_with_file(submission: Submission) -> None:
    """The declaration given with this file takes effect now that the file is accepted (if the
    declarer is still entitled and none was given meanwhile)."""
    actor = submission.declare_on_accept
    if actor is None:
        return
    quarter = submission.quarter_obj
    practice = submission.betriebsstaette
    if Declaration.objects.filter(betriebsstaette=practice, quarter=quarter.slug).exists():
        return
    if not may_declare(actor, practice):
        return
    _create_declaration(
        actor=actor,
        betriebsstaette=practice,
        quarter=quarter,
        evidence={"with_submission": submission.pk},
    )


# --------------------------------------------------------------------------------------------
# the check (runs in the background task)


def _report_dict(report: Any) -> dict:
    data = report.to_dict() if hasattr(report, "to_dict") else dict(report)
    msgs = list(data.get("messages") or [])
    data["message_count"] = len(msgs)
    if len(msgs) > MAX_STORED_MESSAGES:
        data["messages"] = msgs[:MAX_STORED_MESSAGES]
        data["messages_truncated"] = True
    return data


def _file_quarter(value: Any) -> Quarter | None:
    if value is None or value == "":
        return None
    if isinstance(value, Quarter):
        return value
    if hasattr(value, "year") and hasattr(value, "quarter"):
        return Quarter(int(value.year), int(value.quarter))
    try:
        return Quarter.parse(str(value))
    except ValueError:
        return None


# Durability of the check (issue 11): a run holds a lease on the submission (token + expiry,
# renewed while it reads); only the holder of the current token may write the result, so the
# protocol of a submission is written exactly once even when a killed run is redelivered.


class TransientCheckError(Exception):
    """Database or storage failed during the check; the task retries with back-off."""


class LeaseLost(Exception):
    """Another run took the submission over (this run's lease had expired)."""


def lease_seconds() -> int:
    return int(settings.BILLING_CHECK_LEASE_SECONDS)


def max_attempts() -> int:
    return int(settings.BILLING_CHECK_MAX_ATTEMPTS)


def _stalled_q(now: dt.datetime):
    from django.db.models import Q

    grace = now - dt.timedelta(seconds=lease_seconds())
    return Q(state=SubmissionState.CHECKING, lease_until__lt=now) | Q(
        state=SubmissionState.PENDING, received_at__lt=grace
    )


def stalled_checks(*, now: dt.datetime):
    """Plain-file checks that stopped: lease expired, or never started within one lease."""
    return Submission.objects.filter(_stalled_q(now), purged_at__isnull=True).exclude(
        kind=FileKind.ENCRYPTED.value
    )


def countable_duplicates(*, betriebsstaette: Betriebsstaette, sha256: str, now: dt.datetime):
    """Earlier uploads of the same file that make a new upload a duplicate: not those whose
    check stalled or ended in a technical error, nor those closed for that reason."""
    same = Submission.objects.filter(betriebsstaette=betriebsstaette, sha256=sha256)
    unfinished = same.filter(_stalled_q(now)).values("pk")
    broken = [
        s.pk
        for s in same.filter(state=SubmissionState.REJECTED).only("pk", "problems")
        if any(p.get("code") in ("check_internal", "check_superseded") for p in s.problems)
    ]
    return same.exclude(pk__in=unfinished).exclude(pk__in=broken)


def _close_unfinished_twins(submission: Submission, *, now: dt.datetime) -> None:
    """A re-upload of a file whose check stalled closes the stalled submission (rejected,
    reason named), so that it is neither checked again nor counted."""
    twins = stalled_checks(now=now).filter(
        betriebsstaette_id=submission.betriebsstaette_id, sha256=submission.sha256
    )
    for twin in twins.exclude(pk=submission.pk).select_for_update():
        problem = Problem(
            "check_superseded",
            {"received_at": timezone.localtime(submission.received_at), "id": submission.pk},
        )
        twin.state = SubmissionState.REJECTED
        twin.check_token = ""
        twin.lease_until = None
        twin.problems = [messages.stored(problem)]
        twin.save(update_fields=["state", "check_token", "lease_until", "problems"])
        audit.record(
            actor=None,
            activity=Activity.UPDATE,
            obj=twin,
            detail={"event": "billing.check_superseded", "by": submission.pk},
        )


def _claim(submission_id: int) -> str | None:
    """Take the lease of a pending or stalled check; None if it is done or held by a live run.

    One conditional UPDATE (compare-and-set), so two deliveries of the same task never both
    run the check."""
    from django.db.models import F, Q

    now = timezone.now()
    token = uuid.uuid4().hex
    claimed = Submission.objects.filter(
        Q(state=SubmissionState.PENDING)
        | Q(state=SubmissionState.CHECKING, lease_until__lt=now)
        | Q(state=SubmissionState.CHECKING, lease_until__isnull=True),
        pk=submission_id,
        purged_at__isnull=True,
    ).update(
        state=SubmissionState.CHECKING,
        check_token=token,
        lease_until=now + dt.timedelta(seconds=lease_seconds()),
        check_attempts=F("check_attempts") + 1,
        progress=0,
    )
    return token if claimed else None


def _release(submission_id: int, token: str) -> None:
    """Give a lease back after a transient error, so a retry or the recovery takes it up."""
    try:
        Submission.objects.filter(pk=submission_id, check_token=token).update(
            state=SubmissionState.PENDING, lease_until=None, check_token=""
        )
    except Exception:  # the database may still be down: the lease then simply runs out
        logger.warning("could not release the lease of submission %s", submission_id)


class _Throttled:
    """Test-only (setting BILLING_CHECK_TEST_DELAY): read in 64 KiB pieces and sleep after each,
    so fault tests can kill a check mid-way. Never set in production."""

    def __init__(self, fileobj: IO[bytes], delay: float) -> None:
        self._f = fileobj
        self._delay = delay

    def read(self, n: int = -1) -> bytes:
        import time

        data = self._f.read(65536 if n is None or n < 0 else min(n, 65536))
        if data:
            time.sleep(self._delay)
        return data


def run_check(*, submission_id: int) -> Submission | None:
    """Validate a stored `.con` file with `kvportal.kvdt` and settle the result.

    Idempotent and exactly-once: the run takes the submission's lease first; a submission that
    is done, or whose check is held by a live run, is left alone. The lease is renewed with the
    progress; the result is written only by the holder of the lease. Database and storage
    errors raise `TransientCheckError` (the lease is given back; the task retries)."""
    submission = Submission.objects.filter(pk=submission_id).first()
    if submission is None or submission.is_done or submission.is_encrypted:
        return submission
    token = _claim(submission_id)
    if token is None:
        return Submission.objects.filter(pk=submission_id).first()
    submission.refresh_from_db()
    if submission.check_attempts > max_attempts():
        # the check kept dying (e.g. a worker killed by the file): stop, say so, keep the file
        logger.warning(
            "billing check of submission %s gave up after %s attempts",
            submission.pk,
            submission.check_attempts - 1,
        )
        return _finish_check(
            submission_id=submission.pk,
            token=token,
            status=rules.CHECK_ABORTED,
            problems=[Problem("check_internal")],
            report={},
        )
    last: dict[str, Any] = {"percent": -1, "renewed": timezone.now()}
    total = max(submission.size, 1)
    lease = lease_seconds()

    def progress(bytes_read: int) -> None:
        percent = min(99, rules.progress_percent(int(bytes_read), total))
        now = timezone.now()
        renew = (now - last["renewed"]).total_seconds() >= lease / 3
        if percent >= last["percent"] + 2 or renew:
            last["percent"] = max(percent, last["percent"])
            fields = {"progress": last["percent"]}
            if renew:
                fields["lease_until"] = now + dt.timedelta(seconds=lease)
                last["renewed"] = now
            if not Submission.objects.filter(pk=submission.pk, check_token=token).update(**fields):
                raise LeaseLost(submission.pk)

    problems: list[Problem] = []
    report_data: dict = {}
    status = rules.CHECK_ABORTED
    delay = float(settings.BILLING_CHECK_TEST_DELAY or 0)
    try:
        from kvportal.billing.checkdata import for_check
        from kvportal.kvdt import validate_file

        with private_storage.open(submission.storage_name, "rb") as fileobj:
            report = validate_file(
                # validate_file only calls read(), which the test-only _Throttled provides
                cast("BinaryIO", _Throttled(fileobj, delay)) if delay else fileobj,
                expected_quarter=submission.quarter_obj,
                expected_bsnr=submission.betriebsstaette.bsnr,
                today=timezone.localdate(submission.received_at),
                progress=progress,
                masterdata=for_check(submission.quarter_obj),
            )
        report_data = _report_dict(report)
        status = int(report.status)
        from kvportal.billing.checkdata import portal_check_messages

        if extra := portal_check_messages(submission):  # registered checks (issue 16)
            report_data["messages"] = extra + list(report_data.get("messages") or [])
            report_data["message_count"] = report_data.get("message_count", 0) + len(extra)
            status = rules.CHECK_WARNINGS if status == rules.CHECK_OK else status
        if status != rules.CHECK_ABORTED:
            problems = rules.content_problems(
                chosen_bsnr=submission.betriebsstaette.bsnr,
                chosen_quarter=submission.quarter_obj,
                file_bsnrs=list(getattr(report, "bsnrs", []) or []),
                file_quarter=_file_quarter(getattr(report, "quarter", None)),
            )
    except LeaseLost:
        logger.info("billing check of submission %s was taken over", submission.pk)
        return Submission.objects.filter(pk=submission_id).first()
    except (DatabaseError, OSError) as exc:
        logger.warning(
            "billing check of submission %s: transient %s", submission.pk, type(exc).__name__
        )
        _release(submission.pk, token)
        raise TransientCheckError(str(submission.pk)) from exc
    except Exception:
        logger.exception("billing check failed for submission %s", submission.pk)
        problems = [Problem("check_internal")]
    own_rules = {"KV-BSNR", "KV-QUARTAL"}  # already explained by the content problems
    other_errors = [
        m
        for m in report_data.get("messages", [])
        if m.get("severity") == "F" and m.get("rule") not in own_rules
    ]
    if status == rules.CHECK_FAULTY and (other_errors or not problems):
        problems.append(Problem("check_faulty"))
    elif status == rules.CHECK_ABORTED and not any(p.code == "check_internal" for p in problems):
        problems.append(Problem("check_aborted"))
    try:
        return _finish_check(
            submission_id=submission.pk,
            token=token,
            status=status,
            problems=problems,
            report=report_data,
        )
    except DatabaseError as exc:
        _release(submission.pk, token)
        raise TransientCheckError(str(submission.pk)) from exc


@transaction.atomic
def _finish_check(
    *, submission_id: int, token: str, status: int, problems: list[Problem], report: dict
) -> Submission:
    submission = Submission.objects.select_for_update().get(pk=submission_id)
    if submission.is_done or submission.check_token != token:
        return submission  # finished by another run: the result is written exactly once
    now = timezone.now()
    accepted = rules.check_accepts(status) and not problems
    submission.check_status = status
    submission.problems = [messages.stored(p) for p in problems]
    submission.report = report
    submission.progress = 100
    submission.checked_at = now
    submission.lease_until = None
    submission.state = SubmissionState.ACCEPTED if accepted else SubmissionState.REJECTED
    submission.save(
        update_fields=[
            "check_status",
            "problems",
            "report",
            "progress",
            "checked_at",
            "state",
            "lease_until",
        ]
    )
    if accepted:
        _settle(submission, now=now)
    hooks.check_done("submission", submission.pk)
    audit.record(
        actor=None,
        activity=Activity.UPDATE,
        obj=submission,
        detail={
            "event": "billing.checked",
            "status": status,
            "state": submission.state,
            "codes": [p.code for p in problems],
            "attempt": submission.check_attempts,
        },
    )
    return submission


def recover_stalled_checks(*, now: dt.datetime) -> int:
    """Registered recoverer: queue the check again for every stalled submission (idempotent:
    the check itself takes the lease, so queuing twice runs it once)."""
    from kvportal.billing.tasks import check_submission

    ids = list(stalled_checks(now=now).order_by("received_at").values_list("pk", flat=True)[:100])
    for pk in ids:
        logger.info("billing check of submission %s stalled: started again", pk)
        check_submission.delay(pk)
    return len(ids)


def recheck_allowed(submission: Submission, *, now: dt.datetime | None = None) -> bool:
    """Staff may start a check again for a plain file that is kept, unless a live run holds
    it: a stalled check, or a rejection by a technical error or an aborted check."""
    now = now or timezone.now()
    if submission.is_encrypted or submission.is_purged or submission.is_current:
        return False
    if submission.state == SubmissionState.CHECKING:
        return submission.lease_until is None or submission.lease_until < now
    if submission.state == SubmissionState.PENDING:
        return True
    codes = {p.get("code") for p in submission.problems}
    return submission.state == SubmissionState.REJECTED and bool(
        codes & {"check_internal", "check_aborted"}
    )


def restart_check(*, actor: User, submission: Submission) -> Submission:
    """Staff (Abrechnung): check the file of a submission again (see `recheck_allowed`)."""
    _require_billing_staff(actor)
    from kvportal.billing.tasks import check_submission
    from kvportal.core.tasks import enqueue

    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission.pk)
        if not recheck_allowed(submission):
            raise Refused([Problem("recheck_not_allowed", {"id": submission.pk})])
        previous = {"state": submission.state, "check_status": submission.check_status}
        submission.state = SubmissionState.PENDING
        submission.check_token = ""
        submission.lease_until = None
        submission.check_attempts = 0
        submission.check_status = None
        submission.checked_at = None
        submission.problems = []
        submission.report = {}
        submission.progress = 0
        submission.save(
            update_fields=[
                "state",
                "check_token",
                "lease_until",
                "check_attempts",
                "check_status",
                "checked_at",
                "problems",
                "report",
                "progress",
            ]
        )
        audit.record(
            actor=actor,
            activity=Activity.STAFF_ACTION,
            obj=submission,
            detail={"event": "billing.recheck", **previous},
        )
        enqueue(check_submission, submission.pk)
    submission.refresh_from_db()
    return submission


# --------------------------------------------------------------------------------------------
# Erklärung zur Abrechnung


def accepted_submission(betriebsstaette: Betriebsstaette, quarter: Quarter) -> Submission | None:
    """The valid (accepted, current) submission of a BSNR and quarter, if any."""
    return (
        Submission.objects.filter(
            betriebsstaette=betriebsstaette, quarter=quarter.slug, is_current=True
        )
        .order_by("-received_at")
        .first()
    )


def covered_lanrs(betriebsstaette: Betriebsstaette, quarter: Quarter) -> list[str]:
    """LANRs of the doctors with a Tätigkeit at the BSNR during the quarter (the declaration
    covers their services)."""
    from django.db.models import Q

    rows = Taetigkeit.objects.filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=quarter.start),
        betriebsstaette=betriebsstaette,
        valid_from__lte=quarter.end,
    ).select_related("person")
    return sorted({t.person.lanr for t in rows if t.person.lanr})


def declaration_text(betriebsstaette: Betriebsstaette, quarter: Quarter) -> str:
    """The full wording of the declaration for a BSNR and quarter, with the LANRs it covers."""
    text = DECLARATION_TEXT.format(bsnr=betriebsstaette.bsnr, quarter=quarter)
    lanrs = covered_lanrs(betriebsstaette, quarter)
    if lanrs:
        text += (
            " Sie umfasst die Leistungen der Ärztinnen und Ärzte mit den lebenslangen "
            f"Arztnummern (LANR) {', '.join(lanrs)}."
        )
    return text


def _create_declaration(
    *,
    actor: User,
    betriebsstaette: Betriebsstaette,
    quarter: Quarter,
    method: str = DeclarationMethod.PORTAL,
    evidence: dict | None = None,
) -> Declaration:
    declaration = Declaration.objects.create(
        betriebsstaette=betriebsstaette,
        quarter=quarter.slug,
        given_by=actor,
        given_by_name=str(actor.display_name)[:200],
        method=method,
        text=declaration_text(betriebsstaette, quarter),
        evidence={"lanrs": covered_lanrs(betriebsstaette, quarter), **(evidence or {})},
    )
    audit.record(
        actor=actor,
        activity=Activity.SIGN,
        obj=declaration,
        detail={"event": "billing.declaration", "quarter": str(quarter), "method": method},
    )
    return declaration


@transaction.atomic
def give_declaration(
    *,
    actor: User,
    betriebsstaette: Betriebsstaette,
    quarter: Quarter,
    method: DeclarationMethod | str = DeclarationMethod.PORTAL,
    evidence: dict | None = None,
) -> Declaration:
    """Only signature-entitled doctors may give it; once per BSNR and quarter; only for a
    quarter with an accepted submission (issue 14 defect 2: never blind). A declaration with a
    file that is still being checked is given with the upload (`receive_submission(declare=)`)
    and takes effect when the file is accepted."""
    if not may_declare(actor, betriebsstaette):
        raise Refused([Problem("not_entitled", {"bsnr": betriebsstaette.bsnr})])
    accepted = accepted_submission(betriebsstaette, quarter)
    if accepted is None:
        raise Refused(
            [
                Problem(
                    "declaration_no_submission",
                    {"bsnr": betriebsstaette.bsnr, "quarter": str(quarter)},
                )
            ]
        )
    if accepted.kv_result == KvResult.REJECTED:
        # the KV sent the file back: the declaration waits for the corrected file
        raise Refused(
            [
                Problem(
                    "declaration_kv_rejected",
                    {"bsnr": betriebsstaette.bsnr, "quarter": str(quarter)},
                )
            ]
        )
    existing = Declaration.objects.filter(
        betriebsstaette=betriebsstaette, quarter=quarter.slug
    ).first()
    if existing is not None:
        raise Refused(
            [
                Problem(
                    "declaration_exists",
                    {
                        "bsnr": betriebsstaette.bsnr,
                        "quarter": str(quarter),
                        "given_at": existing.given_at,
                        "given_by": existing.given_by_name,
                    },
                )
            ]
        )
    return _create_declaration(
        actor=actor,
        betriebsstaette=betriebsstaette,
        quarter=quarter,
        method=method,
        evidence=evidence,
    )


# --------------------------------------------------------------------------------------------
# staff (Abrechnung)


def _require_billing_staff(actor: User) -> None:
    if not scope.is_staff_role(actor, StaffRole.ABRECHNUNG):
        raise PermissionError("Nur für die Abrechnungsabteilung der KV.")


@transaction.atomic
def set_deadline(
    *,
    actor: User,
    quarter: Quarter,
    early_from: dt.date,
    starts: dt.date,
    ends: dt.date,
    note: str = "",
) -> SubmissionDeadline:
    _require_billing_staff(actor)
    window = rules.SubmissionWindow(quarter, early_from=early_from, starts=starts, ends=ends)
    problems = window.problems()
    if problems:
        raise Refused(problems)
    deadline, created = SubmissionDeadline.objects.update_or_create(
        quarter=quarter.slug,
        defaults={
            "early_from": early_from,
            "starts": starts,
            "ends": ends,
            "note": note,
            "updated_by": actor,
            "updated_at": timezone.now(),
        },
    )
    audit.record(
        actor=actor,
        activity=Activity.STAFF_ACTION,
        obj=deadline,
        detail={
            "event": "billing.deadline_set",
            "quarter": str(quarter),
            "early_from": early_from.isoformat(),
            "starts": starts.isoformat(),
            "ends": ends.isoformat(),
            "created": created,
        },
    )
    return deadline


@transaction.atomic
def reset_deadline(*, actor: User, quarter: Quarter) -> None:
    _require_billing_staff(actor)
    deleted, _ = SubmissionDeadline.objects.filter(quarter=quarter.slug).delete()
    audit.record(
        actor=actor,
        activity=Activity.STAFF_ACTION,
        object_type="billing.submissiondeadline",
        object_repr=str(quarter),
        detail={"event": "billing.deadline_reset", "quarter": str(quarter), "deleted": deleted},
    )


@transaction.atomic
def set_kv_result(
    *, actor: User, submission: Submission, result: KvResult | str, note: str = ""
) -> Submission:
    """The KV's own check of a submission (mainly encrypted files). A rejection
    („zurückgewiesen“) is a destructive decision (issue 14): it needs a reason, which is the
    note the practice sees with the result and goes into the audit event."""
    _require_billing_staff(actor)
    rejected = result == KvResult.REJECTED
    note = " ".join(note.split()) if rejected else note
    if rejected and not note:
        raise ValidationError({"reason": "Bitte geben Sie den Grund der Zurückweisung an."})
    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    submission.kv_result = result
    submission.kv_note = note[:500]
    submission.save(update_fields=["kv_result", "kv_note"])
    detail = {"event": "billing.kv_result", "result": str(result)}
    if rejected:
        detail["reason"] = submission.kv_note
    audit.record(actor=actor, activity=Activity.STAFF_ACTION, obj=submission, detail=detail)
    return submission


# --------------------------------------------------------------------------------------------
# reads that must be logged (seed 000: "abgerufene Dokumente")


@transaction.atomic
def log_access(*, actor: User, submission: Submission, what: str, download: bool = True) -> None:
    audit.record(
        actor=actor,
        activity=Activity.DOWNLOAD if download else Activity.VIEW,
        obj=submission,
        detail={"event": f"billing.{what}"},
    )


# --------------------------------------------------------------------------- held uploads
# Issue 14 defect 3: a refusal never loses the file choice. The chosen file of a refused upload
# is kept in private storage (patient data: never under MEDIA_URL) for `HELD_MINUTES`, only for
# the user who chose it; it is deleted when used, replaced or expired (purger).

HELD_PREFIX = "billing-held"
HELD_MINUTES = 60
#: refusals where the file itself is the problem: keeping it would not help
FILE_PROBLEMS = {
    "duplicate",
    "file_empty",
    "file_too_large",
    "file_too_large_limit",
    "filename_empty",
    "filename_chars",
    "filename_too_long",
    "filename_extension",
    "filename_xkm_not_standard",
}


def hold_upload(*, actor: User, upload: IO[bytes], filename: str) -> dict[str, str]:
    """Keep a refused upload's file for the next attempt; returns what the session keeps."""
    upload.seek(0)
    stamp = int(timezone.now().timestamp())  # the portal's clock, read back by the purger
    stored = private_storage.save(
        f"{HELD_PREFIX}/{actor.pk}/{stamp}-{uuid.uuid4().hex}.bin", upload
    )
    return {"path": stored, "name": rules.clean_filename(filename)[:255]}


def open_held(*, actor: User, held: dict | None):
    """The kept file of this user, or None (expired, or not this user's)."""
    path = (held or {}).get("path", "")
    if not path.startswith(f"{HELD_PREFIX}/{actor.pk}/") or ".." in path:
        return None
    if not private_storage.exists(path):
        return None
    return private_storage.open(path, "rb")


def drop_held(held: dict | None) -> None:
    path = (held or {}).get("path", "")
    if path.startswith(f"{HELD_PREFIX}/") and private_storage.exists(path):
        private_storage.delete(path)


def purge_held_uploads(*, now: dt.datetime, dry_run: bool = False) -> PurgeResult:
    """Delete kept files of refused uploads after `HELD_MINUTES` (registered purger)."""
    result = PurgeResult(name="Zwischengespeicherte Abrechnungsdateien")
    cutoff = now - dt.timedelta(minutes=HELD_MINUTES)
    try:
        users, _files = private_storage.listdir(HELD_PREFIX)
    except (FileNotFoundError, OSError):
        return result
    for user_dir in users:
        _dirs, files = private_storage.listdir(f"{HELD_PREFIX}/{user_dir}")
        for name in files:
            path = f"{HELD_PREFIX}/{user_dir}/{name}"
            stamp = name.split("-", 1)[0]
            kept_at = (
                dt.datetime.fromtimestamp(int(stamp), tz=dt.UTC)
                if stamp.isdigit()
                else private_storage.get_modified_time(path)
            )
            if kept_at < cutoff:
                result.count += 1
                if not dry_run:
                    private_storage.delete(path)
    return result


# --------------------------------------------------------------------------- purge
# § 304 (1) SGB V: the billing file and its protocol (patient numbers) are deleted at the latest
# ten years after the end of the year of the quarter; the row keeps BSNR, quarter, file name,
# SHA-256, receipt time and the deletion time (`purged_at`).


def _due_for_purge(today: dt.date):
    cutoff = rules.purge_before(today)
    return Submission.objects.filter(purged_at__isnull=True, quarter__lt=cutoff.slug)


def purge_expired_submissions(*, now: dt.datetime, dry_run: bool = False) -> PurgeResult:
    """Delete the files and protocols of submissions past their deletion date, in batches.

    Idempotent: purged rows carry `purged_at` and are never picked again. Dry run only lists.
    """
    from kvportal.core.retention import purge_in_batches
    from kvportal.documents.rules import local_date

    due = _due_for_purge(local_date(now)).select_related("betriebsstaette")
    return purge_in_batches(
        due.order_by("quarter", "pk"),
        name="Abrechnungsdateien (§ 304 SGB V)",
        purge_one=lambda submission: _purge_one(submission, now=now),
        label=_purge_label,
        dry_run=dry_run,
    )


def _purge_label(submission: Submission) -> str:
    return (
        f"Abrechnung {submission.quarter_obj} BSNR {submission.betriebsstaette.bsnr} "
        f"(ID {submission.pk}, Löschung nach {submission.deletion_date:%d.%m.%Y})"
    )


@transaction.atomic
def _purge_one(submission: Submission, *, now: dt.datetime) -> None:
    name = submission.storage_name
    submission.report = {}
    submission.kv_note = ""
    submission.storage_name = ""
    submission.purged_at = now
    submission.save(update_fields=["report", "kv_note", "storage_name", "purged_at"])
    audit.record(
        actor=None,
        activity=Activity.DELETE,
        obj=submission,
        bsnr=submission.betriebsstaette.bsnr,
        object_repr=f"Abrechnung {submission.quarter_obj} (§ 304 SGB V)",
        username="system",
        detail={
            "event": "billing.purged",
            "sha256": submission.sha256,
            "deletion_date": submission.deletion_date.isoformat(),
        },
    )
    # The file goes last, inside the transaction: if removing it fails, nothing is committed and
    # the next run tries again; a file already missing is not an error.
    if name:
        private_storage.delete(name)

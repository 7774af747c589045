# KV Sachsen Abgabefristen (Quartalsabrechnung): window 30th of the last quarter month to the
# 15th of the following month, early submission 15 days before; late files accepted, marked late.
"""Pure billing rules (no Django): submission windows and timing, file names, size limit,
replacement decisions and the per-quarter overview status.

Rules return codes (`Problem.code` with parameters); the Django layer turns them into German
messages (`kvportal.billing.messages`).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from kvportal.core.quarters import Quarter

#: Day of the last quarter month on which the regular window opens (30.03., 30.06., 30.09., 30.12.).
DEFAULT_START_DAY = 30
#: Day of the month after the quarter on which the window closes (15.04., 15.07., 15.10., 15.01.).
DEFAULT_END_DAY = 15
#: Early submission is possible this many days before the regular window opens.
DEFAULT_EARLY_DAYS = 15
#: Default upload limit (bytes); a large MVZ's KVDT file is a few dozen MB.
DEFAULT_MAX_UPLOAD_BYTES = 256 * 1024 * 1024
#: Longest file name we keep (most file systems allow 255 bytes).
MAX_FILENAME_LENGTH = 200


@dataclass(frozen=True)
class Problem:
    """A reason to refuse (or to warn about) something, with parameters for the message."""

    code: str
    params: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Submission windows


@dataclass(frozen=True)
class SubmissionWindow:
    """Abgabezeitraum for one quarter. All dates are calendar days in Europe/Berlin, inclusive."""

    quarter: Quarter
    early_from: dt.date
    starts: dt.date
    ends: dt.date

    def problems(self) -> list[Problem]:
        """Consistency of a (staff-edited) window."""
        found: list[Problem] = []
        if self.early_from > self.starts:
            found.append(Problem("window_early_after_start"))
        if self.starts > self.ends:
            found.append(Problem("window_start_after_end"))
        if self.early_from < self.quarter.start:
            found.append(Problem("window_early_before_quarter", {"quarter": str(self.quarter)}))
        if self.ends < self.quarter.end:
            found.append(Problem("window_end_in_quarter", {"quarter": str(self.quarter)}))
        return found


def default_window(quarter: Quarter) -> SubmissionWindow:
    """KV Sachsen defaults: 30.03.–15.04., 30.06.–15.07., 30.09.–15.10., 30.12.–15.01."""
    last_month = 3 * quarter.quarter
    starts = dt.date(quarter.year, last_month, DEFAULT_START_DAY)
    following = quarter.next().start
    ends = dt.date(following.year, following.month, DEFAULT_END_DAY)
    return SubmissionWindow(
        quarter=quarter,
        early_from=starts - dt.timedelta(days=DEFAULT_EARLY_DAYS),
        starts=starts,
        ends=ends,
    )


class Timing(enum.StrEnum):
    TOO_EARLY = "too_early"  # before the early-submission date: refused
    EARLY = "early"  # early submission (Vorababgabe), accepted
    ON_TIME = "on_time"  # within the regular window
    LATE = "late"  # after the deadline: accepted, marked late


def classify_timing(window: SubmissionWindow, day: dt.date) -> Timing:
    if day < window.early_from:
        return Timing.TOO_EARLY
    if day < window.starts:
        return Timing.EARLY
    if day <= window.ends:
        return Timing.ON_TIME
    return Timing.LATE


def timing_problems(window: SubmissionWindow, day: dt.date) -> list[Problem]:
    if classify_timing(window, day) is Timing.TOO_EARLY:
        return [
            Problem(
                "too_early",
                {"quarter": str(window.quarter), "early_from": window.early_from},
            )
        ]
    return []


def submittable_quarters(
    day: dt.date,
    windows: dict[Quarter, SubmissionWindow] | None = None,
    *,
    opens: Quarter | None = None,
    back: int = 4,
) -> list[Quarter]:
    """Quarters a user may choose on `day`, newest first: every quarter whose early submission
    has begun, going back `back` quarters from the current one (late files stay possible),
    and not before `opens` (the first quarter billing is open for the user)."""
    windows = windows or {}
    current = Quarter.of(day)
    result = []
    quarter = current
    for _ in range(back + 1):
        window = windows.get(quarter) or default_window(quarter)
        if classify_timing(window, day) is not Timing.TOO_EARLY and (
            opens is None or quarter >= opens
        ):
            result.append(quarter)
        quarter = quarter.previous()
    return result


def billing_open_problems(quarter: Quarter, opens: Quarter | None) -> list[Problem]:
    """Online billing is possible from the quarter after the first password change
    (`opens`, computed by the accounts app); `None` = the password was never changed."""
    if opens is None:
        return [Problem("billing_not_open_no_password_change")]
    if quarter < opens:
        return [Problem("billing_not_open", {"quarter": str(quarter), "opens": str(opens)})]
    return []


# --------------------------------------------------------------------------------------------
# File names (KVDT DSB §1.9.2: Zhhnnnnnnnnn_TT.MM.JJJJ_hh.mm.con, encrypted + .xkm)


class FileKind(enum.StrEnum):
    PLAIN = "con"  # readable KVDT: the portal validates it
    ENCRYPTED = "xkm"  # KBV-Kryptomodul output: opaque, checked by the KV itself


_STANDARD_NAME = re.compile(
    r"^[Zz](?P<packages>[0-9A-Fa-f]{2})(?P<bsnr>\d{9})_"
    r"(?P<day>\d{2})\.(?P<month>\d{2})\.(?P<year>\d{4})_(?P<hour>\d{2})\.(?P<minute>\d{2})"
    r"\.con(?:\.xkm)?$",
    re.IGNORECASE,
)
_FORBIDDEN_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f/\\]")


@dataclass(frozen=True)
class FileName:
    name: str
    kind: FileKind | None
    #: values from a standard KVDT name, else None
    bsnr: str | None = None
    packages: str | None = None
    created: dt.datetime | None = None

    @property
    def standard(self) -> bool:
        return self.bsnr is not None


def clean_filename(raw: str) -> str:
    """The file's own name without any directory part a browser may send (`C:\\…\\Z01….con`)."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    return name.strip()


def parse_filename(raw: str) -> FileName:
    name = clean_filename(raw)
    lower = name.lower()
    if lower.endswith(".con.xkm"):
        kind: FileKind | None = FileKind.ENCRYPTED
    elif lower.endswith(".con"):
        kind = FileKind.PLAIN
    else:
        kind = None
    match = _STANDARD_NAME.match(name)
    if not match:
        return FileName(name=name, kind=kind)
    created: dt.datetime | None
    try:
        created = dt.datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
        )
    except ValueError:
        created = None
    return FileName(
        name=name,
        kind=kind,
        bsnr=match["bsnr"],
        packages=match["packages"].upper(),
        created=created,
    )


def filename_problems(raw: str, *, chosen_bsnr: str | None = None) -> list[Problem]:
    """Refusal reasons for an uploaded file's name.

    - the name must end in `.con` (plain KVDT) or `.con.xkm` (encrypted), case-insensitive;
    - no control characters, at most MAX_FILENAME_LENGTH characters;
    - an encrypted file must carry the standard KVDT name, because its BSNR is the only one
      the portal can check; the BSNR in that name must be the chosen BSNR.
    A plain file's BSNR is checked from its content (besa), not from its name.
    """
    info = parse_filename(raw)
    found: list[Problem] = []
    if not info.name:
        return [Problem("filename_empty")]
    if _FORBIDDEN_NAME_CHARS.search(info.name):
        found.append(Problem("filename_chars"))
    if len(info.name) > MAX_FILENAME_LENGTH:
        found.append(Problem("filename_too_long", {"max_chars": MAX_FILENAME_LENGTH}))
    if info.kind is None:
        found.append(Problem("filename_extension", {"name": info.name}))
        return found
    if info.kind is FileKind.ENCRYPTED:
        if not info.standard:
            found.append(Problem("filename_xkm_not_standard", {"name": info.name}))
        elif chosen_bsnr and info.bsnr != chosen_bsnr:
            found.append(
                Problem("filename_bsnr_mismatch", {"found": info.bsnr, "chosen": chosen_bsnr})
            )
    return found


def size_problems(size: int, max_bytes: int) -> list[Problem]:
    if size <= 0:
        return [Problem("file_empty")]
    if size > max_bytes:
        return [Problem("file_too_large", {"size": size, "max": max_bytes})]
    return []


# --------------------------------------------------------------------------------------------
# Content checks against the choice (the KVDT report gives besa BSNRs and the quarter)


def content_problems(
    *,
    chosen_bsnr: str,
    chosen_quarter: Quarter,
    file_bsnrs: Iterable[str],
    file_quarter: Quarter | None,
) -> list[Problem]:
    """The first besa BSNR (the billing Betriebsstätte, from which the file name is built,
    KVDT P2-53) must be the chosen BSNR, and the file's quarter (adt0 9204) the chosen one.
    Further besa BSNRs (Nebenbetriebsstätten) are allowed."""
    found: list[Problem] = []
    bsnrs = list(dict.fromkeys(file_bsnrs))
    if not bsnrs or bsnrs[0] != chosen_bsnr:
        found.append(
            Problem(
                "besa_bsnr_mismatch",
                {"found": bsnrs[0] if bsnrs else "–", "chosen": chosen_bsnr},
            )
        )
    if file_quarter is None:
        found.append(Problem("quarter_missing", {"chosen": str(chosen_quarter)}))
    elif file_quarter != chosen_quarter:
        found.append(
            Problem(
                "quarter_mismatch",
                {"found": str(file_quarter), "chosen": str(chosen_quarter)},
            )
        )
    return found


# --------------------------------------------------------------------------------------------
# Outcome and replacement


#: KBV check-module result codes (XPM): 0 OK, 1 warnings, 2 faulty, 3 aborted.
CHECK_OK, CHECK_WARNINGS, CHECK_FAULTY, CHECK_ABORTED = 0, 1, 2, 3


def check_accepts(status: int) -> bool:
    """The KV can process a file with result 0 or 1; 2 and 3 are refused (KBV XPM handbook)."""
    return status in (CHECK_OK, CHECK_WARNINGS)


class Replacement(enum.StrEnum):
    FIRST = "first"  # no accepted submission yet: this one becomes current
    REPLACES = "replaces"  # before the deadline: this one replaces the current one
    SUPPLEMENT = "supplement"  # after the deadline with one already in: kept, KV decides


def decide_replacement(timing: Timing, *, has_current: bool) -> Replacement:
    """A new accepted file for the same BSNR and quarter replaces the earlier one up to the
    deadline (history kept). After the deadline an existing submission is not silently
    replaced: the late file is kept as a Nachlieferung for the KV's billing staff."""
    if not has_current:
        return Replacement.FIRST
    if timing is Timing.LATE:
        return Replacement.SUPPLEMENT
    return Replacement.REPLACES


# --------------------------------------------------------------------------------------------
# Overview per BSNR


class QuarterState(enum.StrEnum):
    NOT_YET = "not_yet"  # early submission has not begun
    OPEN = "open"  # submission possible, nothing accepted yet, deadline not passed
    SUBMITTED = "submitted"  # accepted in time
    SUBMITTED_LATE = "submitted_late"  # accepted after the deadline
    OVERDUE = "overdue"  # deadline passed, nothing accepted


def quarter_state(
    window: SubmissionWindow, day: dt.date, *, submitted: bool, late: bool = False
) -> QuarterState:
    if submitted:
        return QuarterState.SUBMITTED_LATE if late else QuarterState.SUBMITTED
    timing = classify_timing(window, day)
    if timing is Timing.TOO_EARLY:
        return QuarterState.NOT_YET
    if timing is Timing.LATE:
        return QuarterState.OVERDUE
    return QuarterState.OPEN


def expected_quarters(day: dt.date, *, opens: Quarter | None, count: int = 8) -> list[Quarter]:
    """Quarters the overview lists, newest first: from the current quarter back `count`
    quarters, but none before billing opened for the practice (`opens`)."""
    result = []
    quarter = Quarter.of(day)
    for _ in range(count):
        if opens is not None and quarter < opens:
            break
        result.append(quarter)
        quarter = quarter.previous()
    return result


def progress_percent(done: int, total: int) -> int:
    """Progress of a check in whole percent, 0–100 (100 only when done ≥ total > 0)."""
    if total <= 0:
        return 0
    if done >= total:
        return 100
    return max(0, min(99, done * 100 // total))


# --------------------------------------------------------------------------- retention
# § 304 (1) SGB V: billing data is deleted at the latest ten years after the end of the year of
# the quarter concerned. The same rule as the fee documents, so it reuses their pure function.

#: Retention type name passed to `kvportal.documents.rules.deletion_date` (default 10 years).
RETENTION_TYPE = "abrechnungsdatei"


def deletion_date(quarter: Quarter) -> dt.date:
    """Last day a billing file of `quarter` is kept: 31.12. of (quarter's year + 10)."""
    from kvportal.documents.rules import deletion_date as _document_deletion_date

    return _document_deletion_date(quarter, RETENTION_TYPE)


def is_purge_due(quarter: Quarter, today: dt.date) -> bool:
    """Purged on the first run after the deletion date (not on the day itself)."""
    return today > deletion_date(quarter)


def purge_before(today: dt.date) -> Quarter:
    """The first quarter that is still kept on `today`: every quarter before it is due.

    Quarter slugs (`JJJJ-Q`) sort as text, so the purge filters `quarter < purge_before(..).slug`.
    """
    year = today.year - 10
    while is_purge_due(Quarter(year, 1), today):
        year += 1
    return Quarter(year, 1)


def reporting_quarter(day: dt.date, windows: Iterable[SubmissionWindow]) -> Quarter:
    """The quarter billing staff look at on `day`: the latest one whose regular submission
    window has opened (i.e. is open now or has just closed); before any window opened, the
    quarter before `day`'s quarter."""
    opened = [w.quarter for w in windows if w.starts <= day]
    return max(opened) if opened else Quarter.of(day).previous()

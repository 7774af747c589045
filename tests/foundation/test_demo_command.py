"""`kvportal demo` on any day: the demo world is consistent with the clock it is built under
(no billing file refused by a date rule, nothing received in the future, deadlines ahead)."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from kvportal.core.quarters import Quarter

BERLIN = ZoneInfo("Europe/Berlin")


def _moments() -> dict[str, dt.datetime]:
    now = dt.datetime.now(BERLIN)
    new_year = dt.datetime(now.year + 1, 1, 1, 0, 10, tzinfo=BERLIN)
    start = dt.datetime.combine(Quarter.of(now.date()).next().start, dt.time(0, 10), BERLIN)
    return {"now": now, "after_quarter_end": start, "after_year_end": new_year}


@pytest.mark.django_db
@pytest.mark.parametrize("moment", list(_moments()))
def test_demo_world_fits_the_clock(
    moment, time_machine, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.EHBA_DIR = str(tmp_path / "ehba")
    time_machine.move_to(_moments()[moment], tick=False)
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):  # the checks run after commit
        call_command("demo", stdout=out)
    assert "Demo-Daten angelegt." in out.getvalue()
    assert "./dev kvportal otp_code kv.register" in out.getvalue()

    from kvportal.billing import rules
    from kvportal.billing.models import Submission

    now = timezone.now()
    submissions = list(Submission.objects.select_related("betriebsstaette"))
    assert submissions
    for submission in submissions:
        assert submission.received_at <= now
    rejected = [s for s in submissions if s.state == "rejected"]
    # exactly the Einzelpraxis' deliberately faulty file (rule 324), nothing refused by dates
    assert [s.betriebsstaette.bsnr for s in rejected] == ["963000300"]
    current = Quarter.of(timezone.localdate())
    assert rules.default_window(current).ends > timezone.localdate()

    from kvportal.admission.models import CommitteeSession

    assert CommitteeSession.objects.filter(date__gt=timezone.localdate()).exists()

"""The billing part of `kvportal demo` creates checked submissions for the demo practices,
correct on any day: also on the first minutes of a quarter and on the last day of a year."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from kvportal.billing.demo import seed_demo
from kvportal.billing.models import Declaration, Submission
from kvportal.core.quarters import Quarter
from kvportal.portal.demo import build_world

BERLIN = ZoneInfo("Europe/Berlin")


def _moments() -> dict[str, dt.datetime]:
    """Moments built from the clock the test runs under (never fixed dates)."""
    now = dt.datetime.now(BERLIN)
    current = Quarter.of(now.date())
    start = dt.datetime.combine(current.start, dt.time(0, 20), BERLIN)
    new_year = dt.datetime(now.year + 1, 1, 1, 0, 20, tzinfo=BERLIN)
    return {
        "now": now,
        "quarter_start": start,
        "quarter_end": dt.datetime.combine(current.end, dt.time(23, 50), BERLIN),
        "new_year": new_year,
        "new_year_eve": new_year - dt.timedelta(minutes=40),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("moment", list(_moments()))
def test_demo_seeder(moment, time_machine, django_capture_on_commit_callbacks):
    time_machine.move_to(_moments()[moment], tick=False)
    lines = []
    with django_capture_on_commit_callbacks(execute=True):
        world = build_world()
        seed_demo(world, lines.append)
    states = Submission.objects.values_list("betriebsstaette__bsnr", "state")
    assert len(states) == 6
    assert ("963000300", "rejected") in states  # the Einzelpraxis' deliberately faulty file
    assert Submission.objects.filter(state="accepted", is_current=True).count() == 5
    assert Declaration.objects.count() == 3  # MVZ (older quarter) + BAG twice
    assert "6 Einreichungen" in lines[0]
    now = timezone.now()
    for submission in Submission.objects.all():
        assert submission.received_at <= now
        # no file rejected by a date rule: the only rejection is the injected rule 324
        if submission.state == "rejected":
            assert submission.betriebsstaette.bsnr == "963000300"

"""The billing part of `kvportal demo` creates checked submissions for the demo practices."""

import pytest

from kvportal.billing.demo import seed_demo
from kvportal.billing.models import Declaration, Submission
from kvportal.core.demo import build_world


@pytest.mark.django_db
def test_demo_seeder(django_capture_on_commit_callbacks):
    lines = []
    with django_capture_on_commit_callbacks(execute=True):
        world = build_world()
        seed_demo(world, lines.append)
    states = Submission.objects.values_list("betriebsstaette__bsnr", "state")
    assert len(states) == 6
    assert ("963000300", "rejected") in states
    assert Submission.objects.filter(state="accepted", is_current=True).count() == 5
    assert Declaration.objects.count() == 3  # MVZ (older quarter) + BAG twice
    assert "6 Einreichungen" in lines[0]

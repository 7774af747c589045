"""The demo seeder leaves one submitted application in the Arztregister queue (idempotent)."""

import pytest

from kvportal.access import rules
from kvportal.access.demo import seed_demo
from kvportal.access.models import AccessApplication
from kvportal.portal.demo import build_world

pytestmark = pytest.mark.django_db


def test_demo_application_pending_in_queue(django_capture_on_commit_callbacks):
    world = build_world()
    lines = []
    with django_capture_on_commit_callbacks(execute=True):
        seed_demo(world, lines.append)
        seed_demo(world, lines.append)
    app = AccessApplication.objects.get()
    assert app.status == rules.Status.EINGEREICHT
    assert app.bsnr == world["bag"].bsnr
    assert app.flags, "the unknown LANR of the new doctor is flagged for the staff"
    assert "besteht bereits" in lines[-1]

"""The demo seeder publishes documents for the demo practices, scoped like real ones."""

import pytest

from kvportal.documents import selectors
from kvportal.documents.demo import seed_demo_documents
from kvportal.documents.models import Document
from kvportal.portal.demo import build_world

pytestmark = pytest.mark.django_db


def test_demo_documents():
    world = build_world()
    lines = []
    seed_demo_documents(world, lines.append)
    assert Document.objects.filter(betriebsstaette=world["mvz"]).count() == 16 + 10
    assert lines and "Demo-Dokumente" in lines[0]
    assert Document.objects.filter(published_by__username="kv.abrechnung").count() == 74
    users = world["users"]
    schmidt = set(selectors.visible_documents(users["schmidt"]).values_list("lanr", flat=True))
    assert schmidt == {world["persons"]["schmidt"].lanr}
    assert selectors.visible_documents(users["traeger"]).count() == 26
    # idempotent
    seed_demo_documents(world, lines.append)
    assert Document.objects.filter(betriebsstaette=world["mvz"]).count() == 26

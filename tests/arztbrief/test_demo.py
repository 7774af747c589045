"""`kvportal demo` leaves eArztbrief figures (QES proofs of Hahn's letters), idempotently."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from kvportal.arztbrief import selectors
from kvportal.arztbrief.models import Nachweis
from kvportal.core.quarters import Quarter


@pytest.mark.django_db
def test_demo_shows_letters_and_figures():
    out = StringIO()
    call_command("demo", stdout=out)
    assert "eArztbrief-Demo: 2 versandte Briefe" in out.getvalue()
    assert Nachweis.objects.filter(richtung="versand").count() == 2
    assert Nachweis.objects.filter(richtung="empfang").count() == 1
    counted = selectors.all_counts(Quarter.of(timezone.localdate()))
    assert sorted((r["sent"], r["received"]) for r in counted) == [(0, 1), (2, 0)]
    call_command("demo", stdout=StringIO())
    assert Nachweis.objects.count() == 3

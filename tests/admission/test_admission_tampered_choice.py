"""Issue 11: a tampered choice in the admission draft (a value the form never offered, e.g.
factor_to=7) is refused with a field error and the saved value is kept."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.admission.test_admission_views import form_data

pytestmark = pytest.mark.django_db


def test_tampered_factor_is_refused_at_the_field_and_saved_value_kept(draft, world, member_client):
    saved = draft.data["factor_to"]
    assert saved == "0.75"
    client = member_client(world.leiterin)
    url = reverse("admission:edit", args=[draft.pk])
    response = client.post(url, form_data(draft, factor_to="7", hours="26"))
    assert response.status_code == 200  # no "Entwurf gespeichert" redirect
    page = response.content.decode()
    assert "Entwurf gespeichert" not in page
    assert "„7“ ist keine der angebotenen Auswahlmöglichkeiten" in page
    draft.refresh_from_db()
    assert draft.data["factor_to"] == saved  # not silently deleted
    assert draft.data["hours"] == "26"  # the other, valid input is saved


def test_valid_choice_is_still_saved(draft, world, member_client):
    client = member_client(world.leiterin)
    url = reverse("admission:edit", args=[draft.pk])
    response = client.post(url, form_data(draft, factor_to="1.0", hours="38"))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.data["factor_to"] == "1.0"

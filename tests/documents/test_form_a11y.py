"""Issue 14 defect 4: an invalid documents filter shows a linked, tied error."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.a11y_forms import assert_errors_tied

pytestmark = pytest.mark.django_db


def test_invalid_filter_choice_is_linked(world, client):
    client.force_login(world.doc_a)
    response = client.get(reverse("documents:list"), {"typ": "gibt-es-nicht"})
    html = response.content.decode()
    assert response.status_code == 200
    page = assert_errors_tied(html)
    assert page.summaries[0]["links"] == ["#id_typ"]
    assert ("id_typ", "id_typ_error") in page.describedby

"""Issue 14 defect 4: the admission draft ties check findings to their fields."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.a11y_forms import assert_errors_tied

pytestmark = pytest.mark.django_db


def _data(application, **overrides):
    data = {k: v for k, v in application.data.items() if isinstance(v, str)}
    data.update(overrides)
    return data


def test_check_findings_are_linked_from_the_summary(draft, world, member_client):
    client = member_client(world.leiterin)
    response = client.post(
        reverse("admission:edit", args=[draft.pk]), _data(draft, hours="35", check="1")
    )
    html = response.content.decode()
    assert response.status_code == 200
    page = assert_errors_tied(html)
    assert "#id_hours" in page.summaries[0]["links"]
    assert ("id_hours", "id_hours_error") in page.describedby
    assert "id_hours" in page.invalid


def test_upload_error_is_tied_to_the_file_input(draft, world, member_client):
    client = member_client(world.leiterin)
    post = _data(draft, check="1")
    post["att_arbeitsvertrag"] = SimpleUploadedFile("vertrag.docx", b"PK\x03\x04 word")
    html = client.post(reverse("admission:edit", args=[draft.pk]), post).content.decode()
    page = assert_errors_tied(html)
    assert "#att_arbeitsvertrag" in page.summaries[0]["links"]
    assert ("att_arbeitsvertrag", "att_arbeitsvertrag_error") in page.describedby

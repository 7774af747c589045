"""Issue 14 defect 4: a refused billing upload ties the error to the file field."""

from __future__ import annotations

import pytest
import time_machine

from tests.a11y_forms import assert_errors_tied, parse
from tests.billing.conftest import ON_TIME, Q1, kvdt_file, std_name, upload

pytestmark = pytest.mark.django_db


def _post(client, practice, content, name):
    with time_machine.travel(ON_TIME, tick=False):
        return client.post(
            "/abrechnung/einreichen/",
            {"betriebsstaette": practice.pk, "quarter": Q1.slug, "file": upload(content, name)},
        )


def test_refused_file_gives_a_focusable_summary(member_client, employed, practice):
    html = _post(member_client(employed), practice, b"abc", "abrechnung.pdf").content.decode()
    assert "keine Abrechnungsdatei" in html
    page = parse(html)
    assert page.summaries and page.summaries[0]["tabindex"] == "-1"


def test_too_large_file_error_is_linked(member_client, employed, practice, settings):
    settings.BILLING_MAX_UPLOAD_BYTES = 500
    response = _post(
        member_client(employed), practice, kvdt_file(practice.bsnr), std_name(practice.bsnr)
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "zu groß" in html
    page = assert_errors_tied(html)
    assert "#id_file" in page.summaries[0]["links"]
    assert ("id_file", "id_file_error") in page.describedby

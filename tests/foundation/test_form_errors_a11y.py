"""Issue 14 defect 4: errors of login and password change are tied to their fields."""

from __future__ import annotations

import pytest

from tests.a11y_forms import assert_errors_tied, parse
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_login_failure_has_linked_summary(client):
    response = client.post("/anmelden/", {"username": "", "password": ""})
    html = response.content.decode()
    assert response.status_code == 200
    page = assert_errors_tied(html, expect_links=2)
    assert set(page.summaries[0]["links"]) == {"#id_username", "#id_password"}
    assert "id_username_error" in page.ids
    # without JavaScript the summary is still the first thing of the form
    assert page.first_form_child_is_summary[0] is True


def test_wrong_password_is_a_summary_message_without_lost_username(client):
    user = UserFactory()
    html = client.post("/anmelden/", {"username": user.username, "password": "falsch"}).content
    page = parse(html.decode())
    assert page.summaries and page.summaries[0]["tabindex"] == "-1"
    assert f'value="{user.username}"' in html.decode()


def test_password_change_errors_point_to_their_fields(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        "/konto/passwort/",
        {"old_password": "falsch", "new_password1": "kurz", "new_password2": "anders"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    page = assert_errors_tied(html)
    assert "#id_old_password" in page.summaries[0]["links"]
    assert ("id_old_password", "id_old_password_error") in page.describedby
    assert "Das bisherige Passwort ist falsch." in html


def test_checker_notices_dangling_describedby():
    html = (
        '<form><div data-error-summary tabindex="-1"><a href="#x">X</a></div>'
        '<input id="x" aria-invalid="true" aria-describedby="x_error"></form>'
    )
    with pytest.raises(AssertionError, match="missing ids"):
        assert_errors_tied(html)

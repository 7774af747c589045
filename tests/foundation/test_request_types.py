"""core.http.is_authenticated: the narrowing helper of views that anonymous and logged-in
users both reach (portal start page, admission panel) answers like request.user does."""

from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django.urls import reverse

from kvportal.core.http import is_authenticated
from tests.factories import UserFactory


def test_anonymous_request_is_not_authenticated():
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    assert is_authenticated(request) is False


def test_request_of_a_logged_in_user_is_authenticated(db):
    request = RequestFactory().get("/")
    request.user = UserFactory()
    assert is_authenticated(request) is True


def test_start_page_sends_anonymous_visitors_to_the_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login") + "?next=/")

"""A second URL configuration for tests/foundation/test_cached_builtins.py."""

from django.http import HttpResponse
from django.urls import path

urlpatterns = [path("anders/", lambda request: HttpResponse(), name="other")]

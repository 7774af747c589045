"""URL map: one prefix per domain app; practice-software API under /api/v1/<app>/."""

from importlib import util

from django.apps import apps
from django.contrib import admin
from django.urls import include, path
from django_otp.admin import OTPAdminSite

admin.site.__class__ = OTPAdminSite
admin.site.site_header = "KV-Mitgliederportal – Backoffice"
admin.site.site_title = "Backoffice"
admin.site.index_title = "Verwaltung"

#: (URL prefix, app) for the member/staff pages of each domain app.
APP_PREFIXES = [
    ("abrechnung/", "billing"),
    ("dokumente/", "documents"),
    ("zugang/", "access"),
    ("zulassung/", "admission"),
    ("ehba/", "ehba"),
]

#: JSON errors under /api/, the portal's pages elsewhere.
handler400 = "kvportal.core.views.bad_request"
handler404 = "kvportal.core.views.not_found"
handler500 = "kvportal.core.views.server_error"

urlpatterns = [
    path("backoffice/", admin.site.urls),
    path("", include("kvportal.accounts.urls")),
    path("", include("kvportal.core.urls")),
]

for prefix, app in APP_PREFIXES:
    if not apps.is_installed(f"kvportal.{app}"):
        continue
    if util.find_spec(f"kvportal.{app}.urls"):
        urlpatterns.append(path(prefix, include(f"kvportal.{app}.urls")))
    if util.find_spec(f"kvportal.{app}.api_urls"):
        urlpatterns.append(path(f"api/v1/{app}/", include(f"kvportal.{app}.api_urls")))

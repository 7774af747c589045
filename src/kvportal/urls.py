"""URL map: one prefix per domain app; practice-software API under /api/v1/<app>/."""

from importlib import util

from django.apps import apps
from django.contrib import admin
from django.shortcuts import redirect
from django.urls import include, path
from django_otp.admin import OTPAdminSite

from kvportal.accounts.admin import restrict_to_superusers
from kvportal.accounts.apps import ROLE_APPS


class BackofficeSite(OTPAdminSite):
    """Back office (issue 11): TOTP-verified staff only; models outside the staff roles' own
    apps are superuser-only; one's own password is changed on the portal's page (rules,
    history, access log), not with the admin's form."""

    def password_change(self, request, extra_context=None):
        return redirect("accounts:password_change")


admin.site.__class__ = BackofficeSite
restrict_to_superusers(admin.site, {app for apps in ROLE_APPS.values() for app in apps})
admin.site.site_header = "KV-Mitgliederportal – Backoffice"
admin.site.site_title = "Backoffice"
admin.site.index_title = "Verwaltung"

#: (URL prefix, app) for the member/staff pages of each domain app.
APP_PREFIXES = [
    ("abrechnung/", "billing"),
    ("abrechnung/ese/", "oneclick"),
    ("dokumente/", "documents"),
    ("zugang/", "access"),
    ("zulassung/", "admission"),
    ("ehba/", "ehba"),
    ("kim/", "kim"),
    ("arztbrief/", "arztbrief"),
    ("arztregister/", "members"),
    ("", "legal"),
    ("", "selfservice"),
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

from django.contrib import admin

from kvportal.audit.models import AccessLogEntry
from kvportal.core.admin_base import ReadOnlyAdmin


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(ReadOnlyAdmin):
    """Read-only: the access log cannot be edited, only expire."""

    list_display = [
        "timestamp",
        "username",
        "bsnr",
        "activity",
        "object_repr",
        "ip_address",
        "browser",
    ]
    list_filter = ["activity", "timestamp"]
    search_fields = ["username", "bsnr", "object_repr", "ip_address"]
    date_hierarchy = "timestamp"

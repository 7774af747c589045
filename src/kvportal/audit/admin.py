from django.contrib import admin

from kvportal.audit.models import AccessLogEntry


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

"""Back office: billing submissions and declarations read-only (changes go through the
staff pages and services, which write the access log); deadlines via /abrechnung/kv/fristen/."""

from django.contrib import admin

from kvportal.billing.models import Declaration, Submission, SubmissionDeadline
from kvportal.core.admin_base import ReadOnlyAdmin


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "betriebsstaette",
        "quarter",
        "original_name",
        "state",
        "check_status",
        "timing",
        "is_current",
        "received_at",
        "purged_at",
    )
    list_filter = ("state", "timing", "is_current", "kind", "quarter")
    search_fields = ("betriebsstaette__bsnr", "original_name", "sha256")
    exclude = ("report",)


@admin.register(Declaration)
class DeclarationAdmin(ReadOnlyAdmin):
    list_display = ("betriebsstaette", "quarter", "given_by_name", "given_at", "method")
    list_filter = ("method", "quarter")
    search_fields = ("betriebsstaette__bsnr",)


@admin.register(SubmissionDeadline)
class SubmissionDeadlineAdmin(ReadOnlyAdmin):
    list_display = ("quarter", "early_from", "starts", "ends", "updated_by", "updated_at")

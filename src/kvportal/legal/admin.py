from django.contrib import admin

from kvportal.legal.models import AccessibilityFeedback


@admin.register(AccessibilityFeedback)
class AccessibilityFeedbackAdmin(admin.ModelAdmin):
    list_display = ("__str__", "page", "email", "created_at")
    readonly_fields = ("created_at", "user", "page", "message", "name", "email")
    search_fields = ("page", "message")

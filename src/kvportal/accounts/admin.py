"""Back office for accounts. Staff actions are audited (seed 000 Protokollierung)."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from kvportal.accounts import services
from kvportal.accounts.models import ApiToken, PortalRight, User


class PortalRightInline(admin.TabularInline):
    model = PortalRight
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["betriebsstaette"]
    readonly_fields = ["granted_by", "granted_at"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "display_name", "kind", "is_active", "must_change_password"]
    list_filter = ["kind", "is_active", "must_change_password", "groups"]
    search_fields = ["username", "first_name", "last_name", "person__lanr"]
    autocomplete_fields = ["person"]
    inlines = [PortalRightInline]
    actions = ["unlock", "reissue_password"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (
            "Portal",
            {
                "fields": (
                    "kind",
                    "person",
                    "must_change_password",
                    "initial_password_expires_at",
                    "first_password_change_at",
                    "notify_by_email",
                )
            },
        ),
    )

    @admin.action(description="Konto entsperren (nach Fehlversuchen)")
    def unlock(self, request, queryset):
        for user in queryset:
            services.unlock_account(actor=request.user, user=user)
        messages.success(request, f"{queryset.count()} Konto/Konten entsperrt.")

    @admin.action(description="Neues Initialpasswort erzeugen (altes wird ungültig)")
    def reissue_password(self, request, queryset):
        for user in queryset:
            password = services.issue_initial_password(actor=request.user, user=user)
            messages.info(request, f"{user.username}: neues Initialpasswort {password}")

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        from kvportal import audit
        from kvportal.audit.models import Activity

        audit.record(actor=request.user, activity=Activity.STAFF_ACTION, obj=form.instance)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["token_hash", "prefix"]

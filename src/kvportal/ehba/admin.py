"""Back office: eHBA registrations and verification reports, read-only (superuser-only, see
accounts.admin.restrict_to_superusers)."""

from django.contrib import admin

from kvportal.core.admin_base import ReadOnlyAdmin
from kvportal.ehba.models import CardRegistration, SignatureCheck, VerificationReport


@admin.register(CardRegistration)
class CardRegistrationAdmin(ReadOnlyAdmin):
    list_display = (
        "holder_name",
        "telematik_id",
        "user",
        "registered_at",
        "last_login_at",
        "ended_at",
    )
    list_filter = ("profession", "second_factor", "end_reason")
    search_fields = ("holder_name", "telematik_id", "user__username", "person__lanr")
    readonly_fields = [f.name for f in CardRegistration._meta.fields]

    # read-only: only the member registers his card (card challenge); a registration ends
    # through ehba.services (audited)


class SignatureCheckInline(admin.TabularInline):
    model = SignatureCheck
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in SignatureCheck._meta.fields]


@admin.register(VerificationReport)
class VerificationReportAdmin(ReadOnlyAdmin):
    list_display = (
        "document_title",
        "content_type",
        "object_id",
        "verdict",
        "accepted",
        "created_at",
    )
    list_filter = ("verdict", "accepted", "content_type")
    readonly_fields = [f.name for f in VerificationReport._meta.fields]
    inlines = [SignatureCheckInline]

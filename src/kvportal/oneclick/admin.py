"""Back office: 1-Click deliveries over KIM read-only (superuser-only, see
accounts.admin.restrict_to_superusers) — what arrived, from whom, what became of it and where
the raw mail is kept (`raw_path`, private storage). Changes only through the services."""

from django.contrib import admin

from kvportal.core.admin_base import ReadOnlyAdmin
from kvportal.oneclick.models import KimDelivery


@admin.register(KimDelivery)
class KimDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "sender_address", "bsnr", "dienstkennung", "state")
    list_filter = ("state", "refusal_code")
    search_fields = ("sender_address", "bsnr", "sender_telematik_id")
    readonly_fields = [f.name for f in KimDelivery._meta.fields]

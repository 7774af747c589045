"""Back office: KIM data read-only (superuser-only, see accounts.admin.restrict_to_superusers);
every change goes through kim.services (audited) and the staff pages under /kim/kv/."""

from django.contrib import admin

from kvportal.core.admin_base import ReadOnlyAdmin
from kvportal.kim.models import DirectoryEntry, KimAccount, SmcbCard, SmcbOrder, StoredMessage


@admin.register(SmcbOrder)
class SmcbOrderAdmin(ReadOnlyAdmin):
    list_display = ("betriebsstaette", "state", "telematik_id", "requested_at", "decided_at")
    list_filter = ("state",)
    search_fields = ("betriebsstaette__bsnr", "practice_name", "telematik_id")


@admin.register(SmcbCard)
class SmcbCardAdmin(ReadOnlyAdmin):
    list_display = (
        "iccsn",
        "telematik_id",
        "holder_name",
        "issued_at",
        "activated_at",
        "not_after",
    )
    search_fields = ("iccsn", "telematik_id", "betriebsstaette__bsnr")
    exclude = ("pin_hash", "puk_hash", "card_file")


@admin.register(KimAccount)
class KimAccountAdmin(ReadOnlyAdmin):
    list_display = ("address", "kind", "state", "registered_at", "deregistration_date")
    list_filter = ("kind", "state")
    search_fields = ("address", "reference_id", "betriebsstaette__bsnr", "person__lanr")
    exclude = ("password_hash",)


@admin.register(DirectoryEntry)
class DirectoryEntryAdmin(ReadOnlyAdmin):
    list_display = ("display_name", "kind", "telematik_id", "city", "active", "consent_revoked_at")
    list_filter = ("kind", "active")
    search_fields = ("display_name", "telematik_id", "city")


@admin.register(StoredMessage)
class StoredMessageAdmin(ReadOnlyAdmin):
    list_display = ("account", "folder", "sender", "dienstkennung", "size", "received_at")
    list_filter = ("folder",)
    exclude = ("path",)

# § 304 SGB V: documents are published and deleted only through the services (audited);
# the back-office admin shows them read-only.
from django.contrib import admin

from kvportal.core.admin_base import ReadOnlyAdmin
from kvportal.documents.models import DeletedDocument, Document


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = ("title", "doc_type", "betriebsstaette", "quarter", "lanr", "published_at")
    list_filter = ("doc_type", "source")
    search_fields = ("title", "betriebsstaette__bsnr", "lanr", "sha256")
    exclude = ("file",)


@admin.register(DeletedDocument)
class DeletedDocumentAdmin(ReadOnlyAdmin):
    list_display = ("original_id", "doc_type", "bsnr", "quarter", "deleted_at")
    search_fields = ("bsnr", "sha256")

# Security: practice software sees exactly what the token holder sees (same scope layer);
# the staff import needs the scope "documents_import" and the staff role Abrechnung.
"""JSON API: list and download documents (/api/v1/documents/), staff import."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import JsonResponse
from django.views.decorators.http import require_GET, require_POST

from kvportal import audit
from kvportal.accounts import scope
from kvportal.accounts.api import api_view, json_error
from kvportal.accounts.constants import StaffRole
from kvportal.audit.models import Activity
from kvportal.core.openapi_spec import QUARTER_FILTER_SCHEMA
from kvportal.core.quarters import Quarter
from kvportal.documents import rules, selectors, services
from kvportal.documents.models import Document, Source
from kvportal.documents.views import stream_document, uploaded_file_opener

API_PAGE_SIZE = 50


def serialize(document: Document, *, is_read: bool | None = None) -> dict:
    data = {
        "id": document.pk,
        "bsnr": document.betriebsstaette.bsnr,
        "lanr": document.lanr or None,
        "quartal": document.quarter_obj.kvdt,
        "typ": document.doc_type,
        "typ_bezeichnung": str(document.get_doc_type_display()),
        "titel": document.title,
        "sha256": document.sha256,
        "groesse": document.size,
        "veroeffentlicht": document.published_at.isoformat(),
        "auch_per_post": document.also_by_post,
        "betrag": str(document.amount) if document.amount is not None else None,
        "benachrichtigt": document.notice_sent_at.isoformat() if document.notice_sent_at else None,
        "bekanntgabe": document.delivery_date.isoformat() if document.delivery_date else None,
        "loeschung_nach": document.deletion_date.isoformat(),
        "download": f"/api/v1/documents/{document.pk}/download",
    }
    if is_read is not None:
        data["gelesen"] = is_read
    return data


@require_GET
@api_view(scope="documents")
def list_documents(request):
    params = request.GET
    quarter = None
    if params.get("quartal"):
        try:
            quarter = Quarter.parse(params["quartal"])
        except ValueError as exc:
            return json_error(400, str(exc), feld="quartal")
    doc_type = ""
    if params.get("typ"):
        try:
            doc_type = rules.parse_doc_type(params["typ"])
        except ValueError as exc:
            return json_error(400, str(exc), feld="typ")
    qs = selectors.search_documents(
        request.user,
        bsnr=params.get("bsnr", "").strip(),
        quarter=quarter,
        doc_type=doc_type,
        text=params.get("suche", ""),
    )
    page = Paginator(qs, API_PAGE_SIZE).get_page(params.get("seite"))
    audit.record(
        actor=request.user,
        activity=Activity.VIEW,
        object_type="documents.list",
        object_repr="Dokumentenliste (API)",
        detail={"via": "api", **{k: v for k, v in params.items() if k != "seite"}},
    )
    return JsonResponse(
        {
            "anzahl": page.paginator.count,
            "seite": page.number,
            "seiten": page.paginator.num_pages,
            "dokumente": [serialize(d, is_read=d.is_read) for d in page.object_list],
        },
        json_dumps_params={"ensure_ascii": False},
    )


def _get(request, pk: int) -> Document | None:
    return (
        selectors.visible_documents(request.user)
        .select_related("betriebsstaette")
        .filter(pk=pk)
        .first()
    )


@require_GET
@api_view(scope="documents")
def document_detail(request, pk: int):
    document = _get(request, pk)
    if document is None:
        return json_error(404, "Dokument nicht gefunden.")
    services.record_view(actor=request.user, document=document)
    return JsonResponse(serialize(document), json_dumps_params={"ensure_ascii": False})


@require_GET
@api_view(scope="documents")
def document_download(request, pk: int):
    document = _get(request, pk)
    if document is None:
        return json_error(404, "Dokument nicht gefunden.")
    response = stream_document(document)
    services.mark_opened(actor=request.user, document=document, via="api")
    return response


@require_POST
@api_view(scope="documents_import")
def import_documents(request):
    """Multipart: `manifest` (CSV/JSON) and the PDFs as `dateien` (matched by file name)."""
    if not scope.is_staff_role(request.user, StaffRole.ABRECHNUNG):
        return json_error(403, "Nur Mitarbeiter der Abrechnung dürfen Dokumente einstellen.")
    manifest = request.FILES.get("manifest")
    if manifest is None:
        return json_error(400, "Das Manifest fehlt (Feld „manifest“).", feld="manifest")
    files = {f.name: f for f in request.FILES.getlist("dateien")}
    report = services.import_manifest(
        actor=request.user,
        manifest=manifest.read(),
        manifest_name=manifest.name,
        open_file=uploaded_file_opener(files),
        source=Source.API,
    )
    status = 200 if report.ok else (400 if report.fatal else 207)
    return JsonResponse(report.as_dict(), status=status, json_dumps_params={"ensure_ascii": False})


OPENAPI_PATHS = {
    "/documents/": {
        "get": {
            "summary": "Dokumente im Rahmen der eigenen Rechte auflisten (neueste zuerst)",
            "parameters": [
                {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                for n in ("bsnr", "suche", "seite")
            ]
            + [
                {"name": "quartal", "in": "query", "schema": QUARTER_FILTER_SCHEMA},
                {
                    "name": "typ",
                    "in": "query",
                    "description": "Typcode oder deutsche Bezeichnung",
                    "schema": {"type": "string", "enum": ["", *rules.DOC_TYPES]},
                },
            ],
            "responses": {"200": {"description": "Seite mit bis zu 50 Dokumenten"}},
        }
    },
    "/documents/{id}": {
        "get": {
            "summary": "Metadaten eines Dokuments",
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {"200": {"description": "Dokument"}, "404": {"description": "–"}},
        }
    },
    "/documents/{id}/download": {
        "get": {
            "summary": "PDF abrufen (wird im Zugriffsprotokoll und als gelesen vermerkt)",
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {
                "200": {"description": "PDF", "content": {"application/pdf": {}}},
                "404": {"description": "–"},
            },
        }
    },
    "/documents/import": {
        "post": {
            "summary": "KV (Abrechnung): Dokumente mit Manifest importieren "
            "(Bereich documents_import)",
            "requestBody": {
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "manifest": {"type": "string", "format": "binary"},
                                "dateien": {
                                    "type": "array",
                                    "items": {"type": "string", "format": "binary"},
                                },
                            },
                        }
                    }
                }
            },
            "responses": {
                "200": {"description": "alle Zeilen übernommen oder bereits vorhanden"},
                "207": {"description": "einzelne Zeilen fehlerhaft (siehe fehler)"},
                "400": {"description": "Manifest unlesbar"},
            },
        }
    },
}

# Security (gemSpec_VZD, issue 15): directory administration for the KV as card issuer — bearer
# token with scope „kim_admin“, which only Arztregister staff can create; the service checks the
# role again. Every write is a new version and in the access log.
"""Directory administration API in the shape of gematik's I_Directory_Administration
(`/DirectoryEntries`, baseDirectoryEntry attribute names) under /api/v1/kim/."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.views.decorators.http import require_http_methods

from kvportal.accounts.api import NOT_FOUND_TEXT, api_view, json_error
from kvportal.accounts.constants import ApiScope
from kvportal.kim import directory_rules, selectors, services_directory
from kvportal.kim.models import DirectoryEntry

MAX_BODY = 64 * 1024
MAX_COUNT = 100
#: read_Directory_Entry query parameters (others: 400)
QUERY = {"telematikID", "displayName", "localityName", "postalCode", "entryType", "active",
         "_count"}  # fmt: skip
#: what a view answers as a German JSON error (`_error`)
REFUSALS = (directory_rules.FieldError, services_directory.Conflict, PermissionDenied)


def entry_json(entry) -> dict:
    cert = ""
    if entry.enc_certificate:
        pem = entry.enc_certificate.encode()
        der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
        cert = base64.b64encode(der).decode()
    result: dict = {
        "uid": str(entry.pk),
        "entryType": entry.kind,
        "telematikID": entry.telematik_id,
        "active": entry.active,
        "published": entry.published,
        "version": entry.version,
        "changeDateTime": entry.changed_at.isoformat(),
        "userCertificate": cert,
        "certificateNotAfter": entry.enc_not_after.isoformat() if entry.enc_not_after else "",
    }
    for key, (field, _limit) in directory_rules.TEXT_FIELDS.items():
        result[key] = getattr(entry, field)
    return result


def _body(request) -> object:
    if len(request.body) > MAX_BODY:
        raise directory_rules.FieldError(f"Die Anfrage ist größer als {MAX_BODY // 1024} kB.", "")
    try:
        return json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise directory_rules.FieldError("Erwartet wird ein JSON-Objekt.", "") from exc


def _error(exc: Exception):
    if isinstance(exc, directory_rules.FieldError):
        return json_error(exc.status, exc.message, **({"feld": exc.field} if exc.field else {}))
    if isinstance(exc, services_directory.Conflict):
        return json_error(409, exc.message, **({"feld": exc.field} if exc.field else {}))
    if isinstance(exc, PermissionDenied):
        return json_error(403, str(exc))
    raise exc


def _filters(request) -> tuple[dict, int]:
    filters: dict = {}
    for key in request.GET:
        if key not in QUERY:
            raise directory_rules.FieldError(
                f"Der Suchparameter „{key}“ wird nicht unterstützt "
                f"(erlaubt: {', '.join(sorted(QUERY))}).",
                key,
            )
        value = request.GET.get(key, "").strip()
        if "\x00" in value or len(value) > 200:
            raise directory_rules.FieldError(
                f"„{key}“ enthält ein Nullzeichen oder ist länger als 200 Zeichen.", key
            )
        if value:
            filters[key] = value
    count = filters.pop("_count", str(MAX_COUNT))
    if not count.isdigit() or not 1 <= int(count) <= MAX_COUNT:
        raise directory_rules.FieldError(
            f"„_count“ muss eine ganze Zahl von 1 bis {MAX_COUNT} sein.", "_count"
        )
    if "active" in filters:
        if filters["active"] not in ("true", "false"):
            raise directory_rules.FieldError("„active“: true oder false.", "active")
        filters["active"] = filters["active"] == "true"
    if "entryType" in filters and filters["entryType"] not in ("organization", "practitioner"):
        raise directory_rules.FieldError(
            "„entryType“: organization oder practitioner.", "entryType"
        )
    return filters, int(count)


@require_http_methods(["GET", "POST"])
@api_view(scope=ApiScope.KIM_ADMIN)
def entries(request):
    """GET read_Directory_Entry (all entries, also inactive); POST add_Directory_Entry."""
    try:
        if request.method == "POST":
            entry = services_directory.create_entry(actor=request.user, data=_body(request))
            response = JsonResponse(entry_json(entry), status=201)
            response["Location"] = f"/api/v1/kim/DirectoryEntries/{entry.pk}"
            return response
        filters, count = _filters(request)
        services_directory.require_card_issuer(request.user)
        found, total = selectors.admin_entries(filters, limit=count)
    except REFUSALS as exc:
        return _error(exc)
    return JsonResponse({"total": total, "directoryEntries": [entry_json(e) for e in found]})


def _on_entry(request, uid: str, act: Callable[[DirectoryEntry], JsonResponse]) -> JsonResponse:
    """`act(entry)` on the entry `uid` for the card issuer only: 404 if there is none, a
    refusal (field, conflict, role) as its German JSON error."""
    try:
        services_directory.require_card_issuer(request.user)
        entry = selectors.admin_entry(uid)
        if entry is None:
            return json_error(404, NOT_FOUND_TEXT)
        return act(entry)
    except REFUSALS as exc:
        return _error(exc)


@require_http_methods(["GET"])
@api_view(scope=ApiScope.KIM_ADMIN)
def entry_detail(request, uid: str):
    return _on_entry(request, uid, lambda entry: JsonResponse(entry_json(entry)))


@require_http_methods(["PUT"])
@api_view(scope=ApiScope.KIM_ADMIN)
def entry_base(request, uid: str):
    """modify_Directory_Entry: the given baseDirectoryEntry attributes replace the entry's."""

    def update(entry: DirectoryEntry) -> JsonResponse:
        entry = services_directory.update_entry(
            actor=request.user, entry=entry, data=_body(request)
        )
        return JsonResponse(entry_json(entry))

    return _on_entry(request, uid, update)


@require_http_methods(["PUT"])
@api_view(scope=ApiScope.KIM_ADMIN)
def entry_active(request, uid: str):
    """stateSwitch_Directory_Entry: {"active": false} deactivates, true reactivates."""

    def switch(entry: DirectoryEntry) -> JsonResponse:
        data = _body(request)
        if not isinstance(data, dict) or set(data) != {"active"}:
            raise directory_rules.FieldError('Erwartet wird {"active": true|false}.', "active")
        if not isinstance(data["active"], bool):
            raise directory_rules.FieldError("„active“: true oder false.", "active")
        entry = services_directory.set_active(
            actor=request.user, entry=entry, active=data["active"]
        )
        return JsonResponse(entry_json(entry))

    return _on_entry(request, uid, switch)


@require_http_methods(["GET"])
@api_view(scope=ApiScope.KIM_ADMIN)
def entry_versions(request, uid: str):
    """The entry's history: every version with what it looked like, when and by whom."""

    def history(entry: DirectoryEntry) -> JsonResponse:
        return JsonResponse(
            {
                "uid": str(entry.pk),
                "version": entry.version,
                "versions": [
                    {
                        "version": v.version,
                        "change": v.change,
                        "changeDateTime": v.changed_at.isoformat(),
                        "changedBy": v.changed_by.username if v.changed_by else "",
                        "data": v.data,
                    }
                    for v in selectors.entry_versions(entry)
                ],
            }
        )

    return _on_entry(request, uid, history)

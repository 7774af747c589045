"""Assembly of `/api/openapi.json` from the paths each app registers
(`registry.register_api_paths`), with the common error responses added to every operation."""

from __future__ import annotations

import copy

from kvportal.core import registry

#: Shared parameter schema for apps: what `Quarter.parse` accepts —
#: QJJJJ (12026), Q/JJJJ (1/2026), JJJJ-Q (2026-1, 2026-Q1), years 1900–9999.
_YEAR = "(19[0-9]{2}|[2-9][0-9]{3})"
QUARTER_SCHEMA = {
    "type": "string",
    "pattern": f"^([1-4]{_YEAR}|[1-4]/{_YEAR}|{_YEAR}-Q?[1-4])$",
    "example": "12026",
}
#: The same as an optional query filter: empty means "no filter".
QUARTER_FILTER_SCHEMA = {**QUARTER_SCHEMA, "pattern": QUARTER_SCHEMA["pattern"][:-2] + "|)$"}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["fehler"],
    "properties": {
        "fehler": {"type": "string", "description": "deutsche Fehlermeldung"},
        "feld": {"type": "string", "description": "betroffenes Feld, wenn bekannt"},
        "codes": {"type": "array", "items": {"type": "string"}},
        "gruende": {"type": "array", "items": {"type": "string"}},
    },
}

#: Responses every API operation may give (the API's decorator and the /api/ 404 handler).
COMMON_ERRORS = {
    "400": "Ungültige Anfrage: ein Parameter oder Formularfeld ist fehlerhaft (siehe „fehler“)",
    "401": "API-Zugang fehlt, ist ungültig, abgelaufen oder widerrufen",
    "403": "Der API-Zugang gilt nicht für diesen Bereich oder diese Praxis",
    "404": "Nicht vorhanden oder nicht im Rahmen der eigenen Rechte",
}

_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Fehler"}}}
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _with_errors(operation: dict) -> dict:
    responses = operation.setdefault("responses", {})
    for status, description in COMMON_ERRORS.items():
        existing = responses.get(status)
        if existing is None:
            responses[status] = {"description": description, "content": _ERROR_CONTENT}
        elif "content" not in existing:
            text = existing.get("description", "").strip("–- ")
            existing["description"] = text or description
            existing["content"] = _ERROR_CONTENT
    return operation


def build_spec() -> dict:
    paths = copy.deepcopy(registry.api_paths())
    for item in paths.values():
        for method, operation in item.items():
            if method in _METHODS:
                _with_errors(operation)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "kvportal API für Praxissoftware",
            "version": "1",
            "description": "Authentifizierung: persönlicher API-Zugang "
            "(Authorization: Bearer <token>), erstellt im Portal unter Konto → API-Zugänge. "
            "Fehler antworten immer mit JSON und einer deutschen Meldung in „fehler“.",
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Fehler": ERROR_SCHEMA},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }

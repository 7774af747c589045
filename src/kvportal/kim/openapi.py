"""OpenAPI paths of the KIM directory API (FHIR-Directory shape), merged into /api/openapi.json.
The common 400/401/403/404 responses with the shared `Fehler` schema are added by
kvportal.core.openapi_spec."""

from __future__ import annotations

from kvportal.kim.api import PARAMS

_FHIR = "application/fhir+json"
_BUNDLE = {
    "type": "object",
    "required": ["resourceType", "type", "total", "entry"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["Bundle"]},
        "type": {"type": "string", "enum": ["searchset"]},
        "total": {"type": "integer", "minimum": 0},
        "link": {"type": "array", "items": {"type": "object"}},
        "entry": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "fullUrl": {"type": "string"},
                    "resource": {"type": "object"},
                    "search": {"type": "object"},
                },
            },
        },
    },
}

_DESCRIPTIONS = {
    "name": "Name (Teilwort, Groß-/Kleinschreibung egal)",
    "family": "Nachname",
    "given": "Vorname",
    "identifier": "Telematik-ID oder LANR (`system|wert` oder nur der Wert)",
    "specialty": "Fachgebiet (Teilwort)",
    "address-city": "Ort (Teilwort)",
    "address-postalcode": "PLZ (Anfang)",
    "address": "KIM-Adresse, `mailto:` davor erlaubt",
    "organization": "Organization/org-<id>",
    "_count": "höchstens so viele Treffer (1–100, Standard 20)",
}

_SUMMARY = {
    "Organization": "Praxen/Einrichtungen suchen (SMC-B, Eintrag der KV als Kartenherausgeber)",
    "Practitioner": "Ärztinnen/Ärzte suchen (nur mit Einwilligung veröffentlicht)",
    "PractitionerRole": "Rollen der Ärztinnen/Ärzte mit Praxis, Fachgebiet und KIM-Endpunkten",
    "Endpoint": "KIM-Adressen mit gültigem Verschlüsselungszertifikat (Erweiterung "
    "encryption-certificate, base64 DER)",
}

_PREFIX = {
    "Organization": "org-",
    "Practitioner": "pra-",
    "PractitionerRole": "role-",
    "Endpoint": "kim-",
}


def _param(name: str) -> dict:
    # the API refuses (400) a NUL character and more than 200 characters in any text parameter
    schema: dict = {"type": "string", "maxLength": 200, "pattern": "^[^\\x00]*$"}
    if name == "organization":
        schema = {"type": "string", "pattern": "^((Organization/)?(org-)?[0-9]+)?$"}
    if name == "_count":
        schema = {"type": "integer", "minimum": 1, "maximum": 100}
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": _DESCRIPTIONS[name],
        "schema": schema,
    }


def _directory_paths() -> dict:
    from kvportal.kim.openapi_directory import PATHS as DIRECTORY

    return DIRECTORY


def _paths() -> dict:
    paths = {}
    for resource, params in PARAMS.items():
        paths[f"/kim/fhir/{resource}"] = {
            "get": {
                "tags": ["KIM-Verzeichnis"],
                "summary": _SUMMARY[resource],
                "operationId": f"kimSearch{resource}",
                "parameters": [_param(p) for p in sorted(params)],
                "responses": {
                    "200": {
                        "description": "Suchergebnis (FHIR R4 Bundle, searchset)",
                        "content": {_FHIR: {"schema": _BUNDLE}},
                    },
                    "400": {"description": "unbekannter oder fehlerhafter Suchparameter"},
                },
            }
        }
        paths[f"/kim/fhir/{resource}/{{id}}"] = {
            "get": {
                "tags": ["KIM-Verzeichnis"],
                "summary": f"{resource} lesen",
                "operationId": f"kimRead{resource}",
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": f"^{_PREFIX[resource]}[0-9]+$"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": f"FHIR R4 {resource}",
                        "content": {_FHIR: {"schema": {"type": "object"}}},
                    }
                },
            }
        }
    return paths


PATHS = {**_paths(), **_directory_paths()}

"""OpenAPI paths of the directory administration (KV as card issuer), in the shape of gematik's
I_Directory_Administration; merged into /api/openapi.json with the KIM paths. The patterns
are the ones `kim/directory_rules.py` checks, so a schema-valid request is refused only on
domain grounds (409 Telematik-ID exists, 422 certificate unreadable/expired)."""

from __future__ import annotations

from kvportal.kim.api_directory import MAX_COUNT
from kvportal.kim.directory_rules import MAX_CERTIFICATE, TEXT_FIELDS

_TAG = ["KIM-Verzeichnispflege (KV)"]
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Fehler"}}}
_NO_CONTROL = "^[^\\x00-\\x1f\\x7f]*$"
_DESCRIPTIONS = {
    "displayName": "Anzeigename (Pflicht beim Anlegen)",
    "title": "Titel",
    "givenName": "Vorname",
    "sn": "Nachname",
    "organization": "Praxis/Einrichtung",
    "streetAddress": "Straße und Hausnummer",
    "postalCode": "PLZ (fünf Ziffern oder leer)",
    "localityName": "Ort",
    "specialization": "Fachgebiet(e)",
    "department": "Abteilung/Bereich (macht ähnliche Adressen unterscheidbar)",
    "description": "Beschreibung",
}


def _text(key: str) -> dict:
    limit = TEXT_FIELDS[key][1]
    schema = {
        "type": "string",
        "maxLength": limit,
        "pattern": _NO_CONTROL,
        "description": _DESCRIPTIONS[key],
    }
    if key == "postalCode":
        schema["pattern"] = "^([0-9]{5})?$"
    if key == "displayName":
        schema["pattern"] = "^[^\\x00-\\x1f\\x7f]*[^\\x00-\\x1f\\x7f\\s][^\\x00-\\x1f\\x7f]*$"
    return schema


_CERT = {
    "type": "string",
    "nullable": True,
    "maxLength": MAX_CERTIFICATE,
    "pattern": "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
    "description": "Verschlüsselungszertifikat (C.HCI.ENC/C.HP.ENC), DER Base64; "
    "leer oder null entfernt es",
}
_TELEMATIK_ID = {
    "type": "string",
    "pattern": "^[0-9]{1,2}-[0-9A-Za-z.\\-]{1,125}$",
    "example": "1-2123456700",
}

CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["telematikID", "displayName"],
    "properties": {
        "telematikID": _TELEMATIK_ID,
        "entryType": {
            "type": "string",
            "enum": ["organization"],
            "description": "nur organization; Einträge von Ärztinnen/Ärzten entstehen "
            "mit deren Einwilligung",
        },
        **{key: _text(key) for key in TEXT_FIELDS},
        "userCertificate": _CERT,
    },
}
UPDATE = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {**{key: _text(key) for key in TEXT_FIELDS}, "userCertificate": _CERT},
}
ENTRY = {
    "type": "object",
    "required": [
        "uid",
        "entryType",
        "telematikID",
        "active",
        "published",
        "version",
        "changeDateTime",
        "userCertificate",
        "certificateNotAfter",
        *TEXT_FIELDS,
    ],
    "properties": {
        "uid": {"type": "string"},
        "entryType": {"type": "string", "enum": ["organization", "practitioner"]},
        "telematikID": {"type": "string"},
        "active": {"type": "boolean"},
        "published": {
            "type": "boolean",
            "description": "in Suche und FHIR-API sichtbar (aktiv; bei Ärztinnen/"
            "Ärzten nur mit Einwilligung)",
        },
        "version": {"type": "integer", "minimum": 0},
        "changeDateTime": {"type": "string", "format": "date-time"},
        "userCertificate": {"type": "string"},
        "certificateNotAfter": {"type": "string"},
        **{key: {"type": "string"} for key in TEXT_FIELDS},
    },
}
_UID = {
    "name": "uid",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, schema: dict, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_FILTER = {"type": "string", "maxLength": 200, "pattern": "^[^\\x00]*$"}

PATHS = {
    "/kim/DirectoryEntries": {
        "get": {
            "tags": _TAG,
            "operationId": "kimReadDirectoryEntries",
            "summary": "Verzeichniseinträge lesen (auch inaktive; read_Directory_Entry)",
            "parameters": [
                _query("telematikID", _FILTER, "Telematik-ID (genau)"),
                _query("displayName", _FILTER, "Anzeigename (Teilwort)"),
                _query("localityName", _FILTER, "Ort (Teilwort)"),
                _query("postalCode", _FILTER, "PLZ (Anfang)"),
                _query(
                    "entryType",
                    {"type": "string", "enum": ["", "organization", "practitioner"]},
                    "Art",
                ),
                _query("active", {"type": "string", "enum": ["", "true", "false"]}, "Zustand"),
                _query(
                    "_count",
                    {"type": "integer", "minimum": 1, "maximum": MAX_COUNT},
                    f"höchstens so viele Einträge (1–{MAX_COUNT}, Standard {MAX_COUNT})",
                ),
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["total", "directoryEntries"],
                        "properties": {
                            "total": {"type": "integer", "minimum": 0},
                            "directoryEntries": {"type": "array", "items": ENTRY},
                        },
                    },
                    "Einträge (höchstens _count) und Gesamtzahl",
                ),
            },
        },
        "post": {
            "tags": _TAG,
            "operationId": "kimAddDirectoryEntry",
            "summary": "Eintrag einer Praxis/Einrichtung anlegen (add_Directory_Entry); Version 1",
            "requestBody": {"required": True, "content": {"application/json": {"schema": CREATE}}},
            "responses": {
                "201": _json(ENTRY, "angelegt"),
                "409": {
                    "description": "Für die Telematik-ID gibt es schon einen Eintrag",
                    "content": _ERROR,
                },
                "422": {"description": "Zertifikat unlesbar oder abgelaufen", "content": _ERROR},
            },
        },
    },
    "/kim/DirectoryEntries/{uid}": {
        "get": {
            "tags": _TAG,
            "operationId": "kimReadDirectoryEntry",
            "summary": "Einen Verzeichniseintrag lesen",
            "parameters": [_UID],
            "responses": {"200": _json(ENTRY, "der Eintrag")},
        }
    },
    "/kim/DirectoryEntries/{uid}/baseDirectoryEntries": {
        "put": {
            "tags": _TAG,
            "operationId": "kimModifyDirectoryEntry",
            "summary": "Basiseintrag ändern (modify_Directory_Entry): angegebene Attribute "
            "ersetzen; jede Änderung ist eine neue Version",
            "parameters": [_UID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": UPDATE}}},
            "responses": {
                "200": _json(ENTRY, "geändert (oder unverändert, dann ohne neue Version)"),
                "422": {"description": "Zertifikat unlesbar oder abgelaufen", "content": _ERROR},
            },
        }
    },
    "/kim/DirectoryEntries/{uid}/active": {
        "put": {
            "tags": _TAG,
            "operationId": "kimStateSwitchDirectoryEntry",
            "summary": "Eintrag deaktivieren/aktivieren (stateSwitch_Directory_Entry)",
            "parameters": [_UID],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["active"],
                            "properties": {"active": {"type": "boolean"}},
                        }
                    }
                },
            },
            "responses": {"200": _json(ENTRY, "neuer Zustand")},
        }
    },
    "/kim/DirectoryEntries/{uid}/versions": {
        "get": {
            "tags": _TAG,
            "operationId": "kimDirectoryEntryVersions",
            "summary": "Versionen eines Eintrags (wer hat wann was geändert)",
            "parameters": [_UID],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["uid", "version", "versions"],
                        "properties": {
                            "uid": {"type": "string"},
                            "version": {"type": "integer"},
                            "versions": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": [
                                        "version",
                                        "change",
                                        "changeDateTime",
                                        "changedBy",
                                        "data",
                                    ],
                                    "properties": {
                                        "version": {"type": "integer", "minimum": 1},
                                        "change": {"type": "string"},
                                        "changeDateTime": {"type": "string", "format": "date-time"},
                                        "changedBy": {"type": "string"},
                                        "data": {"type": "object"},
                                    },
                                },
                            },
                        },
                    },
                    "alle Versionen, älteste zuerst",
                )
            },
        }
    },
}

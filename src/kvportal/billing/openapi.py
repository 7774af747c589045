"""OpenAPI paths of the billing API (merged into /api/openapi.json by kvportal.core)."""

from __future__ import annotations

from kvportal.core.openapi_spec import QUARTER_FILTER_SCHEMA, QUARTER_SCHEMA

_ERROR = {
    "description": "Fehler (deutscher Text in „fehler“)",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "fehler": {"type": "string"},
                    "codes": {"type": "array", "items": {"type": "string"}},
                    "gruende": {"type": "array", "items": {"type": "string"}},
                    "geloescht_am": {"type": "string", "format": "date-time"},
                },
            }
        }
    },
}

_SUBMISSION = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "bsnr": {"type": "string", "example": "123456699"},
        "quartal": {"type": "string", "example": "1/2026"},
        "quartal_kvdt": {"type": "string", "example": "12026"},
        "dateiname": {"type": "string"},
        "dateiart": {"type": "string", "enum": ["con", "xkm"]},
        "groesse": {"type": "integer"},
        "sha256": {"type": "string"},
        "eingegangen": {"type": "string", "format": "date-time"},
        "eingereicht_von": {"type": "string"},
        "weg": {"type": "string", "enum": ["web", "api"]},
        "status": {
            "type": "string",
            "enum": ["pending", "checking", "accepted", "rejected", "kv_check"],
        },
        "status_text": {"type": "string"},
        "fortschritt": {"type": "integer", "minimum": 0, "maximum": 100},
        "abgeschlossen": {"type": "boolean"},
        "pruefergebnis": {
            "type": "integer",
            "nullable": True,
            "description": "0 fehlerfrei, 1 Warnungen, 2 fehlerhaft, 3 abgebrochen",
        },
        "zeitpunkt": {"type": "string", "enum": ["early", "on_time", "late"]},
        "verspaetet": {"type": "boolean"},
        "gueltig": {"type": "boolean"},
        "nachlieferung": {"type": "boolean"},
        "ersetzt_durch_neuere": {"type": "boolean"},
        "ablehnungsgruende": {"type": "array", "items": {"type": "string"}},
        "erklaerung_zur_abrechnung": {"type": "object", "nullable": True},
        "geloescht_am": {
            "type": "string",
            "format": "date-time",
            "nullable": True,
            "description": "§ 304 SGB V: Datei und Protokoll gelöscht (Protokoll/PDFs: 404)",
        },
        "links": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]

BSNR_SCHEMA = {"type": "string", "pattern": "^[0-9]{9}$", "example": "951234500"}


def _upload_body(*, datei_description: str | None = None, **extra: dict) -> dict:
    """Multipart body of a KVDT upload (submission or test run): BSNR, quarter, file."""
    datei: dict = {"type": "string", "format": "binary"}
    if datei_description:
        datei["description"] = datei_description
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["bsnr", "quartal", "datei"],
                    "properties": {
                        "bsnr": BSNR_SCHEMA,
                        "quartal": {
                            **QUARTER_SCHEMA,
                            "description": "QJJJJ (12026) oder Q/JJJJ (1/2026)",
                        },
                        "datei": datei,
                        **extra,
                    },
                }
            }
        },
    }


PATHS = {
    "/billing/submissions/": {
        "get": {
            "summary": "Eigene Abrechnungseinreichungen auflisten",
            "tags": ["Abrechnung"],
            "parameters": [
                {"name": "bsnr", "in": "query", "schema": {"type": "string"}},
                {"name": "quartal", "in": "query", "schema": QUARTER_FILTER_SCHEMA},
            ],
            "responses": {
                "200": {
                    "description": "Einreichungen der BSNR mit Abrechnungsrecht",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "einreichungen": {"type": "array", "items": _SUBMISSION}
                                },
                            }
                        }
                    },
                },
                "401": _ERROR,
                "403": _ERROR,
            },
        },
        "post": {
            "summary": "Abrechnungsdatei einreichen (.con oder .con.xkm)",
            "description": "Die Prüfung läuft im Hintergrund; Status über den Link „self“ "
            "abfragen, bis „abgeschlossen“ true ist.",
            "tags": ["Abrechnung"],
            "requestBody": _upload_body(
                erklaerung={
                    "type": "boolean",
                    "description": "Erklärung zur Abrechnung mit abgeben "
                    "(nur unterschriftsberechtigte Ärzte)",
                }
            ),
            "responses": {
                "201": {
                    "description": "Angenommen zur Prüfung",
                    "content": {"application/json": {"schema": _SUBMISSION}},
                },
                "400": _ERROR,
                "401": _ERROR,
                "403": _ERROR,
                "409": _ERROR,
                "413": _ERROR,
                "422": _ERROR,
            },
        },
    },
    "/billing/submissions/{id}/": {
        "get": {
            "summary": "Status einer Einreichung",
            "tags": ["Abrechnung"],
            "parameters": _ID,
            "responses": {
                "200": {
                    "description": "Einreichung",
                    "content": {"application/json": {"schema": _SUBMISSION}},
                },
                "404": _ERROR,
            },
        }
    },
    "/billing/submissions/{id}/protocol/": {
        "get": {
            "summary": "Prüfprotokoll (JSON: status, messages, stats)",
            "tags": ["Abrechnung"],
            "parameters": _ID,
            "responses": {"200": {"description": "Einreichung mit „protokoll“"}, "404": _ERROR},
        }
    },
    "/billing/submissions/{id}/protocol.pdf": {
        "get": {
            "summary": "Prüfprotokoll als PDF",
            "tags": ["Abrechnung"],
            "parameters": _ID,
            "responses": {
                "200": {"description": "PDF", "content": {"application/pdf": {}}},
                "404": _ERROR,
                "409": _ERROR,
            },
        }
    },
    "/billing/submissions/{id}/receipt.pdf": {
        "get": {
            "summary": "Empfangsbestätigung als PDF",
            "tags": ["Abrechnung"],
            "parameters": _ID,
            "responses": {
                "200": {"description": "PDF", "content": {"application/pdf": {}}},
                "404": _ERROR,
            },
        }
    },
    "/billing/deadlines/": {
        "get": {
            "summary": "Abgabefristen der aktuellen Quartale",
            "tags": ["Abrechnung"],
            "responses": {"200": {"description": "Fristen"}},
        }
    },
    "/billing/test-runs/": {
        "get": {
            "summary": "Testläufe (Testabrechnung) der eigenen Betriebsstätten",
            "tags": ["Abrechnung"],
            "responses": {"200": {"description": "Liste"}, "401": _ERROR, "403": _ERROR},
        },
        "post": {
            "summary": "Testabrechnung: unverschlüsselte .con prüfen (keine Einreichung)",
            "tags": ["Abrechnung"],
            "requestBody": _upload_body(datei_description="unverschlüsselte KVDT-Datei (.con)"),
            "responses": {
                "201": {"description": "Testlauf angelegt"},
                "400": _ERROR,
                "403": _ERROR,
                "413": _ERROR,
                "422": _ERROR,
            },
        },
    },
    "/billing/test-runs/{id}/": {
        "get": {
            "summary": "Testlauf mit Vergleich neu/behoben/unverändert",
            "tags": ["Abrechnung"],
            "parameters": _ID,
            "responses": {"200": {"description": "Testlauf"}, "404": _ERROR},
        }
    },
}

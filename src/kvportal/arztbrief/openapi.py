"""OpenAPI path of the eArztbrief proof API (merged into /api/openapi.json by kvportal.core).
The patterns are the ones the API checks (services_proof), so schema-valid requests are
refused only on domain grounds (403, 422)."""

from __future__ import annotations

from kvportal.arztbrief.services_proof import ADDRESS_PATTERN, MAX_RECIPIENTS

_ADDRESS = {"type": "string", "maxLength": 254, "pattern": f"^{ADDRESS_PATTERN}$"}
_ERROR = {"$ref": "#/components/schemas/Fehler"}
_ROW = {
    "type": "object",
    "required": ["id", "empfaenger_praxis", "empfaenger", "lanr", "gemeldet"],
    "properties": {
        "id": {"type": "integer"},
        "empfaenger_praxis": {
            "type": "string",
            "description": "BSNR der empfangenden Praxis (Portal-Postfach), sonst die Adresse",
        },
        "empfaenger": {"type": "array", "items": {"type": "string"}},
        "lanr": {"type": "string", "description": "gezählte Ärztin/gezählter Arzt"},
        "gemeldet": {"type": "string", "format": "date-time"},
    },
}

_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["richtung", "absender", "empfaenger", "signatur", "digest"],
    "properties": {
        "richtung": {
            "type": "string",
            "enum": ["versand", "empfang"],
            "description": "versand: GOP 86900 (Absender-Praxis meldet); "
            "empfang: GOP 86901 (empfangende Praxis meldet)",
        },
        "absender": {**_ADDRESS, "description": "KIM-Adresse des Absenders"},
        "empfaenger": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_RECIPIENTS,
            "items": _ADDRESS,
            "description": "KIM-Adressen der Empfänger; gezählt wird je Empfänger-Praxis",
        },
        "signatur": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100000,
            "pattern": "^(<?[0-9A-Fa-f]+>?|[A-Za-z0-9+/]+={0,2})$",
            "description": "CMS-SignedData der PAdES-Signatur (/Contents des "
            "Signaturwörterbuchs), hexadezimal wie im PDF oder Base64",
        },
        "digest": {
            "type": "string",
            "pattern": "^[0-9A-Fa-f]{64}$",
            "description": "SHA-256 der signierten Byte-Bereiche (/ByteRange), hexadezimal",
        },
        "empfaenger_lanr": {
            "type": "string",
            "pattern": "^([0-9]{9})?$",
            "description": "nur bei empfang: LANR der empfangenden Ärztin/des Arztes "
            "(Standard: Inhaber des API-Zugangs)",
        },
    },
}

_RESULT = {
    "type": "object",
    "required": ["gezaehlt", "bereits_gezaehlt", "unterzeichner"],
    "properties": {
        "gezaehlt": {"type": "array", "items": _ROW},
        "bereits_gezaehlt": {"type": "array", "items": _ROW},
        "unterzeichner": {"type": "string"},
    },
}

PATHS = {
    "/arztbrief/nachweise/": {
        "post": {
            "tags": ["eArztbrief"],
            "summary": "QES-Nachweis eines eArztbriefs melden (Clientmodul, ohne Briefinhalt)",
            "description": "Das Portal prüft die CMS-Signatur über den gemeldeten Hashwert "
            "(messageDigest), die Zertifikatskette der QES und ordnet den registrierten eHBA "
            "der LANR zu. Gezählt wird einmal je Brief (digest) und Empfänger-Praxis; eine "
            "Wiederholung antwortet 200 mit „bereits_gezaehlt“, ebenso ein Brief, der schon "
            "über das Web-Postfach des Portals gezählt ist (gleiche QES).",
            "operationId": "arztbriefNachweis",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _BODY}},
            },
            "responses": {
                "201": {
                    "description": "gezählt",
                    "content": {"application/json": {"schema": _RESULT}},
                },
                "200": {
                    "description": "bereits gezählt (idempotent)",
                    "content": {"application/json": {"schema": _RESULT}},
                },
                "422": {
                    "description": "QES ungültig, eHBA nicht registriert oder Meldung "
                    "fachlich nicht zulässig",
                    "content": {"application/json": {"schema": _ERROR}},
                },
            },
        }
    }
}

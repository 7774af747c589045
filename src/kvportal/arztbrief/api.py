# Security: bearer token with scope „arztbrief“ (accounts.api.api_view); a report counts only for
# the token holder's own practice mailboxes and only with a verified QES proof (services_proof).
"""API for the client module: report the QES proof of an eArztbrief sent or received
(POST /api/v1/arztbrief/nachweise/). Mounted at /api/v1/arztbrief/."""

from __future__ import annotations

import json

from django.http import JsonResponse
from django.views.decorators.http import require_POST

from kvportal.accounts.api import api_view, json_error
from kvportal.accounts.constants import ApiScope
from kvportal.arztbrief import services_proof

FIELDS = {"richtung", "absender", "empfaenger", "signatur", "digest", "empfaenger_lanr"}
REQUIRED = ("richtung", "absender", "empfaenger", "signatur", "digest")
#: the request body: a CMS signature of a QES is a few kB; more is refused
MAX_BODY = 256 * 1024


def _row(n) -> dict:
    return {
        "id": n.pk,
        "empfaenger_praxis": n.recipient_key,
        "empfaenger": n.recipient_addresses,
        "lanr": n.lanr,
        "gemeldet": n.reported_at.isoformat(),
    }


def _body(request) -> dict:
    if len(request.body) > MAX_BODY:
        raise services_proof.ProofRefused(
            f"Die Meldung ist größer als {MAX_BODY // 1024} kB.", status=400
        )
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise services_proof.ProofRefused("Erwartet wird ein JSON-Objekt.", status=400) from exc
    if not isinstance(data, dict):
        raise services_proof.ProofRefused("Erwartet wird ein JSON-Objekt.", status=400)
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise services_proof.ProofRefused(
            f"Unbekanntes Feld „{unknown[0]}“.", feld=unknown[0], status=400
        )
    for name in REQUIRED:
        if name not in data:
            raise services_proof.ProofRefused(f"{name}: Pflichtfeld fehlt.", feld=name, status=400)
    for name in FIELDS - {"empfaenger"}:
        if name in data and not isinstance(data[name], str):
            raise services_proof.ProofRefused(f"{name}: Text erwartet.", feld=name, status=400)
    if not isinstance(data["empfaenger"], list) or not all(
        isinstance(a, str) for a in data["empfaenger"]
    ):
        raise services_proof.ProofRefused(
            "empfaenger: Liste von KIM-Adressen erwartet.", feld="empfaenger", status=400
        )
    return data


@require_POST
@api_view(scope=ApiScope.ARZTBRIEF)
def nachweise(request):
    try:
        data = _body(request)
        outcome = services_proof.record_proof(
            actor=request.user,
            richtung=data["richtung"],
            sender=data["absender"],
            recipients=data["empfaenger"],
            signature=data["signatur"],
            digest=data["digest"],
            receiver_lanr=data.get("empfaenger_lanr", ""),
        )
    except services_proof.ProofRefused as exc:
        extra = {"feld": exc.feld} if exc.feld else {}
        if exc.gruende:
            extra["gruende"] = exc.gruende
        return json_error(exc.status, exc.message, **extra)
    return JsonResponse(
        {
            "gezaehlt": [_row(n) for n in outcome.created],
            "bereits_gezaehlt": [_row(n) for n in outcome.existing],
            "unterzeichner": outcome.signer_name,
        },
        status=201 if outcome.created else 200,
    )
